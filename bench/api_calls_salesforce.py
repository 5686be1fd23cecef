"""How many Salesforce API requests each gateway operation costs, against one request per record.

The real SalesforceGateway and simple-salesforce run against HTTP answered by `responses`,
which also counts the requests. Run: `.venv/bin/python bench/api_calls_salesforce.py`.
"""
from __future__ import annotations

import itertools
import json
import re
from typing import Any, Callable

import responses

from integration.gateway.salesforce import SalesforceGateway
from operations import operations, print_table

INSTANCE = "https://bench.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"


def _opp(n: int) -> str:
    return f"006{n:012d}AAA"


OPERATIONS = operations(_opp, "opportunity", "Game_Film_Avg__c", "005000000000001AAA")


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
    print_table(measure())


if __name__ == "__main__":
    main()
