"""How many HubSpot API requests each gateway operation costs, against one request per record.

The real HubSpotGateway and hubspot-api-client run against the loopback fake HubSpot from
`tests/hubspot_server.py`, which also counts the requests.
Run: `.venv/bin/python bench/api_calls_hubspot.py`.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `tests` importable
    sys.path.insert(0, str(ROOT))

from integration.gateway.hubspot import HubSpotGateway  # noqa: E402
from operations import operations, print_table  # noqa: E402
from tests.hubspot_server import HubSpotServer  # noqa: E402


def _deal(n: int) -> str:
    return str(10_000 + n)


OPERATIONS = operations(_deal, "deal", "gf_score_avg", "7")


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
            server.add_deal(_deal(n), amount="1000", hs_is_closed="false", hs_all_collaborator_owner_ids="8")  # someone else: every add writes
        gateway = HubSpotGateway("bench-token", host=server.url, sleep=lambda _: None)
        try:
            run(gateway, count)
        finally:
            gateway.close()
        return len(server.requests)


def main() -> None:
    print_table(measure())


if __name__ == "__main__":
    main()
