"""Installing the manifest into a Salesforce org through the Metadata API (simple-salesforce).

`verify` reads the org (one describe per object the manifest adds fields to (Task,
Opportunity, User, the custom objects: a 404 is an object still missing), one query per
component type (External Credentials and quick actions through the Tooling API, report types
through the Analytics API), the field permissions of our permission sets, the install stamp):
about 17 REST calls. `install` deploys one Metadata
API package of what is missing (rollbackOnError: a failed deploy installs nothing) together
with the stamp, a static resource listing every component Game Film installed, then assigns
the permission set to the integration user. `uninstall` deletes only stamped components,
and keeps a field that any record holds a value in and a custom object that holds records
(its fields go with it).
"""
from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from integration.components import salesforce_source as source
from integration.components.manifest import MANIFEST, Manifest, SfField
from integration.components.plan import DRIFT, MISSING, OK, Check, InstallError, Progress, Step, drift_lines

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

DONE_STATES = ("Succeeded", "SucceededPartial", "Failed", "Canceled")
DESCRIBE_TYPES = {"Text": "string", "Url": "url", "Number": "double", "Checkbox": "boolean", "Date": "date", "DateTime": "datetime",
                  "LongTextArea": "textarea", "Lookup": "reference"}  # fmt: skip
# Metadata type -> (sObject, name field) to see whether a component exists.
TOOLING_ONLY = frozenset({"ExternalCredential"})  # a Tooling API object, not in the data API
NAME_QUERIES = {
    "ApexClass": ("ApexClass", "Name"),
    "PermissionSet": ("PermissionSet", "Name"),
    "NamedCredential": ("NamedCredential", "DeveloperName"),
    "ExternalCredential": ("ExternalCredential", "DeveloperName"),
}


