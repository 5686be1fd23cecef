"""The one place that builds the application from config (`create_app(overrides)`).

`app` is a lazy WSGI callable for Zappa: nothing (config, store, SDKs) is built or even
imported at import time, so a Lambda cold start pays only for what the first request needs,
and builds it with the garbage collector paused (see `_LazyApp`).
"""
from __future__ import annotations

import functools
import gc
import logging
import os
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:
    from flask import Flask

    from integration.background import BackgroundWorker
    from integration.config import Config, Tenant
    from integration.gateway import CrmGateway
    from integration.ledger import ReviewLedger
    from integration.services import Services
    from integration.store import Store
    from integration.worker import Worker
    from integration.worker_process import WorkerProcess

DEFAULT_CONFIG = "config/gamefilm.example.toml"


def config_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("GAMEFILM_CONFIG") or DEFAULT_CONFIG


def build_store(cfg: Config) -> Store:
    if cfg.store.backend == "dynamodb":
        from integration.store.dynamodb import DynamoStore

        return DynamoStore.from_config(cfg.store)
    from integration.store.sqlite import SqliteStore

    return SqliteStore(cfg.store.path)


def real_gateway(tenant: Tenant, environ: Mapping[str, str]) -> CrmGateway:
    """The CRM adapter for a tenant; dry-run tenants wrap it only when credentials exist."""
    from integration.gateway.dry_run import DryRunGateway

    reader: CrmGateway | None = None
    if _has_credentials(tenant, environ):
        if tenant.crm == "hubspot":
            from integration.gateway.hubspot import HubSpotGateway

            reader = HubSpotGateway.from_tenant(tenant, environ)
        else:
            from integration.gateway.salesforce import SalesforceGateway

            reader = SalesforceGateway.from_tenant(tenant, environ)
    if tenant.dry_run:
        return DryRunGateway(tenant.crm, reader=reader)
    if reader is None:
        from integration.config import ConfigError

        raise ConfigError(f"tenant {tenant.id}: credentials are not set in the environment")
    return reader


def _has_credentials(tenant: Tenant, environ: Mapping[str, str]) -> bool:
    if tenant.crm == "hubspot":
        return bool(tenant.secret(tenant.access_token_env, environ))
    needed = {
        "jwt": tenant.private_key_env,
        "client_credentials": tenant.consumer_secret_env,
        "session": tenant.session_id_env,
    }[tenant.auth]
    return bool(tenant.instance_url and tenant.secret(needed, environ))


def build_services(overrides: Mapping[str, Any] | None = None) -> Services:
    from integration import config as config_mod
    from integration.intake import Intake
    from integration.services import Services

    o = dict(overrides or {})
    if "environ" in o:
        environ = o["environ"]
    else:
        from integration.secrets import SecretResolver

        environ = SecretResolver()  # env, plus SSM when GAMEFILM_SSM_PATH is set; rotation-aware
    cfg: Config = o.get("config") or config_mod.load(config_path(o.get("config_path")))
    clock = o.get("clock", time.time)
    store = o.get("store") or build_store(cfg)
    ledger = functools.cache(lambda: o["ledger"] if "ledger" in o else _ledger_of(store))
    gateways: dict[str, CrmGateway] = {}
    make_gateway = o.get("gateway_for") or (lambda tenant: real_gateway(tenant, environ))
    lock = threading.Lock()

    def gateway_for(tenant: Tenant) -> CrmGateway:
        with lock:  # one adapter (and token, and rate limiter) per tenant
            if tenant.id not in gateways:
                gateways[tenant.id] = make_gateway(tenant)
            return gateways[tenant.id]

    built: list[Worker] = []

    def make_worker() -> Worker:
        """The one worker; built when first needed (a webhook-only process never needs it)."""
        if not built:
            from integration.worker import Worker

            built.append(Worker(store, cfg, gateway_for, rules=o.get("rules"), clock=clock, rng=o.get("rng", random.random), ledger=ledger(),
                                 environ=environ))  # fmt: skip
        return built[0]

    mode = o.get("worker_mode", cfg.worker.mode)
    background: BackgroundWorker | WorkerProcess | None = None
    notify: Callable[[Sequence[str]], None]
    if mode == "thread":
        from integration.background import BackgroundWorker

        worker = make_worker()
        background = BackgroundWorker(worker, cfg.worker.poll_seconds, ticks=worker.insert_ticks)
        notify = background.notify
    elif mode == "process":  # `gamefilm serve`: the same worker, off the server's GIL
        from integration.worker_process import WorkerProcess

        background = WorkerProcess(os.path.abspath(cfg.source), logging.getLogger().getEffectiveLevel())
        notify = background.notify
    elif mode == "sqs":
        from integration.notify import SqsNotifier

        notify = SqsNotifier(cfg.worker.queue_url or environ.get("GAMEFILM_QUEUE_URL", ""))
    else:
        notify = lambda keys: None  # noqa: E731 - intake only; `gamefilm worker` drains
    return Services(cfg, store, make_worker, Intake(store, notify, clock), clock, environ, background, ledger)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    from flask import Flask

    from handlers import register

    services = build_services(overrides)
    app = Flask("gamefilm")
    app.config["MAX_CONTENT_LENGTH"] = services.config.intake.max_body_bytes
    app.extensions["gamefilm"] = services
    register(app)
    if services.background is not None and (overrides or {}).get("start_worker", True):
        services.background.start()
    return app


def _configure_logging() -> None:
    """JSON lines on stderr (CloudWatch on Lambda): see integration.logs."""
    from integration import logs
    from integration.preflight import log_level

    logs.configure(log_level(os.environ))


class _LazyApp:
    """WSGI callable that builds the real app on the first request (Zappa's `app_function`).

    The build (imports, config, store client) allocates ~80k objects that live as long as the
    container, and almost no garbage (~300 objects): collecting on the way costs a cold start
    ~20 ms of CPU for nothing, and every later full collection would walk them again. So the
    collector is paused for the build, and what it built is moved out of its sight (gc.freeze).
    """

    def __init__(self) -> None:
        self._app: Flask | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    enabled = gc.isenabled()
                    gc.disable()
                    try:
                        from integration.lazy_regex import import_marshmallow

                        import_marshmallow()  # ~35 ms less: marshmallow's e-mail pattern compiles when first used
                        _configure_logging()
                        self._app = create_app()
                    finally:
                        gc.freeze()
                        if enabled:
                            gc.enable()
        return self._app(environ, start_response)


app = _LazyApp()


def _ledger_of(store: Store) -> ReviewLedger | None:
    """The store's review ledger; None for a store without one (rules that need it then fail
    their events saying so, never the app)."""
    try:
        return store.ledger()
    except NotImplementedError:
        return None
