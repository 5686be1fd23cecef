"""How many Salesforce API requests each gateway operation costs, against one request per record.

The real SalesforceGateway and simple-salesforce run against HTTP answered by `responses`,
which also counts the requests. Tasks and call logs are measured in both kinds of org: with
the GameFilm_Key__c external id (upserts) and without it (the first upsert is refused, then
creates with a marker). `reconcile` looks up 1,000 creates whose outcome was unknown. The
recording operations (matching reads, call upserts, review tasks linking their call,
reminders) are measured in a keyed org.
Run: `.venv/bin/python bench/api_calls_salesforce.py`.
"""
from __future__ import annotations

import itertools
import json
import re
from datetime import date, datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import responses

from integration.commands import AddNote, CreateTask, LogCall, RemindTask, UpsertCall
from integration.gateway.salesforce import SalesforceGateway
from operations import Operation, operations, print_table

INSTANCE = "https://bench.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"
USER = "005000000000001AAA"


def _opp(n: int) -> str:
    return f"006{n:012d}AAA"


def _creates(count: int) -> list[CreateTask | LogCall | AddNote]:
    common = [{"key": f"bench#{n}", "rule": "bench", "reason": "benchmark", "record_id": _opp(n)} for n in range(count)]
    return [
        *(CreateTask(**c, owner_id=USER, subject="Review", body="Rubric", due=date(2026, 12, 1)) for c in common),
        *(LogCall(**c, owner_id=USER, title="Call", recording_url="https://rec.example/1", occurred_at_ms=1_762_000_000_000) for c in common),
        *(AddNote(**c, body="Why this happened") for c in common),
    ]


def _id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


def _common(n: int) -> dict[str, Any]:
    return {"key": f"bench#{n}", "rule": "bench", "reason": "benchmark", "record_id": _opp(n)}


def _calls(count: int, *, existing: bool = False) -> list[UpsertCall]:
    return [
        UpsertCall(**_common(n), external_id=f"rec:{n}", owner_id=USER, title="Call", recording_url="https://rec.example/1",
                   occurred_at_ms=1_762_000_000_000, contact_ids=(_id("003", n),), call_id=_id("00T", n) if existing else None)
        for n in range(count)
    ]  # fmt: skip


SINCE = datetime(2026, 11, 1, tzinfo=timezone.utc)
RECORDING_OPERATIONS: dict[str, Operation] = {
    "find_users_by_email": lambda gw, count: gw.find_users_by_email([f"rep{n}@seller.example" for n in range(count)]),
    "find_accounts_by_domain": lambda gw, count: gw.find_accounts_by_domain([f"buyer-{n}.example.com" for n in range(count)]),
    "deals_for_contacts": lambda gw, count: gw.deals_for_contacts([_id("003", n) for n in range(count)], SINCE),
    "deals_for_accounts": lambda gw, count: gw.deals_for_accounts([_id("001", n) for n in range(count)], SINCE),
    "read_calls": lambda gw, count: gw.read_calls([_id("00T", n) for n in range(count)]),
    "read_tasks": lambda gw, count: gw.read_tasks([_id("00T", n) for n in range(count)]),
    "upsert_calls": lambda gw, count: gw.execute(_calls(count)),
    "upsert_calls [existing]": lambda gw, count: gw.execute(_calls(count, existing=True)),
    "review tasks + call link": lambda gw, count: gw.execute(
        [CreateTask(**_common(n), owner_id=USER, subject="Review", body="Rubric", due=date(2026, 12, 1), call_external_id=f"rec:{n}") for n in range(count)]
    ),
    "remind_tasks": lambda gw, count: gw.execute(
        [RemindTask(**_common(n), task_id=_id("00T", n), remind_at_ms=1_764_000_000_000, note="overdue") for n in range(count)]
    ),
}

