"""What the three game-film harnesses share (`game_film_org.Loop` on an in-memory CRM,
`game_film_hubspot.Portal`, `game_film_sf.SfLoop`): the review loop's settings and how a test
drives the worker (hourly ticks, a pass that must fail nothing)."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Sequence

from integration import samples
from integration.signature import zoom_signature
from tests.conftest import HUBSPOT_SECRET, PORTAL_ID, ZOOM_TOKEN

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
    """Mixed into a harness (a dataclass with `client`, `services` and `clock`): deliveries the
    way the CRM or Zoom sends them, each followed by a worker pass."""

    client: Any
    services: Any
    clock: Any

    def post_zoom(self, body: dict[str, Any], times: int = 3) -> list[Any]:
        """Zoom delivers a signed event `times` (its retries resend the same body); the worker runs after each."""
        raw, answers = json.dumps(body).encode(), []
        for _ in range(times):
            ts = str(int(self.clock()))
            headers = {"Content-Type": "application/json; charset=utf-8", "x-zm-request-timestamp": ts, "x-zm-signature": zoom_signature(ZOOM_TOKEN, ts, raw)}
            r = self.client.post("/hooks/zoom", data=raw, headers=headers)
            assert r.status_code == 200, r.get_json()
            answers.append(r.get_json())
            self.run()
        return answers

    def hubspot(self, object_type_id: str, object_id: str, subscription: str = "object.creation", times: int = 3, **extra: Any) -> None:
        """A signed HubSpot webhook about one object, delivered `times` (HubSpot's retries)."""
        for attempt in range(times):
            item = {"eventId": int(object_id) % 100_000 + 7, "subscriptionId": 4242, "portalId": int(PORTAL_ID), "appId": 456789,
                    "occurredAt": int(self.clock() * 1000), "subscriptionType": subscription, "attemptNumber": attempt,
                    "objectTypeId": object_type_id, "objectId": int(object_id), "changeSource": "CRM_UI", **extra}  # fmt: skip
            raw = json.dumps([item]).encode()
            base = self.services.config.intake.public_base_url or "http://localhost"  # the URI HubSpot signed
            headers = samples.hubspot_headers(HUBSPOT_SECRET, f"{base}/hooks/hubspot", raw, int(self.clock() * 1000))
            r = self.client.post("/hooks/hubspot", data=raw, headers=headers)
            assert r.status_code == 200, r.get_json()
            self.run()

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
