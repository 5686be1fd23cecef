"""The Salesforce side of the manifest as files (pure: text in, text out).

`source_files` is the SFDX project under crm_components/salesforce (what `gamefilm components
build` writes and the drift test compares); `package` is the same components in Metadata API
format, zipped for `Salesforce.deploy` (what `sf project convert source` makes of the
project, which a test checks with the real CLI). Hand-written Apex bodies are read from the
project; everything else is rendered from the manifest.
"""
from __future__ import annotations

import io
import json
import zipfile
from typing import Iterable, Mapping
from xml.sax.saxutils import escape

from integration.components import salesforce_automation as automation
from integration.components import salesforce_ui as ui
from integration.components.manifest import API_VERSION, Manifest, SfField, SfObject, SfPermissionSet

XMLNS = "http://soap.sforce.com/2006/04/metadata"
SOURCE_ROOT = "force-app/main/default"
STAMP = "GameFilm_Install"  # static resource listing what gamefilm install deployed


def _doc(root: str, elements: Iterable[str]) -> str:
    body = "".join(f"    {e}\n" for e in elements)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{XMLNS}">\n{body}</{root}>\n'


def _el(name: str, value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else escape(str(value))
    return f"<{name}>{text}</{name}>"


def _field_elements(f: SfField, *, with_name: bool) -> list[str]:
    """The CustomField elements Salesforce shows on retrieve for each type (checkboxes and
    long text take no `required`; a User lookup takes no delete constraint or related list label)."""
    elements = [_el("fullName", f.name)] if with_name else []
    if f.type == "Text":
        elements.append(_el("caseSensitive", False))
    if f.type == "Checkbox":
        elements.append(_el("defaultValue", False))
    if f.type == "Lookup" and f.reference_to != "User":
        elements.append(_el("deleteConstraint", "SetNull"))
    elements += [_el("description", f.description), _el("externalId", f.external_id), _el("label", f.label)]
    if f.length is not None:
        elements.append(_el("length", f.length))
    if f.precision is not None:
        elements.append(_el("precision", f.precision))
    if f.type == "Lookup":
        elements.append(_el("referenceTo", f.reference_to))
        if f.reference_to != "User":
            elements.append(_el("relationshipLabel", (f.relationship_name or "").replace("_", " ")))  # the parent's related list
        elements.append(_el("relationshipName", f.relationship_name))
    if f.type not in ("Checkbox", "LongTextArea"):
        elements.append(_el("required", False))
    if f.scale is not None:
        elements.append(_el("scale", f.scale))
    elements.append(_el("type", f.type))
    if f.type in ("Text", "Number"):
        elements.append(_el("unique", f.unique))
    if f.type == "LongTextArea":
        elements.append(_el("visibleLines", 5))
    return elements


def _object_elements(o: SfObject) -> list[str]:
    name_field = "".join([_el("displayFormat", o.name_format), _el("label", o.name_label), _el("type", "AutoNumber")])
    return [
        _el("deploymentStatus", "Deployed"), _el("description", o.description), _el("enableActivities", False),
        _el("enableReports", True),  # report types and reports are built on it
        _el("label", o.label), f"<nameField>{name_field}</nameField>", _el("pluralLabel", o.plural), _el("sharingModel", "Private"),
    ]  # fmt: skip


def _permission_set(p: SfPermissionSet, manifest: Manifest) -> str:
    elements = [_el("description", p.description)]
    for principal in p.principals:
        elements.append(f"<externalCredentialPrincipalAccesses>{_el('enabled', True)}{_el('externalCredentialPrincipal', principal)}</externalCredentialPrincipalAccesses>")
    if p.fields:  # FLS is refused on required and master-detail fields: the manifest has none
        for f in sorted(manifest.sf_fields, key=lambda f: f"{f.sobject}.{f.name}"):
            elements.append(f"<fieldPermissions>{_el('editable', True)}{_el('field', f'{f.sobject}.{f.name}')}{_el('readable', True)}</fieldPermissions>")
    elements += [_el("hasActivationRequired", False), _el("label", p.label)]
    if p.fields:
        for o in sorted(manifest.sf_objects, key=lambda o: o.name):
            # View All + Modify All (which needs Delete): the objects are Private and their records
            # belong to reviewers, yet the integration user reads every review (the poll), writes the
            # weighted score back and shares each review with its rep (a manual share).
            access = [("allowCreate", True), ("allowDelete", True), ("allowEdit", True), ("allowRead", True),
                      ("modifyAllRecords", True), ("object", o.name), ("viewAllRecords", True)]  # fmt: skip
            elements.append(f"<objectPermissions>{''.join(_el(k, v) for k, v in access)}</objectPermissions>")
    return _doc("PermissionSet", elements)


def _external_credential(name: str, label: str, principal: str) -> str:
    parameter = "".join([_el("parameterGroup", principal), _el("parameterName", principal), _el("parameterType", "NamedPrincipal"), _el("sequenceNumber", 1)])
    return _doc("ExternalCredential", [_el("authenticationProtocol", "Custom"), f"<externalCredentialParameters>{parameter}</externalCredentialParameters>", _el("label", label)])


def _named_credential(label: str, external_credential: str, url: str) -> str:
    return _doc("NamedCredential", [
        _el("allowMergeFieldsInBody", False),
        _el("allowMergeFieldsInHeader", True),  # the signature header is a credential formula
        _el("calloutStatus", "Enabled"),
        _el("generateAuthorizationHeader", False),
        _el("label", label),
        f"<namedCredentialParameters>{_el('parameterName', 'Url')}{_el('parameterType', 'Url')}{_el('parameterValue', url)}</namedCredentialParameters>",
        f"<namedCredentialParameters>{_el('externalCredential', external_credential)}{_el('parameterName', 'ExternalCredential')}{_el('parameterType', 'Authentication')}</namedCredentialParameters>",
        _el("namedCredentialType", "SecuredEndpoint"),
    ])  # fmt: skip


def _apex_meta() -> str:
    return _doc("ApexClass", [_el("apiVersion", API_VERSION), _el("status", "Active")])


def source_files(manifest: Manifest) -> dict[str, str]:
    """Generated files of the SFDX project, by path relative to crm_components/salesforce."""
    files = {"sfdx-project.json": json.dumps({
        "packageDirectories": [{"path": "force-app", "default": True}],
        "name": "gamefilm", "namespace": "", "sourceApiVersion": API_VERSION,
    }, indent=2) + "\n"}  # fmt: skip
    for o in manifest.sf_objects:
        files[f"{SOURCE_ROOT}/objects/{o.name}/{o.name}.object-meta.xml"] = _doc("CustomObject", _object_elements(o))
    for f in manifest.sf_fields:
        files[f"{SOURCE_ROOT}/objects/{f.object}/fields/{f.name}.field-meta.xml"] = _doc("CustomField", _field_elements(f, with_name=True))
    for p in manifest.sf_permission_sets:
        files[f"{SOURCE_ROOT}/permissionsets/{p.name}.permissionset-meta.xml"] = _permission_set(p, manifest)
    for c in manifest.sf_apex_classes:
        files[f"{SOURCE_ROOT}/classes/{c.name}.cls-meta.xml"] = _apex_meta()
    for e in manifest.sf_external_credentials:
        files[f"{SOURCE_ROOT}/externalCredentials/{e.name}.externalCredential-meta.xml"] = _external_credential(e.name, e.label, e.principal)
    for n in manifest.sf_named_credentials:
        files[f"{SOURCE_ROOT}/namedCredentials/{n.name}.namedCredential-meta.xml"] = _named_credential(n.label, n.external_credential, n.url)
    for q in manifest.sf_quick_actions:
        files[f"{SOURCE_ROOT}/quickActions/{q.full_name}.quickAction-meta.xml"] = ui.quick_action(q, _doc, _el)
    for t in manifest.sf_report_types:
        files[f"{SOURCE_ROOT}/reportTypes/{t.name}.reportType-meta.xml"] = ui.report_type(t, _doc, _el)
    for folder in manifest.sf_report_folders:
        files[f"{SOURCE_ROOT}/reports/{folder.name}.reportFolder-meta.xml"] = ui.report_folder(folder, _doc, _el)
    for r in manifest.sf_reports:
        files[f"{SOURCE_ROOT}/reports/{r.full_name}.report-meta.xml"] = ui.report(r, _doc, _el)
    for obj, text in automation.workflows(manifest.sf_outbound_messages, _doc, _el).items():
        files[f"{SOURCE_ROOT}/workflows/{obj}.workflow-meta.xml"] = text
    for fl in manifest.sf_flows:
        files[f"{SOURCE_ROOT}/flows/{fl.name}.flow-meta.xml"] = automation.flow(fl, _doc, _el)
    return files


def members(manifest: Manifest) -> dict[str, list[str]]:
    """Metadata API type -> member names: what package.xml lists for the whole manifest."""
    found: dict[str, list[str]] = {
        "ApexClass": [c.name for c in manifest.sf_apex_classes],
        "CustomField": [f.full_name for f in manifest.sf_fields],
        "CustomObject": [o.name for o in manifest.sf_objects],
        "ExternalCredential": [e.name for e in manifest.sf_external_credentials],
        "Flow": [fl.name for fl in manifest.sf_flows],
        "NamedCredential": [n.name for n in manifest.sf_named_credentials],
        "PermissionSet": [p.name for p in manifest.sf_permission_sets],
        "QuickAction": [q.full_name for q in manifest.sf_quick_actions],
        # a folder is "<name>/", as the Salesforce CLI lists it (forcedotcom/cli#3183: deploys on Linux and macOS)
        "Report": [f"{f.name}/" for f in manifest.sf_report_folders] + [r.full_name for r in manifest.sf_reports],
        "ReportType": [t.name for t in manifest.sf_report_types],
        "Workflow": sorted({m.object for m in manifest.sf_outbound_messages}),  # the file holding them, listed by `sf project convert` too
        "WorkflowOutboundMessage": [m.full_name for m in manifest.sf_outbound_messages],
    }
    return {t: sorted(names) for t, names in sorted(found.items()) if names}


def package_xml(selected: Mapping[str, Iterable[str]]) -> str:
    types = [f"<types>{''.join(_el('members', m) for m in sorted(names))}{_el('name', t)}</types>" for t, names in sorted(selected.items()) if names]
    return _doc("Package", [*types, _el("version", API_VERSION)])


def package(manifest: Manifest, apex_bodies: Mapping[str, str], selected: Mapping[str, Iterable[str]], stamp: Mapping[str, list[str]],
            public_base_url: str | None = None, integration_user: str | None = None) -> bytes:
    """A Metadata API zip of the `selected` components plus the install stamp (a static
    resource listing every component Game Film installed), so both land in one deploy.
    Outbound messages go to `public_base_url` as `integration_user` (placeholders when None)."""
    chosen = {t: set(names) for t, names in selected.items()}
    fields = [f for f in manifest.sf_fields if f.full_name in chosen.get("CustomField", ())]
    objects = {o.name: o for o in manifest.sf_objects if o.name in chosen.get("CustomObject", ())}
    files: dict[str, str] = {}
    for obj in sorted({f.object for f in fields} | set(objects)):
        own = _object_elements(objects[obj]) if obj in objects else []
        files[f"objects/{obj}.object"] = _doc("CustomObject", own + [f"<fields>{''.join(_field_elements(f, with_name=True))}</fields>" for f in fields if f.object == obj])
    for c in manifest.sf_apex_classes:
        if c.name in chosen.get("ApexClass", ()):
            files[f"classes/{c.name}.cls"] = apex_bodies[c.name]
            files[f"classes/{c.name}.cls-meta.xml"] = _apex_meta()
    for p in manifest.sf_permission_sets:
        if p.name in chosen.get("PermissionSet", ()):
            files[f"permissionsets/{p.name}.permissionset"] = _permission_set(p, manifest)
    for e in manifest.sf_external_credentials:
        if e.name in chosen.get("ExternalCredential", ()):
            files[f"externalCredentials/{e.name}.externalCredential"] = _external_credential(e.name, e.label, e.principal)
    for n in manifest.sf_named_credentials:
        if n.name in chosen.get("NamedCredential", ()):
            files[f"namedCredentials/{n.name}.namedCredential"] = _named_credential(n.label, n.external_credential, n.url)
    for q in manifest.sf_quick_actions:
        if q.full_name in chosen.get("QuickAction", ()):
            files[f"quickActions/{q.full_name}.quickAction"] = ui.quick_action(q, _doc, _el)
    for t in manifest.sf_report_types:
        if t.name in chosen.get("ReportType", ()):
            files[f"reportTypes/{t.name}.reportType"] = ui.report_type(t, _doc, _el)
    for folder in manifest.sf_report_folders:
        if f"{folder.name}/" in chosen.get("Report", ()):
            files[f"reports/{folder.name}-meta.xml"] = ui.report_folder(folder, _doc, _el)
    for r in manifest.sf_reports:
        if r.full_name in chosen.get("Report", ()):
            files[f"reports/{r.full_name}.report"] = ui.report(r, _doc, _el)
    messages = [m for m in manifest.sf_outbound_messages if m.full_name in chosen.get("WorkflowOutboundMessage", ()) or m.object in chosen.get("Workflow", ())]
    for obj, text in automation.workflows(messages, _doc, _el).items():
        files[f"workflows/{obj}.workflow"] = automation.filled(text, public_base_url, integration_user)
    for fl in manifest.sf_flows:
        if fl.name in chosen.get("Flow", ()):
            files[f"flows/{fl.name}.flow"] = automation.filled(automation.flow(fl, _doc, _el), public_base_url, integration_user)
    files[f"staticresources/{STAMP}.resource"] = _stamp(stamp)
    files[f"staticresources/{STAMP}.resource-meta.xml"] = _stamp_meta()
    files["package.xml"] = package_xml({**{t: sorted(n) for t, n in chosen.items()}, "StaticResource": [STAMP]})
    return _zip(files)


def destructive_package(selected: Mapping[str, Iterable[str]], remaining: Mapping[str, list[str]]) -> bytes:
    """A zip that deletes `selected`; the stamp goes too, or is rewritten to list `remaining`."""
    doomed = {t: sorted(n) for t, n in selected.items()}
    files = {"package.xml": package_xml({})}
    if any(remaining.values()):
        files["package.xml"] = package_xml({"StaticResource": [STAMP]})
        files[f"staticresources/{STAMP}.resource"] = _stamp(remaining)
        files[f"staticresources/{STAMP}.resource-meta.xml"] = _stamp_meta()
    else:
        doomed["StaticResource"] = [STAMP]
    files["destructiveChanges.xml"] = package_xml(doomed)
    return _zip(files)


def _stamp(stamp: Mapping[str, Iterable[str]]) -> str:
    return json.dumps({t: sorted(names) for t, names in sorted(stamp.items()) if names}, indent=1)


def _stamp_meta() -> str:
    return _doc("StaticResource", [_el("cacheControl", "Private"), _el("contentType", "application/json")])


def _zip(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(files):
            z.writestr(path, files[path])
    return buffer.getvalue()