OPERATIONS: dict[str, Operation] = {
    **operations(_opp, "opportunity", "Game_Film_Avg__c", USER),
    "reconcile (3 types)": lambda gw, count: gw.reconcile(_creates(count)),
    **RECORDING_OPERATIONS,
}


def measure(sizes: tuple[int, ...] = (1, 100, 1000)) -> list[dict[str, Any]]:
    """One row per operation, org kind and size: requests sent by the adapter vs one per record."""
    rows = []
    for keyed in (True, False):
        for op, run in OPERATIONS.items():
            if not keyed and op not in ("create_tasks", "log_calls", "reconcile (3 types)", "review tasks + call link"):
                continue
            for n in sizes:
                records = 3 * n if op.startswith("reconcile") else n
                name = op if keyed else f"{op} [no ext id]"
                rows.append({"crm": "salesforce", "op": name, "records": records, "requests": _count_requests(run, n, keyed), "one_per_record": records})
    return rows


def _count_requests(run: Callable[[SalesforceGateway, int], object], count: int, keyed: bool) -> int:
    from simple_salesforce import Salesforce

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        numbers = itertools.count(1)
        for method in (responses.POST, responses.PATCH):
            http.add_callback(method, f"{DATA}/composite/sobjects", callback=_save_all(numbers))
        if keyed:
            http.add_callback(responses.PATCH, f"{DATA}/composite/sobjects/Task/GameFilm_Key__c", callback=_save_all(numbers))
        else:
            http.add(responses.PATCH, f"{DATA}/composite/sobjects/Task/GameFilm_Key__c", status=404,
                     json=[{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])  # fmt: skip
        http.add_callback(responses.PATCH, f"{DATA}/composite/sobjects/Task/GameFilm_Recording_Id__c", callback=_save_all(numbers))
        for path in ("query/", "queryAll/"):
            http.add_callback(responses.GET, f"{DATA}/{path}", callback=_query)
        http.add(responses.GET, f"{INSTANCE}/services/oauth2/userinfo", json={"user_id": USER})
        gateway = SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="bench"), sleep=lambda _: None)
        run(gateway, count)
        return len(http.calls)


def _save_all(numbers: itertools.count) -> Callable[[Any], tuple[int, dict[str, str], str]]:
    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        records = json.loads(request.body)["records"]
        return 200, {}, json.dumps([{"id": f"a00{next(numbers):012d}AAA", "success": True, "errors": []} for _ in records])

    return callback


def _query(request: Any) -> tuple[int, dict[str, str], str]:
    """Opportunities by id; one role per contact; open Tasks by id; lookups of Tasks by marker
    or recording id and of FeedItems find nothing (every create is resent, no call is linked)."""
    soql = parse_qs(urlsplit(request.url).query)["q"][0]
    records: list[dict[str, Any]] = []
    if " FROM Opportunity WHERE Id IN" in soql:
        ids = re.findall(r"006\d{12}AAA", soql)
        records = [{"attributes": {"type": "Opportunity"}, "Id": i, "Amount": 1000.0, "IsClosed": False, "OpportunityTeamMembers": None} for i in ids]
    elif " FROM OpportunityContactRole " in soql:
        records = [{"ContactId": c, "Opportunity": {"Id": _opp(int(c[3:15])), "IsClosed": False}} for c in re.findall(r"003\d{12}AAA", soql)]
    elif " FROM Task WHERE Id IN" in soql:
        records = [{"Id": t, "IsClosed": False, "Description": ""} for t in re.findall(r"00T\d{12}AAA", soql)]
    return 200, {}, json.dumps({"totalSize": len(records), "done": True, "records": records})


def main() -> None:
    rows = measure()
    print_table(rows)
    worst = min(r["one_per_record"] / r["requests"] for r in rows if r["records"] >= 1000)
    print(f"\nfewest-saving operation at >= 1,000 records: {worst:.0f}x fewer requests than one per record")


if __name__ == "__main__":
    main()
