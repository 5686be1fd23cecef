"""Doctor checks for a Salesforce org: three steps, two API calls after authenticating.

What the describes show about the org (no multi-currency, no record types, no teams, whether
Task has the GameFilm_Key__c external id) also holds for the gateway's later calls. Recordings
need two Task fields: GameFilm_Recording_Id__c (External ID, Unique: what makes attaching a
recording an upsert) and the tenant's recording URL field.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from integration.gateway import CrmError, Finding
from integration.gateway.salesforce.calls import RECORDING_ID_FIELD
from integration.gateway.salesforce.handlers import ENABLE_TEAMS
from integration.gateway.salesforce.mapping import TEAM_RELATIONSHIP
from integration.gateway.salesforce.org import TASK_KEY_FIELD, OrgShape
from integration.gateway.salesforce.transport import SalesforceTransport

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

CHECKED_OBJECTS = ("Opportunity", "Task", "FeedItem", "OpportunityTeamMember")
TASK_FIELDS = ("WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds")


def check(transport: SalesforceTransport, org: OrgShape, limit_share: float, recording_url_field: str) -> list[Finding]:
    """Authenticate, read limits, describe the objects the product writes in one batch."""
    try:
        transport.call("authenticate", lambda sf: sf, guard=False)
    except CrmError as exc:
        return [Finding("auth", False, f"Could not authenticate to Salesforce ({exc}); check the connected app, the integration user and the tenant's secrets.")]
    findings = [Finding("auth", True, "Authenticated to Salesforce as the integration user.")]
    try:
        limits = transport.call("limits", lambda sf: sf.limits(), guard=False)
        findings.append(_usage_finding(transport, limits, limit_share))
        described = _describe(transport, CHECKED_OBJECTS)
    except CrmError as exc:
        return findings + [Finding("api", False, f"Salesforce refused the doctor's API calls ({exc}); check that the integration user has 'API Enabled' and 'View Setup and Configuration'.")]
    findings.extend(_object_findings(org, described))
    findings.extend(_recording_findings(described.get("Task"), recording_url_field))
    return findings


def _usage_finding(transport: SalesforceTransport, limits: Mapping[str, Any], limit_share: float) -> Finding:
    daily = limits.get("DailyApiRequests") or {}
    total, remaining = int(daily.get("Max", 0)), int(daily.get("Remaining", 0))
    if not total:
        return Finding("api_usage", False, "Salesforce did not report DailyApiRequests; check that the integration user may view org limits.")
    used = total - remaining
    transport.usage = (used, total)
    share = used / total
    if share >= limit_share:
        return Finding("api_usage", False, f"API usage is {used}/{total} ({share:.0%}), at or above this tenant's pause threshold of {limit_share:.0%}: non-urgent work waits until usage drops, or raise api_limit_share.")
    return Finding("api_usage", True, f"API usage is {used}/{total} ({share:.0%}) of the rolling 24-hour allowance; non-urgent work pauses at {limit_share:.0%}.")


def _describe(transport: SalesforceTransport, names: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """Describe several objects in one Composite Batch call; None for objects the user can't see."""

    def batch(sf: Salesforce) -> Any:
        subrequests = [{"method": "GET", "url": f"v{sf.sf_version}/sobjects/{name}/describe"} for name in names]
        return sf.restful("composite/batch", method="POST", json={"batchRequests": subrequests})

    response = transport.call("describe", batch, guard=False)
    return {name: r["result"] if r["statusCode"] == 200 else None for name, r in zip(names, response["results"])}


def _object_findings(org: OrgShape, described: Mapping[str, dict[str, Any] | None]) -> list[Finding]:
    opportunity, task, team = described.get("Opportunity"), described.get("Task"), described.get("OpportunityTeamMember")
    if opportunity:
        names = {f["name"] for f in opportunity.get("fields", [])}
        org.absent.update(f for f in ("CurrencyIsoCode", "RecordTypeId") if f not in names)
    if task:
        org.task_key_field = any(f["name"] == TASK_KEY_FIELD and f.get("externalId") and f.get("createable") for f in task.get("fields", []))
    if team is None:
        org.absent.add(TEAM_RELATIONSHIP)
    return [
        _opportunity_finding(opportunity),
        _task_finding(task, org.task_key_field),
        _feed_item_finding(described.get("FeedItem")),
        _team_finding(team),
    ]


