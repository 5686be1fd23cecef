"""Start-up checks shared by `check`, `serve` and `doctor`: one sentence per problem, with a fix.

They read secrets through the one resolver (`integration.secrets`), so `check` passes exactly
when the server would start. No I/O beyond that resolver (which may call SSM).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Mapping

from integration.config import HUBSPOT, Config, ConfigError, Tenant

LOG_LEVEL_VARIABLE = "GAMEFILM_LOG_LEVEL"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
QUEUE_URL_VARIABLE = "GAMEFILM_QUEUE_URL"


@dataclass(frozen=True)
class Problem:
    """One thing that stops (`fatal`) or weakens a start, said as one sentence."""

    sentence: str
    fatal: bool = True
    signing: bool = False  # a webhook signing secret: `serve --allow-missing-secrets` accepts it


def signing_secret_envs(tenant: Tenant) -> tuple[str, ...]:
    """Variables that verify the tenant's webhooks: without one every webhook is refused."""
    crm = (tenant.client_secret_env,) if tenant.crm == HUBSPOT and tenant.client_secret_env else tenant.shared_secret_envs
    zoom = (tenant.zoom_secret_token_env,) if tenant.zoom_secret_token_env else ()
    return tuple(dict.fromkeys(crm + tenant.recorder_secret_envs + zoom))


def credential_envs(tenant: Tenant) -> tuple[str, ...]:
    """Variables a live (not dry-run) tenant needs to call its CRM."""
    if tenant.crm == HUBSPOT:
        names: tuple[str | None, ...] = (tenant.access_token_env,)
    else:
        names = {
            "jwt": (tenant.consumer_key_env, tenant.private_key_env),
            "client_credentials": (tenant.consumer_key_env, tenant.consumer_secret_env),
            "session": (tenant.session_id_env,),
        }[tenant.auth]
    return tuple(n for n in names if n)


def secret_envs(tenant: Tenant) -> tuple[str, ...]:
    """Every variable the tenant names, in a stable order."""
    names = [getattr(tenant, f.name) for f in fields(tenant) if f.name.endswith("_env")] + list(tenant.shared_secret_envs) + list(tenant.recorder_secret_envs)
    return tuple(dict.fromkeys(n for n in names if n))


def problems(cfg: Config, secrets: Mapping[str, str]) -> list[Problem]:
    """Everything `check` reports; `secrets` is the resolver (or any mapping in tests)."""
    found: list[Problem] = []
    for tenant in cfg.tenants:
        where = f"{cfg.source}: tenants[{tenant.id}]"
        for name in signing_secret_envs(tenant):
            if not secrets.get(name):
                key, sender = _signing_key(tenant, name)
                found.append(Problem(f"{where}.{key}: {name} is not set, so every webhook from this {sender} "
                                     f"would be refused; set {name} (or its SSM parameter)", signing=True))  # fmt: skip
        needed = set(credential_envs(tenant))
        for name in secret_envs(tenant):
            if secrets.get(name) or name in signing_secret_envs(tenant):
                continue
            key = f"{where}.{_key_naming(tenant, name)}"
            if name in needed and not tenant.dry_run:
                found.append(Problem(f"{key}: {name} is not set, and this live tenant needs it to call {tenant.crm}; set it or use dry_run = true"))
            elif name in needed:
                found.append(Problem(f"{key}: {name} is not set, so the dry run plans without reading the CRM", fatal=False))
            else:
                found.append(Problem(f"{key}: {name} is not set (optional)", fatal=False))
    if cfg.worker.mode == "sqs" and not (cfg.worker.queue_url or secrets.get(QUEUE_URL_VARIABLE)):
        found.append(Problem(f"{cfg.source}: worker.queue_url: needed when worker.mode = \"sqs\"; set it to the "
                             f"QueueUrl output of infra/queue.json (or set {QUEUE_URL_VARIABLE})"))  # fmt: skip
    return found


def _signing_key(tenant: Tenant, variable: str) -> tuple[str, str]:
    """(config key, who signs with it) of a signing secret's variable."""
    if variable == tenant.zoom_secret_token_env:
        return "zoom_secret_token_env", "Zoom app"
    if variable in tenant.recorder_secret_envs:
        return "recorder_secret_envs", "recorder"
    return ("client_secret_env" if tenant.crm == HUBSPOT else "shared_secret_envs"), f"{tenant.crm} account"


def _key_naming(tenant: Tenant, variable: str) -> str:
    """The config key (`access_token_env`, ...) whose value is `variable`."""
    if variable in tenant.recorder_secret_envs:
        return "recorder_secret_envs"
    return next((f.name for f in fields(tenant) if f.name.endswith("_env") and getattr(tenant, f.name) == variable), "shared_secret_envs")


def log_level(environ: Mapping[str, str], default: str = "INFO") -> int:
    """The level named by GAMEFILM_LOG_LEVEL; ConfigError naming the choices otherwise."""
    value = (environ.get(LOG_LEVEL_VARIABLE) or default).strip().upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"{LOG_LEVEL_VARIABLE}={environ.get(LOG_LEVEL_VARIABLE)!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
    return int(logging.getLevelName(value))


def port(value: str, source: str = "PORT") -> int:
    """A TCP port from the environment or the command line; ConfigError saying what is valid."""
    text = value.strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 65535:
        return int(text)
    raise ConfigError(f"{source}={value!r} is not a port number; use a whole number from 1 to 65535")
