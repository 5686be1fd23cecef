"""How many HubSpot API requests each gateway operation costs, against one request per record.

The real HubSpotGateway and hubspot-api-client run against the loopback fake HubSpot from
`tests/hubspot_server.py`, which also counts the requests. `add_collaborators` runs as the
worker runs it: after the state read (`read_deals`, which the rules need anyway and which
is measured on its own row), so only the handler's own requests are counted. The lookup of
creates after unknown outcomes (`reconcile`) is printed apart: it runs only after failures.
Run: `.venv/bin/python bench/api_calls_hubspot.py`. Target: >= 100x fewer at 1,000 records.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
for path in (str(ROOT), str(ROOT / "bench")):
    if path not in sys.path:  # run as a script: make `tests` and `operations` importable
        sys.path.insert(0, path)

from integration.commands import AddNote  # noqa: E402
from integration.gateway.hubspot import HubSpotGateway  # noqa: E402
from operations import operations, print_table  # noqa: E402
from tests.hubspot_server import HubSpotServer  # noqa: E402


def _deal(n: int) -> str:
    return str(10_000 + n)


OPERATIONS = operations(_deal, "deal", "gf_score_avg", "7")
AFTER_STATE_READ = {"add_collaborators"}


def _reconcile_notes(gateway: HubSpotGateway, count: int) -> object:
    notes = [AddNote(key=f"bench#{n}", rule="bench", reason="benchmark", record_id=_deal(n), body="Why") for n in range(count)]
    return gateway.reconcile(notes)


def measure(sizes: tuple[int, ...] = (1, 100, 1000)) -> list[dict[str, Any]]:
    """One row per operation and size: requests sent by the adapter vs one per record."""
    return [
        {"crm": "hubspot", "op": op, "records": n, "requests": _count_requests(run, n, op in AFTER_STATE_READ), "one_per_record": n}
        for n in sizes
        for op, run in OPERATIONS.items()
    ]


def _count_requests(run: Callable[[HubSpotGateway, int], object], count: int, after_state_read: bool = False, prepare: Callable[[HubSpotGateway, int], object] | None = None) -> int:
    with HubSpotServer() as server:
        for n in range(count):
            server.add_deal(_deal(n), amount="1000", hs_is_closed="false", hs_all_collaborator_owner_ids="8")  # someone else: every add writes
        gateway = HubSpotGateway("bench-token", host=server.url, sleep=lambda _: None)
        try:
            if after_state_read:
                gateway.read_deals([_deal(n) for n in range(count)])
            if prepare:
                prepare(gateway, count)
            before = len(server.requests)
            run(gateway, count)
        finally:
            gateway.close()
        return len(server.requests) - before


def main() -> None:
    rows = measure()
    print_table(rows)
    worst = min((r for r in rows if r["records"] == 1000), key=lambda r: r["one_per_record"] / r["requests"])
    ratio = worst["one_per_record"] / worst["requests"]
    print(f"\nworst at 1,000 records: {worst['op']} {ratio:.0f}x fewer than one per record (target >= 100x): {'met' if ratio >= 100 else 'MISSED'}")
    print("add_collaborators counted after the worker's state read (read_deals row)")
    for n in (100, 1000):
        lookups = _count_requests(_reconcile_notes, n, prepare=OPERATIONS["add_notes"])
        print(f"reconcile of {n} notes after unknown outcomes: {lookups} requests (associations + bodies, 100 per request)")


if __name__ == "__main__":
    main()
