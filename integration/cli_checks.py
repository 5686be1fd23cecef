"""`gamefilm check` and `gamefilm doctor`: what the admin runs before and after going live.

`check` reads the config and the secrets exactly as the server will (exit 0 only when it would
start with every webhook verifiable); `doctor` signs in to each tenant's CRM and reports one
actionable sentence per problem (permissions, objects, the rules' ids, installed components).
"""
from __future__ import annotations

import argparse
import os
import sys

from integration import config as config_mod
from integration import install_cli, preflight
from integration.app import config_path
from integration.secrets import SecretResolver


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 exactly when the server would start with every tenant's webhooks verifiable."""
    cfg = config_mod.load(config_path(args.config))
    secrets = SecretResolver()
    preflight.log_level(os.environ)
    found = preflight.problems(cfg, secrets)
    fatal = [p for p in found if p.fatal]
    for t in cfg.tenants:
        mode = "dry run" if t.dry_run else "live"
        print(f"  {t.id}: {t.crm} {t.portal_id or t.org_id} ({mode}); rules: {', '.join(t.rules) or 'none'}")
    for p in found:
        print(f"{'error' if p.fatal else 'note '}: {p.sentence}", file=sys.stderr if p.fatal else sys.stdout)
    summary = f"{len(cfg.tenants)} tenants, store={cfg.store.backend}, worker={cfg.worker.mode}, secrets from {secrets.describe()}"
    if fatal:
        print(f"{cfg.source}: NOT OK: {len(fatal)} problem(s) above ({summary})")
        return 1
    print(f"{cfg.source}: OK ({summary})")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from integration.app import real_gateway
    from integration.rules import rules_for

    cfg = config_mod.load(config_path(args.config))
    tenants = [cfg.tenant(args.tenant)] if args.tenant else list(cfg.tenants)
    if tenants == [None]:
        print(f"{cfg.source}: no tenant {args.tenant!r}; use one of: {', '.join(t.id for t in cfg.tenants)}", file=sys.stderr)
        return 2
    secrets = SecretResolver()
    failed = 0
    for tenant in tenants:
        assert tenant is not None
        print(f"{tenant.id} ({tenant.crm}{', dry run' if tenant.dry_run else ''}):")
        try:
            gateway = real_gateway(tenant, secrets)
            target = getattr(gateway, "reader", None) or gateway
            findings = target.check()
            if findings and all(f.ok for f in findings):  # the connection works: check the rules' ids
                findings += [f for rule, settings in rules_for(tenant) for f in rule.check(settings, target)]
        except Exception as exc:  # a doctor reports, it does not crash
            print(f"  FAIL connect: {exc}")
            failed += 1
            continue
        if not findings:
            print("  (no CRM credentials in the environment: nothing to check)")
        if args.components and findings and findings[0].ok:  # signed in: each component's own line
            findings += install_cli.component_findings(tenant, cfg.intake.public_base_url)
        for f in findings:
            print(f"  {'ok  ' if f.ok else 'FAIL'} {f.check}: {f.message}")
            failed += not f.ok
    return 1 if failed else 0
