"""Ack cost of the recording endpoints, in-process, next to the signed JSON endpoint they copy.

Cases, interleaved request by request so drift hits them alike (each request NEW and signed
before its clock starts; SQLite store in a temp directory, worker off):
- sf-json x100:     POST /hooks/salesforce/events, 100 events (the reference: same signature scheme)
- recordings x100:  POST /hooks/recordings, {"recordings": [100 recordings]}
- recording x1:     POST /hooks/recordings, one recording
- zoom completed:   POST /hooks/zoom, recording.completed (a 2-file payload)
- zoom validation:  POST /hooks/zoom, endpoint.url_validation

    python bench/recording_intake.py [--requests 200]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integration import config as config_mod  # noqa: E402
from integration.app import create_app  # noqa: E402
from integration.signature import gamefilm_header, zoom_signature  # noqa: E402
from tests.webhooks import json_event, recording, zoom_recording_completed  # noqa: E402

ORG = "00D5e0000001AbcEAA"
ENVIRON = {"SF": "bench-sf-secret", "REC": "bench-recorder-secret", "ZOOM": "bench-zoom-token"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200, help="requests per case")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    cfg = config_mod.parse({"tenants": [{"id": "bench", "crm": "salesforce", "org_id": ORG, "dry_run": True, "shared_secret_envs": ["SF"],
                                         "recorder_secret_envs": ["REC"], "zoom_secret_token_env": "ZOOM"}],
                            "store": {"path": str(tmp / "bench.db")}})  # fmt: skip
    client = create_app({"config": cfg, "environ": ENVIRON, "worker_mode": "none"}).test_client()
    counter = iter(range(10**9))

    def gamefilm(path: str, body: bytes, secret: str) -> tuple[str, bytes, dict[str, str]]:
        return path, body, {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(secret, body, int(time.time()))}

    def zoom(event: dict) -> tuple[str, bytes, dict[str, str]]:
        body, ts = json.dumps(event).encode(), str(int(time.time()))
        return "/hooks/zoom", body, {"Content-Type": "application/json", "x-zm-request-timestamp": ts, "x-zm-signature": zoom_signature(ENVIRON["ZOOM"], ts, body)}

    def sf_json() -> tuple[str, bytes, dict[str, str]]:
        events = [json_event(next(counter)) for _ in range(100)]
        return gamefilm("/hooks/salesforce/events", json.dumps({"organizationId": ORG, "events": events}).encode(), ENVIRON["SF"])

    cases = {
        "sf-json x100": (100, sf_json),
        "recordings x100": (100, lambda: gamefilm("/hooks/recordings", json.dumps({"recordings": [recording(next(counter)) for _ in range(100)]}).encode(), ENVIRON["REC"])),
        "recording x1": (1, lambda: gamefilm("/hooks/recordings", json.dumps(recording(next(counter))).encode(), ENVIRON["REC"])),
        "zoom completed": (1, lambda: zoom(zoom_recording_completed(f"u{next(counter)}=="))),
        "zoom validation": (0, lambda: zoom({"event": "endpoint.url_validation", "payload": {"plainToken": f"p{next(counter)}"}})),
    }  # fmt: skip
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.requests):
        for name, (stored, make) in cases.items():
            path, body, headers = make()
            started = time.perf_counter()
            response = client.post(path, data=body, headers=headers)
            timings[name].append((time.perf_counter() - started) * 1000)
            answer = response.get_json()
            assert response.status_code == 200 and answer.get("accepted", 0) == stored, (name, response.status_code, answer)
    print(f"in-process ack, {args.requests} requests per case, SQLite store, worker off")
    print(f"{'case':<18}{'median ms':>10}{'p95 ms':>9}{'per item us':>13}")
    for name, (stored, _) in cases.items():
        values = sorted(timings[name])
        median, p95 = statistics.median(values), values[int(len(values) * 0.95) - 1]
        per_item = f"{median * 1000 / stored:.0f}" if stored else "-"
        print(f"{name:<18}{median:>10.2f}{p95:>9.2f}{per_item:>13}")


if __name__ == "__main__":
    main()
