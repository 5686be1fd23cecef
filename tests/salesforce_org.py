"""A Salesforce org behind `responses`, for exactly-once tests through the real simple-salesforce.

It keeps what the gateway writes (Tasks, FeedItems, team members, field updates) and answers
like Salesforce: sObject Collections create/update, the Task upsert on GameFilm_Key__c (only
when `key_field`; else 404 NOT_FOUND), SOQL on Task/FeedItem by the lookups' filters (queryAll
also returns deleted Tasks), and the OAuth userinfo endpoint. Faults are injected per write:
`faults` holds what happens to each next write request:
- "apply-500": applied, then answered 500 (the answer is lost);
- "apply-drop": applied, then the connection drops (requests.ConnectionError);
- "apply-timeout": applied, then the answer never comes (requests.ReadTimeout);
- "refuse-500": answered 500 without applying anything;
- "refused": the connection is refused before sending (nothing applied);
- None: answered normally.
"""
from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"
COLLECTIONS = f"{DATA}/composite/sobjects"
UPSERT_TASKS = f"{COLLECTIONS}/Task/GameFilm_Key__c"
USERINFO = f"{INSTANCE}/services/oauth2/userinfo"
INTEGRATION_USER = "005000000000009AAA"
PREFIXES = {"Task": "00T", "FeedItem": "0D5", "OpportunityTeamMember": "00q"}


