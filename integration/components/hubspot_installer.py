"""Installing the manifest's HubSpot groups and properties through the properties API.

Reads first (two requests per object type), then creates only what is missing: groups,
then properties, one request each (HubSpot's 409 on an existing name is not relied on).
A property we create carries `OWNED_MARK` at the end of its description: that is the record
of what Game Film installed, so `uninstall` archives only those, and only when no record
holds a value in them. A drifted property is reported, never redefined: the portal may hold
data in it.
"""
from __future__ import annotations

from typing import Any

from integration.components.manifest import MANIFEST, OWNED_MARK, HubSpotProperty, Manifest
from integration.components.plan import DRIFT, MISSING, OK, Check, InstallError, Progress, Step, drift_lines
from integration.gateway.hubspot.transport import HubSpotError, Transport


class HubSpotInstaller:
    def __init__(self, transport: Transport, manifest: Manifest = MANIFEST, progress: Progress = lambda line: None) -> None:
        self.transport = transport
        self.manifest = manifest
        self.progress = progress

    def _objects(self) -> list[str]:
        return sorted({g.object for g in self.manifest.hubspot_groups} | {p.object for p in self.manifest.hubspot_properties})

    def _read(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """(object -> group name -> group, object -> property name -> property) as the portal has them."""
        groups, properties = {}, {}
        for obj in self._objects():
            groups[obj] = {g.name: g for g in self.transport.sdk("crm.properties.groups_api", "get_all", obj).results}
            properties[obj] = {p.name: p for p in self.transport.sdk("crm.properties.core_api", "get_all", obj).results}
        return groups, properties

    def verify(self) -> list[Check]:
        groups, properties = self._read()
        checks = []
        for g in self.manifest.hubspot_groups:
            found = groups[g.object].get(g.name)
            checks.append(Check(f"{g.object} group {g.name}", MISSING) if found is None else
                          Check(f"{g.object} group {g.name}", DRIFT if found.label != g.label else OK, drift_lines({"label": g.label}, {"label": found.label})))  # fmt: skip
        for p in self.manifest.hubspot_properties:
            checks.append(_property_check(p, properties[p.object].get(p.name)))
        return checks

    def plan(self, checks: list[Check]) -> list[Step]:
        missing = {c.component for c in checks if c.status == MISSING}
        steps = [Step("create", f"{g.object} group {g.name}", "missing") for g in self.manifest.hubspot_groups if f"{g.object} group {g.name}" in missing]
        steps += [Step("create", _name(p), "missing") for p in self.manifest.hubspot_properties if _name(p) in missing]
        steps += [Step("keep", c.component, "differs from the manifest; fix it in HubSpot settings (not redefined: it may hold data)") for c in checks if c.status == DRIFT]
        return steps

    def install(self, steps: list[Step]) -> list[str]:
        """Create what the plan lists; stop at the first failure naming what was done."""
        from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

        done: list[str] = []
        creates = [s for s in steps if s.action == "create"]
        for n, step in enumerate(creates, 1):
            self.progress(f"[{n}/{len(creates)}] creating {step.component}")
            try:
                group = next((g for g in self.manifest.hubspot_groups if f"{g.object} group {g.name}" == step.component), None)
                if group is not None:
                    body = PropertyGroupCreate(name=group.name, label=group.label, display_order=-1)
                    self.transport.sdk("crm.properties.groups_api", "create", group.object, body, idempotent=False)
                else:
                    p = next(p for p in self.manifest.hubspot_properties if _name(p) == step.component)
                    body = PropertyCreate(name=p.name, label=p.label, type=p.type, field_type=p.field_type, group_name=p.group,
                                          description=f"{p.description} {OWNED_MARK}", has_unique_value=p.has_unique_value)  # fmt: skip
                    self.transport.sdk("crm.properties.core_api", "create", p.object, body, idempotent=False)
            except HubSpotError as exc:
                raise InstallError(f"HubSpot refused to create {step.component} ({exc}); {len(done)} of {len(creates)} created before it "
                                   f"({', '.join(done) or 'none'}); fix the cause and run install again: it creates only what is still missing") from None  # fmt: skip
            done.append(step.component)
        return done

    def uninstall_plan(self) -> list[Step]:
        groups, properties = self._read()
        steps: list[Step] = []
        kept: set[tuple[str, str]] = set()
        for p in self.manifest.hubspot_properties:
            found = properties[p.object].get(p.name)
            if found is None or not (found.description or "").endswith(OWNED_MARK):
                continue
            holding = self._records_with(p)
            if holding:
                steps.append(Step("keep", _name(p), f"{holding} record(s) hold a value in it (uninstall never removes data)"))
                kept.add((p.object, p.name))
            else:
                steps.append(Step("remove", _name(p), "installed by Game Film, holds no values"))
        for g in self.manifest.hubspot_groups:
            others = [q.name for q in properties[g.object].values() if q.group_name == g.name and not (q.description or "").endswith(OWNED_MARK)]
            others += [name for obj, name in kept if obj == g.object and properties[obj][name].group_name == g.name]
            if g.name in groups[g.object] and not others:
                steps.append(Step("remove", f"{g.object} group {g.name}", "holds no other property"))
            elif g.name in groups[g.object]:
                steps.append(Step("keep", f"{g.object} group {g.name}", f"holds properties that stay ({', '.join(sorted(others))})"))
        return steps

    def _records_with(self, p: HubSpotProperty) -> int:
        """How many records hold a value in the property (one search, limit 1: `total`)."""
        from hubspot.crm.objects import PublicObjectSearchRequest

        request = PublicObjectSearchRequest(filter_groups=[{"filters": [{"propertyName": p.name, "operator": "HAS_PROPERTY"}]}], properties=["hs_object_id"], limit=1)
        return int(self.transport.sdk("crm.objects.search_api", "do_search", p.object, public_object_search_request=request).total or 0)

    def uninstall(self, steps: list[Step]) -> list[str]:
        """Archive properties before their groups (a group with properties cannot go)."""
        done: list[str] = []
        for step in [s for s in steps if s.action == "remove"]:
            obj, kind, name = step.component.split(" ")
            api = "crm.properties.groups_api" if kind == "group" else "crm.properties.core_api"
            self.progress(f"removing {step.component}")
            try:
                self.transport.sdk(api, "archive", obj, name, idempotent=True)
            except HubSpotError as exc:
                raise InstallError(f"HubSpot refused to remove {step.component} ({exc}); removed before it: {', '.join(done) or 'none'}") from None
            done.append(step.component)
        return done


def _name(p: HubSpotProperty) -> str:
    return f"{p.object} property {p.name}"


def _property_check(p: HubSpotProperty, found: Any) -> Check:
    if found is None:
        return Check(_name(p), MISSING)
    expected: dict[str, object] = {"type": p.type, "fieldType": p.field_type, "groupName": p.group, "hasUniqueValue": p.has_unique_value, "label": p.label}
    actual: dict[str, object] = {"type": found.type, "fieldType": found.field_type, "groupName": found.group_name, "hasUniqueValue": bool(found.has_unique_value), "label": found.label}
    details = drift_lines(expected, actual)
    return Check(_name(p), DRIFT if details else OK, details, owned=(found.description or "").endswith(OWNED_MARK))
