"""The review page in a real headless browser (Debian's chromium driven by playwright-core):
fill, submit without a strength and see the error at the field, then submit and see the
thank-you; the review is stored once. `make test` installs chromium when it runs as root."""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from integration.events import PENDING
from integration.ledger import PEER
from integration.review.submitted import submitted_from_changed
from integration.review_link import review_link
from integration.rubric import DEFAULT_RUBRIC
from tests.review_entry import LINK_ENVIRON, LINK_SECRET, REVIEWER, T, seed

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT = ROOT / "node_modules" / "playwright-core"
SCRIPT = ROOT / "tests" / "browser" / "review_page.mjs"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return "no /usr/bin/chromium (make test installs it when run as root: apt-get install chromium)"
    if not PLAYWRIGHT.exists() or shutil.which("node") is None:
        return "no node or node_modules/playwright-core (make test runs npm ci)"
    return None


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_a_reviewer_fills_the_page_in_a_real_browser(make_app, store, clock, tmp_path):
    app = make_app(environ=LINK_ENVIRON)
    made = seed(store.ledger(), clock())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = review_link(T, made[PEER], f"http://127.0.0.1:{server.server_port}", clock(), secret=LINK_SECRET)
        run = subprocess.run(["node", str(SCRIPT), url, str(tmp_path / "chromium-profile")], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)  # fmt: skip
    finally:
        server.shutdown()
        thread.join(5)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["formStatus"] == 200
    assert seen["fields"] == ["strengths", *(f"scores.{k}" for k in DEFAULT_RUBRIC.keys), "suggestions", "suggestions"]
    assert seen["errorStatus"] == 400 and "say what went well first" in seen["strengthError"]
    assert seen["errorNextToField"] == "error-strengths"
    assert (seen["keptScore"], seen["keptSuggestion"]) == ("4", "Ask for the decision date before the demo")
    assert seen["doneStatus"] == 200 and "Thank you" in seen["thanks"]
    [row] = store.list_events(status=PENDING, tenant=T, limit=10)
    review = submitted_from_changed(row.event.changed).review
    assert (review.reviewer_id, review.strengths, review.scores) == (REVIEWER, "Opened with the buyer's own words about the outage",
                                                                      {k: 4 for k in DEFAULT_RUBRIC.keys})  # fmt: skip
