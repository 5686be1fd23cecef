"""The HubSpot project (crm_components/hubspot): its configuration says what the product needs,
the card's fixture is the form integration/review_form.py defines, and the card
typechecks (tsc) and its own tests (vitest with @hubspot/ui-extensions/testing) pass.

`python -m tests.test_hubspot_card` rewrites the fixture after a change to the form.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from integration.ledger import PEER, SELF
from integration.review_form import form_fields
from integration.rubric import DEFAULT_RUBRIC

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "crm_components" / "hubspot"
APP = PROJECT / "src" / "app"
FIXTURE = APP / "cards" / "__tests__" / "form-fields.json"
CARD_TOOL_TIMEOUT_SECONDS = 240


def form_definition() -> dict[str, list[dict[str, object]]]:
    """What the backend serialises: each FormField as a JSON object, in the form's order."""
    return {kind: [dataclasses.asdict(f) for f in form_fields(DEFAULT_RUBRIC, kind)] for kind in (PEER, SELF)}


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_card_fixture_is_the_review_form() -> None:
    assert json.loads(json.dumps(form_definition())) == _json(FIXTURE), (
        "the card's fixture drifted from integration/review_form.py: run `python -m tests.test_hubspot_card`"
    )


def test_project_is_on_the_current_platform_with_one_app_card_and_webhooks() -> None:
    assert _json(PROJECT / "hsproject.json") == {"name": "gamefilm", "srcDir": "src", "platformVersion": "2026.03"}
    app = _json(APP / "app-hsmeta.json")
    assert app["type"] == "app" and app["config"]["distribution"] == "private"
    scopes = set(app["config"]["auth"]["requiredScopes"])
    # deals; contacts (HubSpot's calls and tasks APIs ask for the contacts scopes); owners; property schemas.
    assert {"crm.objects.deals.read", "crm.objects.deals.write", "crm.objects.contacts.read", "crm.objects.contacts.write",
            "crm.objects.companies.read", "crm.objects.owners.read", "crm.schemas.deals.read"} <= scopes  # fmt: skip
    card = _json(APP / "cards" / "review-card-hsmeta.json")
    assert card["type"] == "card" and card["config"]["objectTypes"] == ["deals"]
    assert (APP / card["config"]["entrypoint"].removeprefix("/app/")).is_file()


def test_webhooks_cover_deals_calls_and_tasks_at_the_deployed_hooks_url() -> None:
    hooks = _json(APP / "webhooks" / "webhooks-hsmeta.json")["config"]
    target = urlsplit(hooks["settings"]["targetUrl"])
    assert target.scheme == "https" and target.path == "/hooks/hubspot"
    fetch_origins = {urlsplit(u).netloc for u in _json(APP / "app-hsmeta.json")["config"]["permittedUrls"]["fetch"]}
    assert target.netloc in fetch_origins, "the card's backend and the webhook target are one deployment"
    subs = {(s["objectType"], s["subscriptionType"], s.get("propertyName")) for s in hooks["subscriptions"]["crmObjects"]}
    for kind in ("deal", "call", "task"):
        assert (kind, "object.creation", None) in subs
    from integration.rules.threshold import _HUBSPOT_TRIGGERS

    assert {p for k, t, p in subs if k == "deal" and p} == _HUBSPOT_TRIGGERS
    assert ("call", "object.propertyChange", "hs_call_recording_url") in subs
    assert ("task", "object.propertyChange", "hs_task_status") in subs  # a completed review task


@pytest.mark.parametrize(
    "tool, args",
    [
        ("tsc", ["--noEmit", "-p", str(APP / "cards")]),  # the UI components' props as the package types them
        ("vitest", ["run", "--config", str(PROJECT / "vitest.config.mjs")]),
    ],
)
def test_card_typechecks_and_its_tests_pass(tool: str, args: list[str]) -> None:
    binary = ROOT / "node_modules" / ".bin" / tool
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `npm ci` in {ROOT} (`make test` does)")
    env = {**os.environ, "CI": "1", "NO_COLOR": "1"}
    proc = subprocess.run([str(binary), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=CARD_TOOL_TIMEOUT_SECONDS)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(form_definition(), indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {FIXTURE.relative_to(ROOT)}\n")
