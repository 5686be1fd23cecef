"""CRM stand-ins that fail a share of calls at random (seeded), for bench/faults.py.

- `FaultyHubSpot`: the loopback fake HubSpot (tests/hubspot_server.py); every /crm/ request
  (reads, updates, creates, association reads) fails with probability `rate`, with one of
  its fault kinds: applied-then-500, applied-then-drop, refused-500, 429, hang.
- `FaultyOrg`: the `responses` Salesforce org (tests/salesforce_org.py) that also holds
  Opportunities with their team (answers the gateway's Opportunity query with the team
  subquery); every query and write fails with probability `rate`: applied-then-500,
  applied-then-drop, applied-then-timeout (the hang: requests raises ReadTimeout), refused
  (500 or no connection) or 429.
"""
from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from tests.hubspot_server import FAULTS, HubSpotServer, Reply, Request
from tests.salesforce_org import FakeOrg, refused, type_of

SF_FAULTS = ("apply-500", "apply-drop", "apply-timeout", "refuse-500", "refused", "429")


class FaultyHubSpot(HubSpotServer):
    def __init__(self, rng: random.Random, rate: float) -> None:
        super().__init__()
        self.rng = rng
        self.rate = rate
        self.injected: Counter[str] = Counter()

    def _handle(self, request: Request) -> Reply:
        if request.path.startswith("/crm/"):
            with self._lock:
                if self.rng.random() < self.rate:
                    kind = self.rng.choice(FAULTS)
                    self.injected[f"{_verb(request.path)} {kind}"] += 1
                    self._faults.setdefault((request.method, request.path), []).insert(0, kind)
        return super()._handle(request)


def _verb(path: str) -> str:
    return "create" if path.endswith("/create") else "update" if path.endswith("/update") else "read"


class FaultyOrg(FakeOrg):
    """`opportunities`: Id -> fields (Amount, OwnerId, IsClosed, ...); the team is the org's
    OpportunityTeamMember records (seed a person's earlier additions with `add_member`)."""

    def __init__(self, http: responses.RequestsMock, rng: random.Random, rate: float, opportunities: dict[str, dict[str, Any]]) -> None:
        super().__init__(http)
        self.rng = rng
        self.rate = rate
        self.opportunities = opportunities
        self.injected: Counter[str] = Counter()
        self.calls = 0  # queries and writes received
        self._guard = threading.Lock()  # the worker's threads share the org

    def add_member(self, opportunity_id: str, user_id: str) -> None:
        record_id = f"00q{len(self.records):012d}SEE"
        self.records[record_id] = {"attributes": {"type": "OpportunityTeamMember"}, "Id": record_id, "OpportunityId": opportunity_id,
                                   "UserId": user_id, "CreatedById": "005000000000001AAA", "CreatedDate": self.now}  # fmt: skip

    def _fault(self, verb: str, kinds: tuple[str, ...]) -> str | None:
        self.calls += 1
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(kinds)
        self.injected[f"{verb} {kind}"] += 1
        return kind

    def _write(self, method: str, records: list[dict[str, Any]], *, upsert: bool) -> Any:
        with self._guard:
            fault = self._fault(f"write {type_of(records[0])}", SF_FAULTS)
            if fault:
                self.faults.insert(0, fault)
            return super()._write(method, records, upsert=upsert)

    def _query(self, request: Any) -> Any:
        with self._guard:
            fault = self._fault("read", SF_FAULTS)
            if fault in ("apply-500", "refuse-500"):
                return 500, {}, json.dumps([{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred"}])
            if fault == "429":
                return 429, {"Retry-After": "1"}, json.dumps([{"errorCode": "TOO_MANY_REQUESTS", "message": "Too many requests"}])
            if fault == "refused":
                return refused()
            if fault == "apply-drop":
                return requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))")
            if fault == "apply-timeout":
                return requests.exceptions.ReadTimeout("HTTPSConnectionPool: Read timed out. (read timeout=30)")
            soql = parse_qs(urlsplit(request.url).query)["q"][0]
            if " FROM Opportunity WHERE Id IN " in soql:
                return self._opportunity_query(soql)
            return super()._query(request)

    def _opportunity_query(self, soql: str) -> Any:
        ids = re.findall(r"'([^']*)'", soql.rsplit(" WHERE ", 1)[1])
        rows = []
        for opp_id in ids:
            if opp_id not in self.opportunities:
                continue
            team = [{"attributes": {"type": "OpportunityTeamMember"}, "UserId": r["UserId"]}
                    for r in self.of_type("OpportunityTeamMember") if r["OpportunityId"] == opp_id]  # fmt: skip
            rows.append({"attributes": {"type": "Opportunity"}, "Id": opp_id, **self.opportunities[opp_id],
                         "OpportunityTeamMembers": {"totalSize": len(team), "done": True, "records": team} if team else None})  # fmt: skip
        return 200, {"Sforce-Limit-Info": "api-usage=10/100000"}, json.dumps({"totalSize": len(rows), "done": True, "records": rows})
