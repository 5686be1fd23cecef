"""`gamefilm components build|check`, `gamefilm install|verify|uninstall --tenant T`.

  gamefilm components build            write the files generated from the manifest
  gamefilm components check            exit 1 when they drift from it
  gamefilm verify --tenant T           each manifest component in the CRM: ok, MISSING, DRIFT
  gamefilm install --tenant T          the plan, then (after confirmation or --yes) the changes
  gamefilm uninstall --tenant T        removes only what install installed; never data

`--dry-run` prints the plan and changes nothing. Re-running install changes nothing once
everything is in place.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Mapping

from integration import config as config_mod
from integration.app import config_path
from integration.components.plan import DRIFT, MISSING, InstallError, Step
from integration.gateway import CrmError, Finding


def register(sub: Any) -> None:
    c = sub.add_parser("components", help="build or check the CRM component files generated from the manifest")
    c.add_argument("action", choices=["build", "check"])
    c.set_defaults(func=cmd_components)
    for name, text in (("install", "install the manifest's components into a tenant's CRM"),
                       ("verify", "report each manifest component in a tenant's CRM, drift field by field"),
                       ("uninstall", "remove the components Game Film installed (never data)")):  # fmt: skip
        c = sub.add_parser(name, help=text)
        c.add_argument("--tenant", required=True)
        if name != "verify":
            c.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
            c.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        c.set_defaults(func=cmd_crm_components, mode=name)


def cmd_components(args: argparse.Namespace) -> int:
    from integration.components import build

    if args.action == "build":
        written = build.write()
        print("\n".join(f"wrote crm_components/{p}" for p in written) or "crm_components/ is up to date")
        return 0
    problems = build.drift()
    for p in problems:
        print(f"crm_components/{p}", file=sys.stderr)
    if problems:
        print("generated files drift from integration/components/manifest.py: run `gamefilm components build`", file=sys.stderr)
    return 1 if problems else 0


def tenant_manifest(tenant: config_mod.Tenant) -> Any:
    """The manifest for the tenant's rubric (`[tenants.rules.game_film.rubric]`): its criteria
    are fields and properties of their own."""
    from integration.components.manifest import manifest_for
    from integration.review.settings import GameFilmSchema
    from integration.rubric import DEFAULT_RUBRIC

    raw = tenant.rules.get("game_film")
    return manifest_for(GameFilmSchema().load(raw).rubric if isinstance(raw, Mapping) else DEFAULT_RUBRIC)


def installer_for(tenant: config_mod.Tenant, progress: Callable[[str], None], public_base_url: str | None = None) -> Any:
    """The tenant's installer, connected with the same credentials the gateway uses;
    `public_base_url` (the config's `intake.public_base_url`) is where Salesforce's review
    notification (outbound message) is sent."""
    if tenant.crm == "hubspot":
        from integration.components.hubspot_installer import HubSpotInstaller
        from integration.gateway.hubspot import HubSpotGateway

        return HubSpotInstaller(HubSpotGateway.from_tenant(tenant).transport, tenant_manifest(tenant), progress=progress)
    from integration.components.build import apex_bodies
    from integration.components.salesforce_installer import SalesforceInstaller
    from integration.gateway.salesforce.session import connector
    from integration.gateway.transport import Timeouts

    timeouts = Timeouts(connect=tenant.connect_timeout_seconds, read=max(tenant.read_timeout_seconds, 60.0))  # deploy requests carry the zip
    sandbox = tenant.domain == "test" or ".sandbox." in (tenant.instance_url or "")
    return SalesforceInstaller(connector(tenant, None, timeouts), apex_bodies(), manifest=tenant_manifest(tenant), integration_user=tenant.username,
                               sandbox=sandbox, progress=progress, public_base_url=public_base_url)  # fmt: skip


def component_findings(tenant: config_mod.Tenant, public_base_url: str | None = None) -> list[Finding]:
    """For `doctor --components`: one finding per component that is missing or drifted."""
    try:
        checks = installer_for(tenant, lambda line: None, public_base_url).verify()
    except (InstallError, CrmError) as exc:
        return [Finding("components", False, f"Could not read the installed components ({exc}).")]
    bad = [c for c in checks if c.status in (MISSING, DRIFT)]
    if not bad:
        return [Finding("components", True, f"All {len(checks)} Game Film components are installed as the manifest defines them.")]
    return [Finding("components", False, f"{c.component} is {c.status.lower()}{': ' + '; '.join(c.details) if c.details else ''}; run gamefilm install --tenant {tenant.id}.") for c in bad]


def cmd_crm_components(args: argparse.Namespace) -> int:
    cfg = config_mod.load(config_path(args.config))
    tenant = cfg.tenant(args.tenant)
    if tenant is None:
        print(f"{cfg.source}: no tenant {args.tenant!r}; use one of: {', '.join(t.id for t in cfg.tenants)}", file=sys.stderr)
        return 2
    installer = installer_for(tenant, lambda line: print(f"  ... {line}", flush=True), cfg.intake.public_base_url)
    try:
        return _run(args, tenant, installer)
    except (InstallError, CrmError) as exc:
        print(f"{tenant.id}: {args.mode} failed: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, tenant: config_mod.Tenant, installer: Any) -> int:
    where = f"{tenant.id} ({tenant.crm})"
    if args.mode == "verify":
        checks = installer.verify()
        print(f"{where}: {sum(c.status not in (MISSING, DRIFT) for c in checks)} of {len(checks)} components in place")
        for c in checks:
            print(c.line())
        return 1 if any(c.status in (MISSING, DRIFT) for c in checks) else 0
    steps: list[Step] = installer.plan(installer.verify()) if args.mode == "install" else installer.uninstall_plan()
    changes = [s for s in steps if s.action != "keep"]
    print(f"{where}: {args.mode} plan, {len(changes)} change(s)")
    for s in steps:
        print(s.line())
    if not changes:
        print("nothing to change")
        return 1 if any(s.action == "keep" and args.mode == "install" for s in steps) else 0
    if args.dry_run:
        print("dry run: nothing changed")
        return 0
    if not args.yes and not _confirmed(f"{args.mode}: apply {len(changes)} change(s) to {where}? [y/N] "):
        print("nothing changed")
        return 1
    done = installer.install(steps) if args.mode == "install" else installer.uninstall(steps)
    print(f"{where}: {len(done)} change(s) made")
    return 0


def _confirmed(question: str) -> bool:
    if not sys.stdin.isatty():
        print("not confirmed: stdin is not a terminal; pass --yes to apply without asking", file=sys.stderr)
        return False
    return input(question).strip().lower() in ("y", "yes")