class SalesforceInstaller:
    def __init__(
        self,
        connect: Callable[[], Salesforce],
        apex: Mapping[str, str],
        *,
        manifest: Manifest = MANIFEST,
        integration_user: str | None = None,
        public_base_url: str | None = None,
        sandbox: bool = False,
        progress: Progress = lambda line: None,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 2.0,
        max_polls: int = 450,
    ) -> None:
        self._connect = connect
        self._sf: Salesforce | None = None
        self.apex = apex
        self.manifest = manifest
        self.integration_user = integration_user
        self.public_base_url = public_base_url  # the tenant's intake.public_base_url: where outbound messages go
        self.sandbox = sandbox
        self.progress = progress
        self.sleep = sleep
        self.poll_seconds = poll_seconds
        self.max_polls = max_polls
        self.stamp: dict[str, list[str]] = {}

    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self._sf = self._connect()
        return self._sf

    # ---- reading the org ---------------------------------------------------------------

    def _names(self, mdtype: str, wanted: list[str]) -> set[str]:
        sobject, name = NAME_QUERIES[mdtype]
        return self._names_in(sobject, name, wanted, tooling=mdtype in TOOLING_ONLY)

    def _names_in(self, sobject: str, name: str, wanted: list[str], *, tooling: bool = False) -> set[str]:
        if not wanted:
            return set()
        listed = ", ".join(f"'{w}'" for w in wanted)
        soql = f"SELECT {name} FROM {sobject} WHERE {name} IN ({listed})"
        if tooling:
            from urllib.parse import quote

            return {r[name] for r in (self.sf.toolingexecute(f"query/?q={quote(soql)}") or {}).get("records", [])}
        return {r[name] for r in self.sf.query_all(soql)["records"]}

    def _present(self, mdtype: str, wanted: list[str]) -> set[str]:
        """Which of the manifest's members of `mdtype` the org has (one read per type)."""
        if mdtype in NAME_QUERIES:
            return self._names(mdtype, wanted)
        if mdtype == "QuickAction":  # "Opportunity.New_Call_Review"
            found = self._names_in("QuickActionDefinition", "DeveloperName", [w.split(".", 1)[1] for w in wanted], tooling=True)
            return {w for w in wanted if w.split(".", 1)[1] in found}
        if mdtype == "Report":  # folders "GameFilm/", reports "GameFilm/Leaderboard"
            folders = self._names_in("Folder", "DeveloperName", [w[:-1] for w in wanted if w.endswith("/")])
            reports = self._names_in("Report", "DeveloperName", [w.split("/", 1)[1] for w in wanted if not w.endswith("/")])
            return {w for w in wanted if (w[:-1] in folders if w.endswith("/") else w.split("/", 1)[1] in reports)}
        if mdtype == "Flow":
            return self._names_in("FlowDefinition", "DeveloperName", wanted, tooling=True)
        if mdtype in ("WorkflowOutboundMessage", "Workflow"):  # "Call_Review__c.GameFilm_Review"; a Workflow is there with its messages
            messages = [m for m in self.manifest.sf_outbound_messages if mdtype == "WorkflowOutboundMessage" and m.full_name in wanted or m.object in wanted]
            found = self._names_in("WorkflowOutboundMessage", "Name", sorted({m.name for m in messages}), tooling=True)
            present = [m for m in messages if m.name in found]
            return {w for w in wanted if any(w in (m.full_name, m.object) for m in present)}
        if mdtype == "ReportType":  # the Analytics API lists custom report types as "<name>__c"
            listed = {t.get("type") for group in self.sf.restful("analytics/reportTypes") or [] for t in group.get("reportTypes", [])}
            return {w for w in wanted if f"{w}__c" in listed}
        return set()

    def _read_stamp(self) -> dict[str, list[str]]:
        found = self.sf.query(f"SELECT Id FROM StaticResource WHERE Name = '{source.STAMP}'")["records"]
        if not found:
            return {}
        body = self.sf.restful(f"sobjects/StaticResource/{found[0]['Id']}/Body")
        return {t: list(names) for t, names in (body or {}).items()}

    def verify(self) -> list[Check]:
        self.stamp = self._read_stamp()
        owned = {f"{t} {n}" for t, names in self.stamp.items() for n in names}
        described = {name: self._describe(name) for name in sorted({f.sobject for f in self.manifest.sf_fields} | {o.name for o in self.manifest.sf_objects})}
        checks = [Check(f"CustomObject {o.name}", MISSING) if described[o.name] is None else
                  Check(f"CustomObject {o.name}", *_drift({"label": o.label}, {"label": (described[o.name] or {}).get("label")}))
                  for o in self.manifest.sf_objects]  # fmt: skip
        checks += [_field_check(f, _field(described[f.sobject], f.name)) for f in self.manifest.sf_fields]
        wanted = source.members(self.manifest)
        present = {t: self._present(t, names) for t, names in wanted.items() if t not in ("CustomField", "CustomObject")}
        granted = self._field_permissions([p.name for p in self.manifest.sf_permission_sets if p.fields])
        for mdtype, names in wanted.items():
            if mdtype in ("CustomField", "CustomObject"):
                continue
            for name in names:
                details: tuple[str, ...] = ()
                if name in present[mdtype] and mdtype == "PermissionSet" and name in granted:
                    details = tuple(f"{f.sobject}.{f.name}: read and edit expected" for f in self.manifest.sf_fields if f"{f.sobject}.{f.name}" not in granted[name])
                status = MISSING if name not in present[mdtype] else DRIFT if details else OK
                checks.append(Check(f"{mdtype} {name}", status, details))
        return [Check(c.component, c.status, c.details, owned=c.component in owned) for c in checks]

    def _describe(self, sobject: str) -> dict[str, Any] | None:
        from simple_salesforce.exceptions import SalesforceResourceNotFound

        try:
            return self.sf.restful(f"sobjects/{sobject}/describe") or {}
        except SalesforceResourceNotFound:
            return None

    def _field_permissions(self, permission_sets: list[str]) -> dict[str, set[str]]:
        if not permission_sets:
            return {}
        listed = ", ".join(f"'{p}'" for p in permission_sets)
        soql = f"SELECT Parent.Name, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions WHERE Parent.Name IN ({listed})"
        granted: dict[str, set[str]] = {p: set() for p in permission_sets}
        for r in self.sf.query_all(soql)["records"]:
            if r["PermissionsRead"] and r["PermissionsEdit"]:
                granted.setdefault(r["Parent"]["Name"], set()).add(r["Field"])
        return granted

    def _user_id(self) -> str | None:
        if not self.integration_user:
            return None
        users = self.sf.query(f"SELECT Id FROM User WHERE Username = '{_quoted(self.integration_user)}'")["records"]
        if not users:
            raise InstallError(f"no Salesforce user {self.integration_user!r}: check the tenant's username (the integration user)")
        return str(users[0]["Id"])

    # ---- install -------------------------------------------------------------------------

    def plan(self, checks: list[Check]) -> list[Step]:
        steps = [Step("deploy", c.component, "missing") for c in checks if c.status == MISSING]
        for c in checks:
            if c.status == DRIFT and c.owned and c.component.startswith("PermissionSet "):
                steps.append(Step("deploy", c.component, "installed by Game Film and drifted: " + "; ".join(c.details)))
            elif c.status == DRIFT:
                steps.append(Step("keep", c.component, "differs from the manifest (" + "; ".join(c.details) + "); not redefined: fix it in Setup"))
        user_id = self._user_id()
        for p in self.manifest.sf_permission_sets:
            if p.assign_to_integration_user and user_id and not self._assigned(user_id, p.name):
                steps.append(Step("assign", f"PermissionSet {p.name}", f"to the integration user {self.integration_user}"))
        return steps

    def _assigned(self, user_id: str, permission_set: str) -> bool:
        soql = f"SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '{user_id}' AND PermissionSet.Name = '{permission_set}'"
        return bool(self.sf.query(soql)["records"])

    def install(self, steps: list[Step]) -> list[str]:
        selected: dict[str, list[str]] = {}
        for s in steps:
            if s.action == "deploy":
                mdtype, name = s.component.split(" ", 1)
                selected.setdefault(mdtype, []).append(name)
        done: list[str] = []
        if (selected.get("WorkflowOutboundMessage") or selected.get("Workflow")) and not (self.public_base_url and self.integration_user):
            raise InstallError("intake.public_base_url and the Salesforce tenant's username are required: the review outbound message is sent "
                               "to <public_base_url>/hooks/salesforce/outbound as the integration user")  # fmt: skip
        if selected:
            stamp = {t: sorted(set(self.stamp.get(t, [])) | set(selected.get(t, []))) for t in set(self.stamp) | set(selected)}
            zipped = source.package(self.manifest, self.apex, selected, stamp, self.public_base_url, self.integration_user)
            tests = sorted(c for c in selected.get("ApexClass", []) if c.endswith("Test"))
            self._deploy(zipped, tests, what=f"{sum(map(len, selected.values()))} component(s)")
            self.stamp = stamp
            done += [s.component for s in steps if s.action == "deploy"]
        for s in steps:
            if s.action == "assign":
                user_id = self._user_id()
                permission_set = s.component.split(" ", 1)[1]
                ps = self.sf.query(f"SELECT Id FROM PermissionSet WHERE Name = '{permission_set}'")["records"][0]["Id"]
                self.progress(f"assigning {permission_set} to {self.integration_user}")
                self.sf.restful("sobjects/PermissionSetAssignment", method="POST", json={"AssigneeId": user_id, "PermissionSetId": ps})
                done.append(f"assigned {permission_set}")
        return done

    def _deploy(self, zipped: bytes, tests: list[str], what: str) -> None:
        options: dict[str, Any] = {"rollbackOnError": True}
        if tests and not self.sandbox:  # production deploys of Apex must run its tests (75% coverage)
            options.update(testLevel="RunSpecifiedTests", tests=tests)
        started = self.sf.deploy(io.BytesIO(zipped), self.sandbox, **options)
        async_id = str(started["asyncId"])
        for _ in range(self.max_polls):
            status = self.sf.checkDeployStatus(async_id)
            detail: Mapping[str, Any] = status.get("deployment_detail") or {}  # type: ignore[assignment]
            self.progress(f"deploying {what}: {status['state']} ({detail.get('deployed_count') or 0}/{detail.get('total_count') or '?'} components)")
            if status["state"] in DONE_STATES:
                break
            self.sleep(self.poll_seconds)
        else:
            raise InstallError(f"deploy {async_id} did not finish in {self.max_polls * self.poll_seconds:.0f} s; follow it in Setup > Deployment Status, then run verify")
        if status["state"] != "Succeeded":
            errors = [f"{e.get('type')} {e.get('file')}: {e.get('message')}" for e in detail.get("errors") or []]
            errors += [f"test {e.get('class')}.{e.get('method')}: {e.get('message')}" for e in (status.get("unit_test_detail") or {}).get("errors") or []]  # type: ignore[union-attr]
            raise InstallError(f"Salesforce rejected deploy {async_id} ({status['state']}); rolled back, nothing was installed: {'; '.join(errors) or 'no details'}")

    # ---- uninstall -----------------------------------------------------------------------

    def uninstall_plan(self) -> list[Step]:
        checks = {c.component: c for c in self.verify()}
        steps = []
        objects = set(self.stamp.get("CustomObject", []))
        kept: dict[str, int] = {}  # our custom objects that hold records
        for name in sorted(objects):
            if checks.get(f"CustomObject {name}") is not None and checks[f"CustomObject {name}"].status != MISSING:
                kept.update({name: n} if (n := self._count(f"SELECT COUNT() FROM {name}")) else {})
        for mdtype, names in sorted(self.stamp.items()):
            for name in names:
                component = f"{mdtype} {name}"
                if checks.get(component) is not None and checks[component].status == MISSING:
                    continue
                obj = name.split(".", 1)[0] if mdtype == "CustomField" else name if mdtype == "CustomObject" else None
                if obj in kept:
                    steps.append(Step("keep", component, f"{kept[obj]} {obj} record(s) exist (uninstall never removes data)"))
                elif mdtype == "CustomField" and obj not in objects and (holding := self._holding(name)):
                    steps.append(Step("keep", component, f"{holding} record(s) hold a value in it (uninstall never removes data)"))
                else:
                    steps.append(Step("remove", component, "installed by Game Film"))
        return steps

    def _count(self, soql: str) -> int:
        return int(self.sf.query(soql)["totalSize"])

    def _holding(self, full_name: str) -> int:
        """Records of a standard object with a value in the field (a checkbox: checked)."""
        obj, field = full_name.split(".", 1)
        f = next((f for f in self.manifest.sf_fields if f.full_name == full_name), None)
        sobject = "Task" if obj == "Activity" else obj
        return self._count(f"SELECT COUNT() FROM {sobject} WHERE {field} {'= true' if f is not None and f.type == 'Checkbox' else '!= null'}")

    def uninstall(self, steps: list[Step]) -> list[str]:
        doomed: dict[str, list[str]] = {}
        for s in steps:
            if s.action == "remove":
                mdtype, name = s.component.split(" ", 1)
                doomed.setdefault(mdtype, []).append(name)
        if not doomed:
            return []
        user_id = self._user_id()
        for name in doomed.get("PermissionSet", []):  # the assignment install made blocks the delete
            soql = f"SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '{user_id}' AND PermissionSet.Name = '{name}'"
            for r in self.sf.query(soql)["records"] if user_id else []:
                self.sf.restful(f"sobjects/PermissionSetAssignment/{r['Id']}", method="DELETE")
        remaining = {t: [n for n in names if n not in doomed.get(t, [])] for t, names in self.stamp.items()}
        gone_with_object = [n for n in doomed.get("CustomField", []) if n.split(".", 1)[0] in doomed.get("CustomObject", [])]
        # deleting an object deletes its fields; a Workflow file is only the container of its outbound messages, deleted one by one
        listed = {t: [n for n in names if n not in gone_with_object] for t, names in doomed.items() if t != "Workflow"}
        self._deploy(source.destructive_package(listed, remaining), [], what=f"removal of {sum(map(len, doomed.values()))} component(s)")
        self.stamp = {t: n for t, n in remaining.items() if n}
        return [s.component for s in steps if s.action == "remove"]


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _field(described: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    return next((f for f in (described or {}).get("fields", []) if f.get("name") == name), None)


def _drift(expected: dict[str, object], actual: dict[str, object]) -> tuple[str, tuple[str, ...]]:
    details = drift_lines(expected, actual)
    return (DRIFT if details else OK), details


def _field_check(f: SfField, found: Mapping[str, Any] | None) -> Check:
    component = f"CustomField {f.full_name}"
    if found is None:
        return Check(component, MISSING)
    expected: dict[str, object] = {"type": DESCRIBE_TYPES[f.type], "externalId": f.external_id, "label": f.label}
    actual: dict[str, object] = {k: found.get(k) for k in expected}
    if f.type == "Text":
        expected.update(length=f.length, unique=f.unique)
        actual.update(length=found.get("length"), unique=found.get("unique"))
    if f.type == "Number":
        expected.update(precision=f.precision, scale=f.scale)
        actual.update(precision=found.get("precision"), scale=found.get("scale"))
    if f.type == "Lookup":
        expected["referenceTo"] = [f.reference_to]
        actual["referenceTo"] = found.get("referenceTo")
    details = drift_lines(expected, actual)
    return Check(component, DRIFT if details else OK, details)
