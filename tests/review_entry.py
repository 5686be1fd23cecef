"""A HubSpot tenant with one recorded call under review (a peer task and the rep's
self-assessment, both with CRM task ids), and really signed app-card requests."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from integration.commands import User
from integration.ledger import PEER, REC_ATTACHED, SELF, Assignment, RecordingEntry
from integration.review_link import LINK_SECRET_ENV
from integration.rotation import iso_week
from integration.rubric import DEFAULT_RUBRIC
from integration.signature import hubspot_v3_signature
from tests.conftest import ENVIRON, HUBSPOT_SECRET, PORTAL_ID
from tests.fakes import FakeCrm

T = "acme-hubspot"
CALL = "zoom:abc=="
PEER_TASK, SELF_TASK = "9001", "9002"
REVIEWER, REP = "501", "502"
LINK_SECRET = "test-review-link-secret-0123456789"
LINK_ENVIRON = ENVIRON | {LINK_SECRET_ENV: LINK_SECRET}
STRENGTH = "canary-strength: the buyer named the budget owner"
SUGGESTION = "canary-suggestion: confirm the next meeting in the call"


def org() -> FakeCrm:
    return FakeCrm(users={REVIEWER: User(REVIEWER, "Riley Reviewer", "riley@acme.example"),
                          REP: User(REP, "Robin Rep", "robin@acme.example")})  # fmt: skip


def seed(ledger, now: float, tenant: str = T, reviewer: str = REVIEWER, rep: str = REP, deal: str = "d1") -> dict[str, Assignment]:
    ledger.put_recordings([RecordingEntry(tenant, CALL, REC_ATTACHED, rep_user_id=rep, deal_id=deal, recording_url="https://rec.example/1.mp3",
                                          title="Discovery with Client Co", started_at=now - 3600)], now)  # fmt: skip
    made: dict[str, Assignment] = {}
    for kind, who, task in ((PEER, reviewer, PEER_TASK), (SELF, rep, SELF_TASK)):
        [a] = ledger.assign(tenant, CALL, kind, [who], lambda stats, who=who: [who],
                            lambda r, kind=kind: Assignment(tenant, CALL, r, kind, f"review#{tenant}#{CALL}#{kind}#{r}", now + 3 * 86400), now,
                            iso_week(now))  # fmt: skip
        made[kind] = replace(a, task_id=task)
    ledger.update_assignments(list(made.values()), now)
    return made


def scores(value: int = 4, **over: int) -> dict[str, int]:
    return {k: value for k in DEFAULT_RUBRIC.keys} | over


def peer_review(**over: Any) -> dict[str, Any]:
    return {"taskId": PEER_TASK, "strengths": STRENGTH, "scores": scores(), "suggestions": [SUGGESTION], **over}


def card_query(email: str = "riley@acme.example", **over: str) -> str:
    return urlencode({"userId": "7001", "userEmail": email, "portalId": PORTAL_ID, "appId": "3001", **over})


def post_card(client, clock, payload: Any, *, email: str = "riley@acme.example", secret: str = HUBSPOT_SECRET, age: float = 0.0,
              **query: str):  # fmt: skip
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    path = f"/hooks/hubspot/reviews?{card_query(email, **query)}"
    ts = str(int((clock() - age) * 1000))
    headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
               "X-HubSpot-Signature-v3": hubspot_v3_signature(secret, "POST", f"http://localhost{path}", body, ts)}  # fmt: skip
    return client.post(path, data=body, headers=headers)


def get_form(client, clock, task_id: str, *, secret: str = HUBSPOT_SECRET):
    path = f"/hooks/hubspot/reviews/form?{card_query(taskId=task_id)}"
    ts = str(int(clock() * 1000))
    headers = {"X-HubSpot-Request-Timestamp": ts,
               "X-HubSpot-Signature-v3": hubspot_v3_signature(secret, "GET", f"http://localhost{path}", b"", ts)}  # fmt: skip
    return client.get(path, headers=headers)
