"""Secrets from SSM Parameter Store, laid over the environment that tenants read them from.

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
import re
import threading
import time
from collections import ChainMap
from typing import Any, Callable, Mapping

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
