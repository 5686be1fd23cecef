"""A Salesforce org's metadata behind `responses`, for the installer through real simple-salesforce.

Answers like Salesforce: the Metadata API SOAP `deploy` (the zip is decoded and, when the
deploy succeeds, applied: package.xml adds, destructiveChanges.xml deletes) and
`checkDeployStatus` (InProgress once, then Succeeded, or Failed with componentFailures and
nothing applied when `fail_component` names a member); REST describe of Task, Opportunity,
User and the custom objects deployed (404 NOT_FOUND before), SOQL on
ApexClass / PermissionSet / NamedCredential / ExternalCredential / FieldPermissions /
StaticResource / User / PermissionSetAssignment / COUNT() of records (ExternalCredential
through the Tooling API's query), the static resource
Body, and PermissionSetAssignment create/delete.
"""
from __future__ import annotations

import base64
import io
import itertools
import json
import re
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import responses

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"
METADATA = f"{INSTANCE}/services/Soap/m/59.0/deployRequest"
MD = "{http://soap.sforce.com/2006/04/metadata}"
USER_ID = "005000000000009AAA"
ENVELOPE = '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="http://soap.sforce.com/2006/04/metadata"><soapenv:Body>{}</soapenv:Body></soapenv:Envelope>'
DESCRIBE = {"Text": "string", "Url": "url", "Number": "double", "Date": "date", "Checkbox": "boolean", "LongTextArea": "textarea", "Lookup": "reference"}
STANDARD = ("Task", "Opportunity", "User")
NAME_FIELDS = {"ApexClass": "Name", "PermissionSet": "Name", "NamedCredential": "DeveloperName", "ExternalCredential": "DeveloperName"}


