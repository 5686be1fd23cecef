"""How many Salesforce API requests each gateway operation costs, against one request per record.

The real SalesforceGateway and simple-salesforce run against HTTP answered by `responses`,
which also counts the requests. Run: `.venv/bin/python bench/api_calls_salesforce.py`.
"""
from __future__ import annotations

import itertools
import json
import re
from datetime import date
from typing import Any, Callable

import responses

from integration.commands import AddCollaborators, AddNote, CreateTask, LogCall, UpdateFields
from integration.gateway.salesforce import SalesforceGateway

INSTANCE = "https://bench.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"


def _opp(n: int) -> str:
    return f"006{n:012d}AAA"


def _common(n: int) -> dict[str, Any]:
    return {"key": f"bench#{n}", "rule": "bench", "reason": "benchmark", "record_id": _opp(n)}


OPERATIONS: dict[str, Callable[[SalesforceGateway, int], object]] = {
    "update_fields": lambda gw, count: gw.update_fields(
        [UpdateFields(**_common(n), object_type="opportunity", fields={"Game_Film_Avg__c": 4.0}) for n in range(count)]
    ),
    "add_collaborators": lambda gw, count: gw.add_collaborators(
        [AddCollaborators(**_common(n), user_ids=("005000000000001AAA",)) for n in range(count)]
    ),
    "create_tasks": lambda gw, count: gw.create_tasks(
        [CreateTask(**_common(n), owner_id="005000000000001AAA", subject="Review", body="Rubric", due=date(2026, 12, 1)) for n in range(count)]
    ),
    "log_calls": lambda gw, count: gw.log_calls(
        [LogCall(**_common(n), owner_id=None, title="Call", recording_url="https://rec.example/1", occurred_at_ms=1_762_000_000_000) for n in range(count)]
    ),
    "add_notes": lambda gw, count: gw.add_notes([AddNote(**_common(n), body="Why this happened") for n in range(count)]),
    "read_deals": lambda gw, count: gw.read_deals([_opp(n) for n in range(count)]),
}


def measure(sizes: tuple[int, ...] = (1, 100, 1000)) -> list[dict[str, Any]]:
    """One row per operation and size: requests sent by the adapter vs one per record."""
    return [
        {"crm": "salesforce", "op": op, "records": n, "requests": _count_requests(run, n), "one_per_record": n}
        for n in sizes
        for op, run in OPERATIONS.items()
    ]


def _count_requests(run: Callable[[SalesforceGateway, int], object], count: int) -> int:
    from simple_salesforce import Salesforce

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        for method in (responses.POST, responses.PATCH):
            http.add_callback(method, f"{DATA}/composite/sobjects", callback=_save_all(itertools.count(1)))
        http.add_callback(responses.GET, f"{DATA}/query/", callback=_opportunities)
        gateway = SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="bench"), sleep=lambda _: None)
        run(gateway, count)
        return len(http.calls)


def _save_all(numbers: itertools.count) -> Callable[[Any], tuple[int, dict[str, str], str]]:
    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        records = json.loads(request.body)["records"]
        return 200, {}, json.dumps([{"id": f"a00{next(numbers):012d}AAA", "success": True, "errors": []} for _ in records])

    return callback


def _opportunities(request: Any) -> tuple[int, dict[str, str], str]:
    ids = re.findall(r"006\d{12}AAA", request.url)
    records = [{"attributes": {"type": "Opportunity"}, "Id": i, "Amount": 1000.0, "IsClosed": False, "OpportunityTeamMembers": None} for i in ids]
    return 200, {}, json.dumps({"totalSize": len(records), "done": True, "records": records})


def main() -> None:
    rows = measure()
    print(f"{'operation':<18} {'records':>8} {'requests':>9} {'one per record':>15}")
    for row in rows:
        print(f"{row['op']:<18} {row['records']:>8} {row['requests']:>9} {row['one_per_record']:>15}")


if __name__ == "__main__":
    main()
