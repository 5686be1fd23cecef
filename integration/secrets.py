"""The one secret resolver: the environment, with SSM Parameter Store laid over it.

The app, the worker's CRM gateways, `check`, `doctor` and `serve` all read secrets through
`SecretResolver` (a read-only mapping), so `check` sees exactly what the server will.

Tenants name environment variables (`client_secret_env = "GAMEFILM_HUBSPOT_CLIENT_SECRET"`).
On Lambda the values are SecureString parameters under one path, one per variable name:
`/gamefilm/production/GAMEFILM_HUBSPOT_CLIENT_SECRET`. `GAMEFILM_SSM_PATH` names that path;
without it (local runs, tests) the environment is returned unchanged and boto3 is not imported.

Values are read with one paginated GetParametersByPath per container and re-read once they
are `max_age` seconds old, so a rotated secret is picked up without a redeploy. They live only
in the returned mapping: never in `os.environ` (inherited by child processes), never logged.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import ChainMap
from typing import Any, Callable, Iterable, Iterator, Mapping

log = logging.getLogger(__name__)

PATH_VARIABLE = "GAMEFILM_SSM_PATH"
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

_cache: dict[str, tuple[float, dict[str, str]]] = {}
_lock = threading.Lock()


class SecretsError(Exception):
    """The parameters could not be read and no earlier copy exists (names the path, not values)."""


def environ_with_ssm(
    environ: Mapping[str, str],
    *,
    client: Any = None,
    clock: Callable[[], float] = time.monotonic,
    max_age: float = 300.0,
) -> Mapping[str, str]:
    """`environ` overlaid with the parameters under `environ[GAMEFILM_SSM_PATH]`, if set.

    A parameter wins over an environment variable of the same name: in production the
    parameter store is the source of truth. A failed refresh keeps serving the values read
    before (and logs the error's type); a failed first read raises SecretsError.
    """
    path = environ.get(PATH_VARIABLE)
    if not path:
        return environ
    path = "/" + path.strip("/")
    with _lock:
        cached = _cache.get(path)
        if cached is not None and clock() - cached[0] < max_age:
            return ChainMap(cached[1], environ)  # type: ignore[arg-type]
        try:
            values = _read(path, client)
        except Exception as exc:
            if cached is None:
                raise SecretsError(f"could not read SSM parameters under {path}: {type(exc).__name__}") from exc
            log.warning("could not refresh SSM parameters under %s (%s): keeping the earlier values", path, type(exc).__name__)
            values = cached[1]
        _cache[path] = (clock(), values)
    return ChainMap(values, environ)  # type: ignore[arg-type]


class SecretResolver(Mapping[str, str]):
    """Live view of `environ` (default `os.environ`) overlaid with SSM when GAMEFILM_SSM_PATH is set.

    Each lookup goes through the cache above, so a long-running process picks up a rotated
    parameter after `max_age` seconds. Empty values count as unset.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
        max_age: float = 300.0,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._client = client
        self._clock = clock
        self._max_age = max_age

    @property
    def ssm_path(self) -> str | None:
        return self._environ.get(PATH_VARIABLE) or None

    def describe(self) -> str:
        """Where values come from, for `check` and start-up messages."""
        path = self.ssm_path
        return f"SSM parameters under {path} over the environment" if path else "the environment"

    def _current(self) -> Mapping[str, str]:
        return environ_with_ssm(self._environ, client=self._client, clock=self._clock, max_age=self._max_age)

    def __getitem__(self, name: str) -> str:
        return self._current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __contains__(self, name: object) -> bool:
        return name in self._current()

    def secret(self, name: str | None) -> str | None:
        """The value named `name`, or None when the name is empty or the value unset/empty."""
        return (self._current().get(name) or None) if name else None

    def missing(self, names: Iterable[str | None]) -> list[str]:
        """The names among `names` with no value (raises SecretsError if SSM cannot be read)."""
        current = self._current()
        return [n for n in names if n and not current.get(n)]


def resolver(environ: Mapping[str, str] | None = None) -> SecretResolver:
    """`environ` itself when it already is a resolver, else a resolver over it."""
    if isinstance(environ, SecretResolver):
        return environ
    return SecretResolver(environ)


def clear_cache() -> None:
    """Forget every value read (tests; a forced re-read after a rotation)."""
    with _lock:
        _cache.clear()


def _read(path: str, client: Any) -> dict[str, str]:
    if client is None:
        import boto3  # lazily: only deployments that set GAMEFILM_SSM_PATH pay for it

        client = boto3.client("ssm")
    values: dict[str, str] = {}
    params: dict[str, Any] = {"Path": path, "Recursive": False, "WithDecryption": True, "MaxResults": 10}
    while True:
        page = client.get_parameters_by_path(**params)
        for parameter in page.get("Parameters", []):
            name = parameter["Name"].rsplit("/", 1)[-1]
            if _ENV_NAME.match(name):
                values[name] = parameter["Value"]
            else:
                log.warning("SSM parameter %s ignored: its last segment is not an environment variable name", parameter["Name"])
        if not page.get("NextToken"):
            return values
        params["NextToken"] = page["NextToken"]