class MetadataOrg:
    def __init__(self, http: responses.RequestsMock) -> None:
        self.components: dict[str, dict[str, Any]] = {}  # "Type member" -> parsed definition (fields: their XML elements)
        self.field_permissions: dict[str, set[str]] = {}  # permission set -> "Task.X" readable+editable
        self.stamp: dict[str, list[str]] | None = None
        self.assignments: dict[str, tuple[str, str]] = {}  # id -> (user id, permission set name)
        self.task_values: dict[str, int] = {}  # field -> Tasks holding a value
        self.record_values: dict[str, int] = {}  # "Object" -> its records, "Object.Field" -> records holding a value
        self.fail_component: str | None = None
        self.stuck = False  # deploys stay InProgress (Salesforce's queue is slow today)
        self.deploys: list[dict[str, Any]] = []  # each deploy: its options and zip files
        self._ids = itertools.count(1)
        self._pending: dict[str, list[str]] = {}
        http.add_callback(responses.POST, re.compile(re.escape(METADATA) + r"(/.*)?"), callback=self._soap)
        http.add_callback(responses.GET, f"{DATA}/query/", callback=self._query)
        http.add_callback(responses.GET, f"{DATA}/tooling/query/", callback=self._tooling_query)
        http.add_callback(responses.GET, f"{DATA}/analytics/reportTypes", callback=self._report_types)
        http.add_callback(responses.GET, re.compile(re.escape(f"{DATA}/sobjects/") + r"(\w+)/describe"), callback=self._describe)
        http.add_callback(responses.GET, re.compile(re.escape(f"{DATA}/sobjects/StaticResource/") + r"\w+/Body"), callback=self._stamp_body)
        http.add_callback(responses.POST, f"{DATA}/sobjects/PermissionSetAssignment", callback=self._assign)
        http.add_callback(responses.DELETE, re.compile(re.escape(f"{DATA}/sobjects/PermissionSetAssignment/") + r"\w+"), callback=self._unassign)

    def add_field(self, member: str, **elements: str) -> None:
        self.components[f"CustomField {member}"] = elements

    # ---- Metadata API -------------------------------------------------------------------

    def _soap(self, request: Any) -> tuple[int, dict, str]:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        root = ET.fromstring(body)
        if request.headers["SOAPAction"] == "deploy":
            return self._deploy(root)
        async_id = root.findtext(f".//{MD}asyncProcessId")
        states = self._pending[async_id]
        state = states.pop(0) if len(states) > 1 else states[0]
        failures = ""
        if state == "Failed":
            failures = (f"<componentFailures><componentType>CustomField</componentType><fileName>objects/Activity.object</fileName>"
                        f"<fullName>{self.fail_component}</fullName><problem>Cannot create a unique field: a field with this API name exists on Event</problem>"
                        f"<problemType>Error</problemType></componentFailures>")  # fmt: skip
        errors = "1" if state == "Failed" else "0"
        result = (f"<result><done>{str(state in ('Succeeded', 'Failed')).lower()}</done><id>{async_id}</id><details>{failures}</details>"
                  f"<numberComponentErrors>{errors}</numberComponentErrors><numberComponentsDeployed>{3 if state == 'Succeeded' else 0}</numberComponentsDeployed>"
                  f"<numberComponentsTotal>3</numberComponentsTotal><status>{state}</status><success>{str(state == 'Succeeded').lower()}</success></result>")  # fmt: skip
        return 200, {}, ENVELOPE.format(f"<checkDeployStatusResponse>{result}</checkDeployStatusResponse>")

    def _deploy(self, root: ET.Element) -> tuple[int, dict, str]:
        node = root.find(f".//{MD}DeployOptions")
        options = {} if node is None else {child.tag.removeprefix(MD): child.text for child in node}
        files = {}
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(root.findtext(f".//{MD}ZipFile") or ""))) as z:
            files = {name: z.read(name).decode() for name in z.namelist()}
        self.deploys.append({"options": options, "files": files})
        async_id = f"0Af00000000{next(self._ids):04d}AAA"
        adds, deletes = _members(files.get("package.xml", "")), _members(files.get("destructiveChanges.xml", ""))
        if self.stuck:
            self._pending[async_id] = ["InProgress"]
        elif self.fail_component and f"CustomField {self.fail_component}" in adds:
            self._pending[async_id] = ["InProgress", "Failed"]
        else:
            self._apply(files, adds, deletes)
            self._pending[async_id] = ["InProgress", "Succeeded"]
        return 200, {}, ENVELOPE.format(f"<deployResponse><result><done>false</done><id>{async_id}</id><state>Queued</state></result></deployResponse>")

    def _apply(self, files: dict[str, str], adds: list[str], deletes: list[str]) -> None:
        for member in adds:
            mdtype, name = member.split(" ", 1)
            if mdtype == "StaticResource":
                self.stamp = json.loads(files[f"staticresources/{name}.resource"])
            elif mdtype == "CustomObject":
                object_xml = ET.fromstring(files[f"objects/{name}.object"])
                self.components[member] = {c.tag.removeprefix(MD): c.text for c in object_xml if c.tag != f"{MD}fields"}
            elif mdtype == "CustomField":
                obj, field = name.split(".")
                object_xml = ET.fromstring(files[f"objects/{obj}.object"])
                node = next(f for f in object_xml.findall(f"{MD}fields") if f.findtext(f"{MD}fullName") == field)
                self.components[member] = {c.tag.removeprefix(MD): c.text for c in node}
            else:
                self.components[member] = {}
                if mdtype == "PermissionSet":
                    xml = ET.fromstring(files[f"permissionsets/{name}.permissionset"])
                    self.field_permissions[name] = {f.findtext(f"{MD}field") or "" for f in xml.findall(f"{MD}fieldPermissions")}
        for member in deletes:
            if member.startswith("StaticResource "):
                self.stamp = None
            if member.startswith("PermissionSet ") and any(ps == member.split(" ", 1)[1] for _, ps in self.assignments.values()):
                raise AssertionError(f"{member} is still assigned: Salesforce refuses to delete it")
            self.components.pop(member, None)
            if member.startswith("CustomObject "):  # its fields and its workflow go with it
                obj = member.split(" ", 1)[1]
                for gone in [m for m in self.components if m.startswith((f"CustomField {obj}.", f"WorkflowOutboundMessage {obj}.")) or m == f"Workflow {obj}"]:
                    del self.components[gone]
            self.field_permissions.pop(member.split(" ", 1)[1], None)

    # ---- REST ---------------------------------------------------------------------------

    def _describe(self, request: Any) -> tuple[int, dict, str]:
        sobject = request.url.rsplit("/", 2)[1]
        if sobject not in STANDARD and f"CustomObject {sobject}" not in self.components:
            return 404, {}, json.dumps([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        in_source = "Activity" if sobject == "Task" else sobject
        fields = [{"name": "Id", "type": "id", "length": 18, "externalId": False, "unique": False, "label": "Record ID"}]
        for member, e in self.components.items():
            if member.startswith(f"CustomField {in_source}."):
                fields.append({"name": member.split(".")[1], "type": DESCRIBE.get(e.get("type", ""), "string"), "label": e.get("label"),
                               "length": int(e["length"]) if e.get("length") else 255, "externalId": e.get("externalId") == "true", "unique": e.get("unique") == "true",
                               "precision": int(e["precision"]) if e.get("precision") else 0, "scale": int(e["scale"]) if e.get("scale") else 0,
                               "referenceTo": [e["referenceTo"]] if e.get("referenceTo") else []})  # fmt: skip
        label = self.components.get(f"CustomObject {sobject}", {}).get("label", sobject)
        return 200, {}, json.dumps({"name": sobject, "label": label, "fields": fields})

    def _query(self, request: Any, tooling: bool = False) -> tuple[int, dict, str]:
        soql = parse_qs(urlsplit(request.url).query)["q"][0]
        if " FROM ExternalCredential " in soql and not tooling:
            return 400, {}, json.dumps([{"errorCode": "INVALID_TYPE", "message": "sObject type 'ExternalCredential' is not supported."}])
        records: list[dict[str, Any]] = []
        if m := re.fullmatch(r"SELECT (\w+) FROM (\w+) WHERE \w+ IN \((.*)\)", soql):
            field, sobject, listed = m.groups()
            wanted = re.findall(r"'([^']*)'", listed)
            records = [{field: n} for n in wanted if _component(sobject, n) in self.components]
        elif soql.startswith("SELECT Parent.Name, Field"):
            records = [{"Parent": {"Name": ps}, "Field": f, "PermissionsRead": True, "PermissionsEdit": True} for ps, fs in self.field_permissions.items() for f in sorted(fs)]
        elif soql.startswith("SELECT Id FROM StaticResource"):
            records = [{"Id": "081000000000001AAA"}] if self.stamp is not None else []
        elif soql.startswith("SELECT Id FROM User WHERE Username = 'gamefilm@acme.example'"):
            records = [{"Id": USER_ID}]
        elif m := re.fullmatch(r"SELECT Id FROM PermissionSet WHERE Name = '(\w+)'", soql):
            records = [{"Id": "0PS000000000001AAA"}] if f"PermissionSet {m.group(1)}" in self.components else []
        elif m := re.fullmatch(r"SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '(\w+)' AND PermissionSet.Name = '(\w+)'", soql):
            records = [{"Id": i} for i, pair in self.assignments.items() if pair == m.groups()]
        elif m := re.fullmatch(r"SELECT COUNT\(\) FROM Task WHERE (\w+) != null", soql):
            return 200, {}, json.dumps({"totalSize": self.task_values.get(m.group(1), 0), "done": True, "records": []})
        elif m := re.fullmatch(r"SELECT COUNT\(\) FROM (\w+)(?: WHERE (\w+) (?:!= null|= true))?", soql):
            key = m.group(1) + (f".{m.group(2)}" if m.group(2) else "")
            return 200, {}, json.dumps({"totalSize": self.record_values.get(key, 0), "done": True, "records": []})
        elif not soql.startswith("SELECT Id FROM User"):
            raise AssertionError(f"unexpected SOQL {soql}")
        return 200, {}, json.dumps({"totalSize": len(records), "done": True, "records": records})

    def _tooling_query(self, request: Any) -> tuple[int, dict, str]:
        soql = parse_qs(urlsplit(request.url).query)["q"][0]
        assert re.search(r" FROM (ExternalCredential|QuickActionDefinition|FlowDefinition|WorkflowOutboundMessage) ", soql), f"unexpected Tooling API query: {soql}"
        return self._query(request, tooling=True)

    def _report_types(self, request: Any) -> tuple[int, dict, str]:
        custom = [{"type": f"{m.split(' ', 1)[1]}__c", "label": m, "describeUrl": ""} for m in self.components if m.startswith("ReportType ")]
        return 200, {}, json.dumps([{"label": "Accounts & Contacts", "reportTypes": [{"type": "AccountList", "label": "Accounts", "describeUrl": ""}]},
                                    {"label": "Other Reports", "reportTypes": custom}])  # fmt: skip

    def _stamp_body(self, request: Any) -> tuple[int, dict, str]:
        return 200, {}, json.dumps(self.stamp)

    def _assign(self, request: Any) -> tuple[int, dict, str]:
        body = json.loads(request.body)
        assert body["PermissionSetId"] == "0PS000000000001AAA"
        new_id = f"0Pa00000000{next(self._ids):04d}AAA"
        self.assignments[new_id] = (body["AssigneeId"], "GameFilm_Integration")
        return 201, {}, json.dumps({"id": new_id, "success": True, "errors": []})

    def _unassign(self, request: Any) -> tuple[int, dict, str]:
        del self.assignments[request.url.rsplit("/", 1)[1]]
        return 204, {}, ""


def _component(sobject: str, name: str) -> str:
    """The "Type member" a queried row stands for (quick actions and reports are named without
    their object or folder; this org has one of each)."""
    if sobject == "QuickActionDefinition":
        return f"QuickAction Opportunity.{name}"
    if sobject == "Folder":
        return f"Report {name}/"
    if sobject == "Report":
        return f"Report GameFilm/{name}"
    if sobject == "FlowDefinition":
        return f"Flow {name}"
    if sobject == "WorkflowOutboundMessage":
        return f"WorkflowOutboundMessage Call_Review__c.{name}"
    return f"{sobject} {name}"


def _members(package: str) -> list[str]:
    if not package:
        return []
    root = ET.fromstring(package)
    return [f"{t.findtext(f'{MD}name')} {m.text}" for t in root.findall(f"{MD}types") for m in t.findall(f"{MD}members")]
