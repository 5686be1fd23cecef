"""What the three game-film harnesses share (`game_film_org.Loop` on an in-memory CRM,
`game_film_hubspot.Portal`, `game_film_sf.SfLoop`): the review loop's settings and how a test
drives the worker (hourly ticks, a pass that must fail nothing)."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any, Sequence

MONDAY = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # a Monday afternoon
SETTINGS: dict[str, Any] = {
    "pool": ["ana@acme.io", "BEN", "CY", "DEE", "REP"],
    "seed_reviewers": ["ANA", "BEN"],
    "reviewers_per_call": 2,
    "grace_hours": 48,
    "submit_url": "https://scores.example.com/submit",
}


def settings(rep: str, ana: str, ben: str, cy: str, dee: str) -> dict[str, Any]:
    """`SETTINGS` with the harness's own user ids (each CRM spells them its way)."""
    ids = {"REP": rep, "ANA": ana, "BEN": ben, "CY": cy, "DEE": dee}
    return {**SETTINGS, "pool": [ids.get(p, p) for p in SETTINGS["pool"]], "seed_reviewers": [ids[p] for p in SETTINGS["seed_reviewers"]]}


class DrivesWorker:
    """Mixed into a harness (a dataclass with `services` and `clock`)."""

    services: Any
    clock: Any

    def tick(self, hours: float = 0) -> None:
        self.clock.advance(hours * 3600)
        self.services.worker.insert_ticks()
        self.run()

    def run(self) -> Any:
        report = self.services.worker.run_due()
        assert not report.failed, [self.services.store.get_event(k).last_error for k in report.failed]
        return report


def at_once(workers: Sequence[Any], keys: Sequence[str]) -> None:
    """Each worker processes its key at the same moment (two workers racing on one recording)."""
    start = threading.Barrier(len(workers))

    def work(worker: Any, key: str) -> None:
        start.wait()
        worker.process([key])

    threads = [threading.Thread(target=work, args=(w, k)) for w, k in zip(workers, keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
