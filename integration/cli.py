"""`gamefilm`: the admin's tool. Config from --config or GAMEFILM_CONFIG.

  gamefilm check                       validate the config and the secrets the server will read
  gamefilm serve [--port 8000]         local server: SQLite + the worker (child process)
  gamefilm send-sample hubspot         post a correctly signed sample event to a server
                                       (also salesforce-outbound|salesforce-json|recording|zoom)
  gamefilm events [--status dead]      list stored events;  gamefilm event KEY  shows one
  gamefilm actions                     the action log (what was done in which CRM, and why)
  gamefilm recordings [--status unmatched] [--tenant ID]   recorded calls and where they stand
  gamefilm replay KEY | --dead         make events due again (done actions are not repeated)
  gamefilm worker [--once]             drain due events (when worker.mode = "none")
  gamefilm doctor [--tenant ID]        check CRM credentials, permissions and objects
  gamefilm store init                  create the DynamoDB table
  gamefilm install|verify|uninstall --tenant ID   CRM components (see integration/install_cli.py)
  gamefilm components build|check      files generated from the component manifest

Every error is one line on stderr (file, key, what to do) and a non-zero exit, never a
traceback; times are ISO-8601 UTC. Secrets come from the one resolver (`integration.secrets`):
the environment, plus SSM Parameter Store when GAMEFILM_SSM_PATH is set, as on the server.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict
from typing import Any, NoReturn, Sequence

from integration import config as config_mod
from integration import install_cli, preflight
from integration.cli_checks import cmd_check, cmd_doctor
from integration.cli_format import action_line, event_dict, json_default, ts, with_iso_times
from integration.app import build_services, config_path
from integration.events import DEAD, DONE, IGNORED, PENDING, PROCESSING
from integration.ledger import RECORDING_STATUSES
from integration.secrets import SecretResolver, SecretsError

EVENT_STATUSES = (PENDING, PROCESSING, DONE, IGNORED, DEAD)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"{exc.prog}: {exc}", file=sys.stderr)
        return 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except config_mod.ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except SecretsError as exc:
        print(f"{exc}; check AWS credentials and {SECRETS_HINT}", file=sys.stderr)
        return 1


SECRETS_HINT = "that GAMEFILM_SSM_PATH names the right parameter path"


class _UsageError(Exception):
    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line (with the valid choices), exit 2."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(self.prog, f"{message}; see {self.prog} --help")


def _port(value: str) -> int:
    try:
        return preflight.port(value, "--port")
    except config_mod.ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _threads(value: str) -> int:
    if value.isascii() and value.isdigit() and 1 <= int(value) <= 256:
        return int(value)
    raise argparse.ArgumentTypeError(f"--threads={value!r} is not a thread count; use a whole number from 1 to 256")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gamefilm", description="Game Film admin tool")
    p.add_argument("--config", help=f"config file (default: $GAMEFILM_CONFIG or {config_path()})")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    c = sub.add_parser("check", help="validate the config file")
    c.set_defaults(func=cmd_check)

    c = sub.add_parser("serve", help="run the local server, its worker in a child process")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=_port, help="default: $PORT or 8000")
    c.add_argument("--allow-missing-secrets", action="store_true",
                   help="start even when a tenant's webhook signing secret is unset (its webhooks get 401)")
    c.add_argument("--threads", type=_threads, default=32, help="request threads (their inserts share commits)")
    c.set_defaults(func=cmd_serve)

    c = sub.add_parser("send-sample", help="post a correctly signed sample event to a running server")
    c.add_argument("kind", choices=["hubspot", "salesforce-outbound", "salesforce-json", "recording", "zoom"])
    c.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
    c.add_argument("--tenant", help="tenant id (default: the first of that CRM)")
    c.add_argument("--deal", default="9001", help="deal/opportunity id")
    c.add_argument("--amount", default="250000")
    c.set_defaults(func=cmd_send_sample)

    c = sub.add_parser("events", help="list stored events")
    c.add_argument("--status", choices=EVENT_STATUSES)
    c.add_argument("--tenant")
    c.add_argument("--limit", type=_limit, default=20)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_events)

    c = sub.add_parser("event", help="show one event with its actions")
    c.add_argument("key")
    c.set_defaults(func=cmd_event)

    c = sub.add_parser("actions", help="list the action log")
    c.add_argument("--tenant")
    c.add_argument("--event")
    c.add_argument("--limit", type=_limit, default=20)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_actions)

    c = sub.add_parser("recordings", help="list recorded calls (attached, unmatched, private, gave_up)")
    c.add_argument("--status", choices=RECORDING_STATUSES)
    c.add_argument("--tenant")
    c.add_argument("--limit", type=_limit, default=50)
    c.set_defaults(func=cmd_recordings)

    c = sub.add_parser("replay", help="make an event (or all dead events) due again")
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("key", nargs="?")
    g.add_argument("--dead", action="store_true")
    c.set_defaults(func=cmd_replay)

    c = sub.add_parser("worker", help="process due events")
    c.add_argument("--once", action="store_true", help="one pass, then exit")
    c.set_defaults(func=cmd_worker)

    c = sub.add_parser("doctor", help="check CRM connections")
    c.add_argument("--tenant")
    c.add_argument("--components", action="store_true", help="also verify the installed CRM components (gamefilm verify)")
    c.set_defaults(func=cmd_doctor)

    c = sub.add_parser("store", help="store administration")
    c.add_argument("action", choices=["init"])
    c.set_defaults(func=cmd_store)
    install_cli.register(sub)
    return p


def _limit(value: str) -> int:
    if value.isascii() and value.isdigit() and 1 <= int(value) <= 100_000:
        return int(value)
    raise argparse.ArgumentTypeError(f"--limit {value!r} is not a whole number from 1 to 100000")


def _services(args: argparse.Namespace, **overrides: Any):
    cfg = config_mod.load(config_path(args.config))
    try:
        return build_services({"config": cfg, "worker_mode": "none", **overrides})
    except (OSError, sqlite3.Error) as exc:
        raise _store_error(cfg, exc) from None


def _store_error(cfg: config_mod.Config, exc: Exception) -> config_mod.ConfigError:
    """The store path is unusable (a file where a directory should be, permissions, ...)."""
    return config_mod.ConfigError(f"{cfg.source}: store: cannot open the {cfg.store.backend} store ({exc}); "
                                  "check store.path and its directory's permissions")  # fmt: skip


def cmd_serve(args: argparse.Namespace) -> int:
    from integration import logs
    from integration.app import create_app
    from integration.server import Server

    level = preflight.log_level(os.environ)
    if args.port is None:
        args.port = preflight.port(os.environ.get("PORT") or "8000")
    cfg = config_mod.load(config_path(args.config))
    refused = [p for p in preflight.problems(cfg, SecretResolver()) if p.fatal and not (p.signing and args.allow_missing_secrets)]
    if refused:
        for p in refused:
            print(f"{p.sentence}{'; or pass --allow-missing-secrets for a demo' if p.signing else ''}", file=sys.stderr)
        return 2
    logs.configure(level)  # JSON lines on stderr: one per request and per settled event
    try:
        # The local worker runs beside the server in a child process (integration.worker_process).
        app = create_app({"config": cfg, "worker_mode": "process" if cfg.worker.mode == "thread" else cfg.worker.mode})
    except (OSError, sqlite3.Error) as exc:
        raise _store_error(cfg, exc) from None
    services = app.extensions["gamefilm"]
    server = Server(app, args.host, args.port, threads=args.threads)
    server.install_signal_handlers()
    server.serve_forever(on_ready=lambda: print(
        f"Game Film serving on http://{args.host}:{server.port} (config {services.config.source},"
        f" store {services.config.store.backend}); Ctrl-C stops", flush=True))  # fmt: skip
    return 0


def cmd_send_sample(args: argparse.Namespace) -> int:
    from integration import samples

    cfg = config_mod.load(config_path(args.config))
    if args.kind in ("recording", "zoom"):  # recordings go to a tenant of either CRM that takes them
        key = "recorder_secret_envs" if args.kind == "recording" else "zoom_secret_token_env"
        takes = [t for t in cfg.tenants if getattr(t, key)]
        tenant = next((t for t in takes if t.id == args.tenant), None) if args.tenant else next(iter(takes), None)
        if tenant is None:
            print(f"no tenant{' ' + args.tenant if args.tenant else ''} with {key} in {cfg.source}", file=sys.stderr)
            return 2
    else:
        crm = "hubspot" if args.kind == "hubspot" else "salesforce"
        tenant = cfg.tenant(args.tenant) if args.tenant else next((t for t in cfg.tenants if t.crm == crm), None)
        if tenant is None or tenant.crm != crm:
            print(f"no {crm} tenant {args.tenant or ''} in {cfg.source}", file=sys.stderr)
            return 2
    try:
        path, headers, body = samples.build(args.kind, tenant, args.url, deal_id=args.deal, amount=args.amount)
    except samples.SampleError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    request = urllib.request.Request(args.url.rstrip("/") + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    except urllib.error.URLError as exc:
        print(f"could not reach {args.url}: {exc.reason} (is `make run` running?)", file=sys.stderr)
        return 1
    print(f"POST {path} -> {status}\n{text}")
    return 0 if status == 200 else 1


def cmd_events(args: argparse.Namespace) -> int:
    s = _services(args)
    events = s.store.list_events(status=args.status, tenant=args.tenant, limit=args.limit)
    if args.json:
        print(json.dumps([event_dict(e) for e in events], indent=2, default=json_default))
        return 0
    for e in events:
        err = f"  last error: {e.last_error}" if e.last_error else ""
        print(f"{ts(e.received_at)}  {e.status:<10} {e.attempts}x  {e.event.object_type} {e.event.object_id} {e.event.kind}  {e.key}{err}")
    if not events:
        print("no events")
    return 0


def cmd_event(args: argparse.Namespace) -> int:
    s = _services(args)
    stored = s.store.get_event(args.key)
    if stored is None:
        print(f"no event {args.key}", file=sys.stderr)
        return 1
    print(json.dumps(event_dict(stored), indent=2, default=json_default))
    for a in s.store.list_actions(event_key=args.key, limit=100):
        print(action_line(a))
    return 0


def cmd_actions(args: argparse.Namespace) -> int:
    s = _services(args)
    actions = s.store.list_actions(tenant=args.tenant, event_key=args.event, limit=args.limit)
    if args.json:
        print(json.dumps([with_iso_times(asdict(a)) for a in actions], indent=2, default=json_default))
        return 0
    for a in actions:
        print(action_line(a))
    if not actions:
        print("no actions")
    return 0


def cmd_recordings(args: argparse.Namespace) -> int:
    s = _services(args)
    if s.ledger is None:
        print(f"{s.config.source}: store: the {s.config.store.backend} store keeps no review ledger yet; no recordings to list", file=sys.stderr)
        return 1
    entries = s.ledger.list_recordings(tenant=args.tenant, status=args.status, limit=args.limit)
    for e in entries:
        retry = f"  next match {ts(e.next_match_at)}" if e.next_match_at else ""
        print(f"{ts(e.started_at)}  {e.status:<9} {e.tenant}  {e.external_id}  deal {e.deal_id or '-'}  rep {e.rep_user_id or '-'}"
              f"  match attempts {e.match_attempts}{retry}")  # fmt: skip
    if not entries:
        print("no recordings")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    s = _services(args)
    keys = [e.key for e in s.store.list_events(status="dead", limit=10_000)] if args.dead else [args.key]
    replayed = [k for k in keys if s.store.replay_event(k, time.time())]
    print(f"{len(replayed)} event(s) due again; run the worker (or the server) to process them")
    return 0 if replayed or args.dead else 1


def cmd_worker(args: argparse.Namespace) -> int:
    s = _services(args)
    while True:
        report = s.worker.run_due()
        if report.done or report.failed or report.ignored:
            print(f"done {len(report.done)}, ignored {len(report.ignored)}, retrying {len(report.retrying)}, dead {len(report.dead)}")
        if args.once:
            return 0
        if not (report.done or report.failed or report.ignored):
            time.sleep(s.config.worker.poll_seconds)


def cmd_store(args: argparse.Namespace) -> int:
    s = _services(args)
    if not hasattr(s.store, "create_table"):
        print("the SQLite store creates its tables on start: nothing to do")
        return 0
    s.store.create_table()
    print(f"table {s.config.store.table} is ready")
    return 0



if __name__ == "__main__":
    sys.exit(main())
