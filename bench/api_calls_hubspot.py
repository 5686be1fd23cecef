"""How many HubSpot API requests each gateway operation costs, against one request per record.

The real HubSpotGateway and hubspot-api-client run against the loopback fake HubSpot from
`tests/hubspot_server.py`, which also counts the requests. `add_collaborators` runs as the
worker runs it: after the state read (`read_deals`, which the rules need anyway and which
is measured on its own row), so only the handler's own requests are counted. The lookup of
creates after unknown outcomes (`reconcile`) is printed apart: it runs only after failures.
The reads and writes of recordings and reviews get their own table: each runs on a fresh
gateway, so it includes the one-time owners list and association-type (labels) lookups.
Run: `.venv/bin/python bench/api_calls_hubspot.py`. Target: >= 100x fewer at 1,000 records.
"""
from __future__ import annotations

import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
for path in (str(ROOT), str(ROOT / "bench")):
    if path not in sys.path:  # run as a script: make `tests` and `operations` importable
        sys.path.insert(0, path)

from integration.commands import AddNote, CreateTask, RemindTask, UpsertCall  # noqa: E402
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


SINCE = datetime(2026, 11, 1, tzinfo=timezone.utc)
Seed = Callable[[HubSpotServer, int], None]


def _seed_people(server: HubSpotServer, count: int) -> None:
    """Per record n: an owner, a contact and a company associated with deal n, a call, a task."""
    for n in range(count):
        server.add_owner(str(500 + n), f"rep{n}@seller.example")
        server.add_contact(str(20_000 + n), f"buyer{n}@buyer{n}.example")
        server.add_object("companies", str(30_000 + n), domain=f"buyer{n}.example")
        server.associate("contacts", str(20_000 + n), "deals", _deal(n))
        server.associate("companies", str(30_000 + n), "deals", _deal(n))
        server.add_object("calls", str(40_000 + n), hs_call_title="Call", gamefilm_recording_id=f"rec:{n}")
        server.add_object("tasks", str(50_000 + n), hs_task_body="Review", hs_task_status="NOT_STARTED")


def _common(n: int) -> dict[str, Any]:
    return {"key": f"bench#{n}", "rule": "bench", "reason": "benchmark", "record_id": _deal(n)}


RECORDING_OPERATIONS: dict[str, Callable[[HubSpotGateway, int], object]] = {
    "find_users_by_email": lambda gw, count: gw.find_users_by_email([f"rep{n}@seller.example" for n in range(count)]),
    "find_contacts": lambda gw, count: gw.find_contacts([f"buyer{n}@buyer{n}.example" for n in range(count)]),
    "find_accounts_by_domain": lambda gw, count: gw.find_accounts_by_domain([f"buyer{n}.example" for n in range(count)]),
    "deals_for_contacts": lambda gw, count: gw.deals_for_contacts([str(20_000 + n) for n in range(count)], SINCE),
    "deals_for_accounts": lambda gw, count: gw.deals_for_accounts([str(30_000 + n) for n in range(count)], SINCE),
    "read_calls": lambda gw, count: gw.read_calls([str(40_000 + n) for n in range(count)]),
    "read_tasks": lambda gw, count: gw.read_tasks([str(50_000 + n) for n in range(count)]),
    "upsert_calls": lambda gw, count: gw.execute([
        UpsertCall(**_common(n), external_id=f"zoom:{n}", owner_id="500", title="Call", recording_url="https://rec.example/1",
                   occurred_at_ms=1_795_000_000_000, contact_ids=(str(20_000 + n),))
        for n in range(count)
    ]),  # fmt: skip
    "review_tasks_on_calls": lambda gw, count: gw.execute([
        CreateTask(**_common(n), owner_id="500", subject="Review", body="Rubric", due=date(2026, 12, 1), call_external_id=f"rec:{n}") for n in range(count)
    ]),  # fmt: skip
    "remind_tasks": lambda gw, count: gw.execute([RemindTask(**_common(n), task_id=str(50_000 + n), remind_at_ms=1_796_000_000_000, note="Overdue") for n in range(count)]),
}


def _known_association_types(gateway: HubSpotGateway, count: int) -> None:
    """The labels lookups a long-lived gateway has already made (one request per object pair, once)."""
    for pair in (("tasks", "deals"), ("tasks", "contacts"), ("calls", "deals"), ("notes", "deals")):
        gateway.association_types.find(*pair)


def measure_recordings(sizes: tuple[int, ...] = (1, 100, 1000)) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for op, run in RECORDING_OPERATIONS.items():
            rows.append({"crm": "hubspot", "op": op, "records": n, "requests": _count_requests(run, n, seed=_seed_people), "one_per_record": n})
    return rows


def measure(sizes: tuple[int, ...] = (1, 100, 1000)) -> list[dict[str, Any]]:
    """One row per operation and size: requests sent by the adapter vs one per record."""
    return [
        {"crm": "hubspot", "op": op, "records": n, "requests": _count_requests(run, n, op in AFTER_STATE_READ, prepare=_known_association_types), "one_per_record": n}
        for n in sizes
        for op, run in OPERATIONS.items()
    ]


def _count_requests(
    run: Callable[[HubSpotGateway, int], object], count: int, after_state_read: bool = False,
    prepare: Callable[[HubSpotGateway, int], object] | None = None, seed: Seed | None = None,
) -> int:  # fmt: skip
    with HubSpotServer() as server:
        for n in range(count):
            server.add_deal(_deal(n), amount="1000", hs_is_closed="false", hs_all_collaborator_owner_ids="8")  # someone else: every add writes
        if seed:
            seed(server, count)
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
    print("add_collaborators counted after the worker's state read (read_deals row); creates after the")
    print("association type lookups a gateway makes once (labels API, one request per object pair)")
    for n in (100, 1000):
        lookups = _count_requests(_reconcile_notes, n, prepare=OPERATIONS["add_notes"])
        print(f"reconcile of {n} notes after unknown outcomes: {lookups} requests (associations + bodies, 100 per request)")
    print("\nrecordings and reviews (fresh gateway each: includes the owners list and labels lookups)")
    print_table(measure_recordings())


if __name__ == "__main__":
    main()