def refused() -> requests.exceptions.ConnectionError:
    """What requests raises when nothing listens: the request never left."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/services/data", reason))  # type: ignore[arg-type]


class FakeOrg:
    def __init__(self, http: responses.RequestsMock, *, key_field: bool = True, now: datetime | None = None):
        self.key_field = key_field
        self.deals: set[str] | None = None  # when a set: writes about other records are refused per record
        self.faults_by_type: dict[str, list[str | None]] = {}  # command type name -> faults of its next writes
        self.now = now or datetime(2026, 11, 24, 5, 0, tzinfo=timezone.utc)
        self.records: dict[str, dict[str, Any]] = {}  # id -> record (with attributes.type)
        self.updates: list[dict[str, Any]] = []  # every applied field update, in order
        self.faults: list[str | None] = []
        self.writes = 0  # write requests received (the faulty ones included)
        self.seen: list[str | None] = []  # the fault each write request met
        self._ids = itertools.count(1)
        for method in (responses.POST, responses.PATCH):
            http.add_callback(method, COLLECTIONS, callback=self._collection)
        http.add_callback(responses.PATCH, UPSERT_TASKS, callback=self._upsert)
        for path in ("query/", "queryAll/"):
            http.add_callback(responses.GET, f"{DATA}/{path}", callback=self._query)
        http.add(responses.GET, USERINFO, json={"user_id": INTEGRATION_USER, "organization_id": "00D000000000001AAA"})

    # ---- what the org holds ------------------------------------------------------------

    def of_type(self, sobject: str, *, deleted: bool = False) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["attributes"]["type"] == sobject and (deleted or not r.get("IsDeleted"))]

    def by_marker(self) -> dict[str, list[dict[str, Any]]]:
        """Records by the marker they carry (external id, or the last line of Description/Body)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for r in self.records.values():
            text = r.get("Description") or r.get("Body") or ""
            marker = r.get("GameFilm_Key__c") or text.rsplit("\n", 1)[-1]
            found.setdefault(marker, []).append(r)
        return found

    def delete(self, record_id: str) -> None:
        self.records[record_id]["IsDeleted"] = True

    # ---- HTTP ----------------------------------------------------------------------------

    def _collection(self, request: Any) -> Any:
        body = json.loads(request.body)
        return self._write(request.method, body["records"], upsert=False)

    def _upsert(self, request: Any) -> Any:
        if not self.key_field:
            return 404, {}, json.dumps([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        return self._write("PATCH", json.loads(request.body)["records"], upsert=True)

    def _write(self, method: str, records: list[dict[str, Any]], *, upsert: bool) -> Any:
        self.writes += 1
        typed = self.faults_by_type.get(type_of(records[0]))
        fault = typed.pop(0) if typed else self.faults.pop(0) if self.faults else None
        self.seen.append(fault)
        if fault == "refused":
            return refused()
        if fault == "refuse-500":
            return 500, {}, json.dumps([{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred"}])
        if fault == "429":
            return 429, {"Retry-After": "1"}, json.dumps([{"errorCode": "TOO_MANY_REQUESTS", "message": "Too many requests"}])
        results = [self._apply(method, r, upsert) for r in records]
        if fault == "apply-500":
            return 500, {}, json.dumps([{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred"}])
        if fault == "apply-drop":
            return requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))")
        if fault == "apply-timeout":
            return requests.exceptions.ReadTimeout("HTTPSConnectionPool: Read timed out. (read timeout=30)")
        return 200, {"Sforce-Limit-Info": "api-usage=10/100000"}, json.dumps(results)

    def _apply(self, method: str, record: dict[str, Any], upsert: bool) -> dict[str, Any]:
        sobject = record["attributes"]["type"]
        about = record.get("id") or record.get("WhatId") or record.get("ParentId") or record.get("OpportunityId")
        if self.deals is not None and about not in self.deals:
            return {"success": False, "errors": [{"statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id", "fields": []}]}
        if method == "PATCH" and not upsert:
            self.updates.append(record)
            return {"id": record["id"], "success": True, "errors": []}
        if upsert:
            existing = [r for r in self.of_type("Task", deleted=True) if r.get("GameFilm_Key__c") == record["GameFilm_Key__c"]]
            if existing:
                existing[0].update({k: v for k, v in record.items() if k != "attributes"})
                return {"id": existing[0]["Id"], "success": True, "errors": [], "created": False}
        if sobject == "OpportunityTeamMember":
            for r in self.of_type(sobject):  # a duplicate member answers with the existing record
                if (r["OpportunityId"], r["UserId"]) == (record["OpportunityId"], record["UserId"]):
                    return {"id": r["Id"], "success": True, "errors": []}
        new_id = f"{PREFIXES[sobject]}{next(self._ids):012d}AAA"
        self.records[new_id] = {**record, "Id": new_id, "CreatedById": INTEGRATION_USER, "CreatedDate": self.now}
        return {"id": new_id, "success": True, "errors": [], **({"created": True} if upsert else {})}

    def _query(self, request: Any) -> Any:
        url = urlsplit(request.url)
        soql = parse_qs(url.query)["q"][0]
        include_deleted = url.path.endswith("/queryAll/")
        select, sobject, where = re.fullmatch(r"SELECT (.+) FROM (\w+) WHERE (.+)", soql).groups()  # type: ignore[union-attr]
        if "GameFilm_Key__c" in where and not self.key_field:
            return 400, {}, json.dumps([{"errorCode": "INVALID_FIELD", "message": f"\n{soql}\nERROR at Row:1:Column:8\nNo such column 'GameFilm_Key__c' on entity 'Task'."}])
        clauses = _clauses(where)
        matches = [r for r in self.of_type(sobject, deleted=include_deleted) if all(test(r) for test in clauses)]
        fields = [f.strip() for f in select.split(",")]
        rows = [{"attributes": {"type": sobject}, **{f: r.get(f) for f in fields}} for r in matches]
        return 200, {}, json.dumps({"totalSize": len(rows), "done": True, "records": rows})


def type_of(record: dict[str, Any]) -> str:
    """Which command a written record carries out (faults are injected per command type)."""
    sobject = record["attributes"]["type"]
    if sobject == "Task":
        return "LogCall" if record.get("TaskSubtype") == "Call" else "CreateTask"
    return {"FeedItem": "AddNote", "OpportunityTeamMember": "AddCollaborators"}.get(sobject, "UpdateFields")


def _clauses(where: str) -> list[Any]:
    """The lookups' filters as tests: `F IN ('a','b')`, `F = 'x'`, `CreatedDate >= 2026-...Z`, joined by AND."""
    tests = []
    for clause in where.split(" AND "):
        field, op, value = re.fullmatch(r"(\w+) (IN|=|>=) (.+)", clause.strip()).groups()  # type: ignore[union-attr]
        if op == "IN":
            values = frozenset(re.findall(r"'([^']*)'", value))
            tests.append(lambda r, f=field, vs=values: r.get(f) in vs)
        elif op == "=":
            tests.append(lambda r, f=field, v=value.strip("'"): r.get(f) == v)
        else:
            since = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            tests.append(lambda r, f=field, t=since: r[f] >= t)
    return tests


class SalesforceHarness:
    """The gateway contract's harness (tests/gateway_contract.py) on a FakeOrg: the real
    SalesforceGateway and simple-salesforce, HTTP answered by `responses`. `key_field=False`
    is an org before the installer (every create found by its marker); with it, Tasks are
    upserted and an applied-then-lost Task is resent inside the gateway (idempotent)."""

    sends = True
    faults = frozenset({"applied-then-500", "applied-then-drop", "timeout", "refused-500", "429"})
    _KINDS = {"applied-then-500": "apply-500", "applied-then-drop": "apply-drop", "timeout": "apply-timeout", "refused-500": "refuse-500", "429": "429"}

    def __init__(self, http: responses.RequestsMock, *, key_field: bool = False):
        from simple_salesforce import Salesforce

        from integration.gateway.salesforce import SalesforceGateway
        from integration.gateway.transport import RetryPolicy

        self.org = FakeOrg(http, key_field=key_field)
        self.org.deals = set()
        self.gateway = SalesforceGateway(
            lambda: Salesforce(instance_url=INSTANCE, session_id="contract"), sleep=lambda s: None, retry=RetryPolicy(attempts=2), now=lambda: self.org.now,
        )  # fmt: skip

    def deal(self, deal_id: str) -> None:
        assert self.org.deals is not None
        self.org.deals.add(deal_id)

    def fail_next(self, kind: str, command_type: type, times: int = 1) -> None:
        self.org.faults_by_type.setdefault(command_type.__name__, []).extend([self._KINDS[kind]] * times)

    def effects(self, command: Any) -> int:
        if not command.idempotent:
            return len(self.org.by_marker().get(command.marker, []))
        if hasattr(command, "user_ids"):
            members = {(r["OpportunityId"], r["UserId"]) for r in self.org.of_type("OpportunityTeamMember")}
            return int(all((command.record_id, u) in members for u in command.user_ids))
        return int(any(u["id"] == command.record_id and all(u.get(k) == v for k, v in command.fields.items()) for u in self.org.updates))

    def created(self, command_type: type) -> int:
        return sum(1 for r in self.org.records.values() if type_of(r) == command_type.__name__)
