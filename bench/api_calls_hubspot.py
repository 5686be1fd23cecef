"""How many HubSpot API requests each gateway operation costs, against one request per record.

The real HubSpotGateway and hubspot-api-client run against the loopback fake HubSpot from
`tests/hubspot_server.py`, which also counts the requests.
Run: `.venv/bin/python bench/api_calls_hubspot.py`.
"""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `tests` importable
    sys.path.insert(0, str(ROOT))

from integration.commands import AddCollaborators, AddNote, CreateTask, LogCall, UpdateFields  # noqa: E402
from integration.gateway.hubspot import HubSpotGateway  # noqa: E402
from tests.hubspot_server import HubSpotServer  # noqa: E402


def _deal(n: int) -> str:
    return str(10_000 + n)


def _common(n: int) -> dict[str, Any]:
    return {"key": f"bench#{n}", "rule": "bench", "reason": "benchmark", "record_id": _deal(n)}


OPERATIONS: dict[str, Callable[[HubSpotGateway, int], object]] = {
    "update_fields": lambda gw, count: gw.update_fields(
        [UpdateFields(**_common(n), object_type="deal", fields={"gf_score_avg": 4.0}) for n in range(count)]
    ),
    "add_collaborators": lambda gw, count: gw.add_collaborators([AddCollaborators(**_common(n), user_ids=("77",)) for n in range(count)]),
    "create_tasks": lambda gw, count: gw.create_tasks(
        [CreateTask(**_common(n), owner_id="7", subject="Review", body="Rubric", due=date(2026, 12, 1)) for n in range(count)]
    ),
    "log_calls": lambda gw, count: gw.log_calls(
        [LogCall(**_common(n), owner_id="7", title="Call", recording_url="https://rec.example/1", occurred_at_ms=1_762_000_000_000) for n in range(count)]
    ),
    "add_notes": lambda gw, count: gw.add_notes([AddNote(**_common(n), body="Why this happened") for n in range(count)]),
    "read_deals": lambda gw, count: gw.read_deals([_deal(n) for n in range(count)]),
}


def measure(sizes: tuple[int, ...] = (1, 100, 1000)) -> list[dict[str, Any]]:
    """One row per operation and size: requests sent by the adapter vs one per record."""
    return [
        {"crm": "hubspot", "op": op, "records": n, "requests": _count_requests(run, n), "one_per_record": n}
        for n in sizes
        for op, run in OPERATIONS.items()
    ]


def _count_requests(run: Callable[[HubSpotGateway, int], object], count: int) -> int:
    with HubSpotServer() as server:
        for n in range(count):
            server.add_deal(_deal(n), amount="1000", hs_is_closed="false", hs_all_collaborator_owner_ids="7")
        gateway = HubSpotGateway("bench-token", host=server.url, sleep=lambda _: None)
        try:
            run(gateway, count)
        finally:
            gateway.close()
        return len(server.requests)


def main() -> None:
    rows = measure()
    print(f"{'operation':<18} {'records':>8} {'requests':>9} {'one per record':>15}")
    for row in rows:
        print(f"{row['op']:<18} {row['records']:>8} {row['requests']:>9} {row['one_per_record']:>15}")


if __name__ == "__main__":
    main()