def _opportunity_finding(describe: Mapping[str, Any] | None) -> Finding:
    if not describe or not describe.get("updateable"):
        return Finding("opportunity", False, "The integration user cannot read and edit Opportunity: grant Read and Edit on Opportunities in its profile or permission set.")
    updateable = [f for f in describe.get("fields", []) if f.get("updateable")]
    custom = sum(1 for f in updateable if f.get("custom"))
    return Finding("opportunity", True, f"Opportunity is readable and updateable: {len(updateable)} fields are updateable ({custom} custom); a custom field missing from that count needs field-level security in the product's permission set.")


def _task_finding(describe: Mapping[str, Any] | None, keyed: bool | None) -> Finding:
    if not describe or not describe.get("createable"):
        return Finding("task", False, "The integration user cannot create Tasks: grant Create on Tasks (the 'Edit Tasks' permission) in its profile or permission set.")
    createable = {f["name"] for f in describe.get("fields", []) if f.get("createable")}
    missing = [f for f in TASK_FIELDS if f not in createable]
    if missing:
        return Finding("task", False, f"The integration user cannot set Task fields {', '.join(missing)}: grant Edit on them in its permission set.")
    how = (
        f"upserted on the external id {TASK_KEY_FIELD}" if keyed
        else f"created with a marker line in Description ({TASK_KEY_FIELD} is not installed: the installer adds it)"
    )  # fmt: skip
    return Finding("task", True, f"Tasks and call logs can be created; they are {how}.")


def _recording_findings(describe: Mapping[str, Any] | None, url_field: str) -> list[Finding]:
    """One actionable sentence per Task field recordings need (none when Task is not usable:
    the task finding already says how to fix that)."""
    if not describe:
        return []
    fields = {f["name"]: f for f in describe.get("fields", [])}
    key = fields.get(RECORDING_ID_FIELD)
    if key is None or not (key.get("externalId") and key.get("unique")):
        state = "is missing" if key is None else "is not marked External ID and Unique"
        found = Finding("recording_id", False, f"Task.{RECORDING_ID_FIELD} {state}: deploy it on Activity as Text(255), External ID, Unique (the installer does), or recordings cannot be attached once.")
    elif not (key.get("createable") and key.get("updateable")):
        found = Finding("recording_id", False, f"The integration user cannot write Task.{RECORDING_ID_FIELD}: grant Edit on it in the product's permission set.")
    else:
        found = Finding("recording_id", True, f"Recordings are attached as call Tasks upserted on the external id {RECORDING_ID_FIELD}.")
    url = fields.get(url_field)
    if url is None:
        link = Finding("recording_url", False, f"Task has no field {url_field}: create it on Activity (type URL), or set the tenant's recording_url_field to the org's recording URL field.")
    elif url.get("type") != "url" or not (url.get("createable") and url.get("updateable")):
        link = Finding("recording_url", False, f"Task.{url_field} must be a URL field the integration user can edit: check its type and grant Edit on it in the product's permission set.")
    else:
        link = Finding("recording_url", True, f"Recording links are written to Task.{url_field}.")
    return [found, link]


def _feed_item_finding(describe: Mapping[str, Any] | None) -> Finding:
    if not describe or not describe.get("createable"):
        return Finding("feed_item", False, "Notes need Chatter: enable it in Setup → Chatter Settings and turn on feed tracking for Opportunity.")
    return Finding("feed_item", True, "Chatter posts (FeedItem) can be created for notes.")


def _team_finding(describe: Mapping[str, Any] | None) -> Finding:
    if describe is None:
        return Finding("opportunity_teams", False, f"{ENABLE_TEAMS}, so leaders can join large deals.")
    if not describe.get("createable"):
        return Finding("opportunity_teams", False, "The integration user cannot add opportunity team members: grant Edit on Opportunities and access to Opportunity Teams.")
    return Finding("opportunity_teams", True, "Opportunity Teams are enabled; leaders can be added to deals.")
