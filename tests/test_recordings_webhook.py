"""POST /hooks/recordings end to end at the edge: signed as a dialer signs it, stored raw with its
delivery key, read back by the store as the `Event` the worker gets (a `Recording` in `changed`)."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from integration.recordings import RECORDING_OBJECT, Recording, recording_from_changed, recording_to_changed
from tests.conftest import REC_SECRET, SF_REC_SECRET, SF_SECRET
from tests.webhooks import post_recordings, recording


def stored(store) -> list:
    return [s.event for s in store.list_events()]


def test_one_recording_is_stored_and_read_back_as_a_recording_event(client, store, clock):
    r = post_recordings(client, clock, recording(7, deal_id="12345", consent=True))
    assert (r.status_code, r.get_json()) == (200, {"accepted": 1, "duplicates": 0, "rejected": []})
    [event] = stored(store)
    assert (event.key, event.tenant, event.crm, event.object_type, event.object_id, event.kind, event.source_id) == (
        "rec#acme-hubspot#call-7", "acme-hubspot", "hubspot", RECORDING_OBJECT, "rec:call-7", "created", "call-7")
    assert event.occurred_at == datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    expected = Recording(
        external_id="rec:call-7", source="recorder", recording_url="https://recorder.example.com/r/7.mp3",
        title="Discovery call", started_at=datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        duration_ms=1_800_000, rep_email="rep@acme.example", participants=("buyer@client.example", "cfo@client.example"),
        deal_id="12345", consent=True,
    )  # fmt: skip
    assert event.changed == recording_to_changed(expected)
    assert recording_from_changed(event.changed) == expected


def test_the_signature_picks_the_tenant_and_its_crm(client, store, clock):
    r = post_recordings(client, clock, recording(1, rep_email=None, rep_user_id="0055e000001AbCdAAE"), secret=SF_REC_SECRET)
    assert r.status_code == 200
    [event] = stored(store)
    assert (event.key, event.tenant, event.crm) == ("rec#acme-salesforce#call-1", "acme-salesforce", "salesforce")
    assert (event.changed["rep_user_id"], event.changed["rep_email"]) == ("0055e000001AbCdAAE", None)


@pytest.mark.parametrize("secret", ["wrong", SF_SECRET])  # another endpoint's secret signs nothing here
def test_an_unknown_secret_is_401_and_nothing_is_stored(client, store, clock, secret):
    r = post_recordings(client, clock, recording(), secret=secret)
    assert (r.status_code, r.get_json()["field"]) == (401, "X-GameFilm-Signature")
    assert stored(store) == []


def test_a_rotated_secret_signs_during_the_rotation(make_app, tmp_path, store, clock):
    from tests.conftest import ENVIRON, make_config, tenants_raw

    tenants = tenants_raw()
    tenants[0]["recorder_secret_envs"] = ["REC_SECRET", "REC_SECRET_NEXT"]
    client = make_app(make_config(tmp_path, tenants=tenants), environ=ENVIRON | {"REC_SECRET_NEXT": "next"}).test_client()
    assert post_recordings(client, clock, recording(1), secret=REC_SECRET).status_code == 200
    assert post_recordings(client, clock, recording(2), secret="next").status_code == 200
    assert [e.tenant for e in stored(store)] == ["acme-hubspot", "acme-hubspot"]


def test_redelivered_three_times_it_is_stored_once(client, store, clock):
    answers = [post_recordings(client, clock, recording(3)).get_json() for _ in range(3)]
    assert [(a["accepted"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1), (0, 1)]
    assert len(stored(store)) == 1


def test_a_batch_stores_the_good_recordings_and_names_each_bad_field(client, store, clock):
    batch = {"recordings": [recording(1), recording(2, recording_url="http://plain.example/r.mp3"), recording(3, started_at="2026-11-20T10:00:00"),
                            recording(4, rep_email=None), recording(5, consent="yes"), recording(6, extra=1)]}  # fmt: skip
    body = post_recordings(client, clock, batch).get_json()
    assert body["accepted"] == 1
    assert [(x["index"], sorted(x["fields"])) for x in body["rejected"]] == [
        (1, ["recording_url"]), (2, ["started_at"]), (3, ["rep_email"]), (4, ["consent"]), (5, ["extra"])]
    assert [e.object_id for e in stored(store)] == ["rec:call-1"]


@pytest.mark.parametrize(
    ("over", "field"),
    [({"id": ""}, "id"), ({"recording_url": "https://"}, "recording_url"), ({"started_at": "yesterday"}, "started_at"),
     ({"started_at": "10000-01-01T00:00:00+00:00"}, "started_at"), ({"duration_seconds": -1}, "duration_seconds"),
     ({"duration_seconds": 1.5}, "duration_seconds"), ({"participants": ["not an email"]}, "participants"),
     ({"rep_email": None, "rep_user_id": "1 OR 1"}, "rep_user_id"), ({"deal_id": "x" * 65}, "deal_id"),
     ({"title": "t" * 256}, "title")],  # fmt: skip
)
def test_a_bad_single_recording_is_400_naming_the_field(client, store, clock, over, field):
    r = post_recordings(client, clock, recording(1, **over))
    body = r.get_json()
    assert (r.status_code, body["error"], body["field"]) == (400, "invalid_recording", field)
    assert stored(store) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [(b"[1]", "body"), (json.dumps({"recordings": []}).encode(), "recordings"),
     (json.dumps({"recordings": [recording(i) for i in range(101)]}).encode(), "recordings"),
     (json.dumps({"recordings": [recording()], "extra": 1}).encode(), "extra"), (b"{", "body")],  # fmt: skip
)
def test_a_bad_envelope_is_400_naming_the_field(client, store, clock, body, field):
    r = post_recordings(client, clock, body)
    assert (r.status_code, r.get_json()["field"]) == (400, field)
    assert stored(store) == []


def test_a_title_is_given_when_the_sender_has_none(client, store, clock):
    post_recordings(client, clock, recording(1, title=None, duration_seconds=None, participants=[]))
    [event] = stored(store)
    assert (event.changed["title"], event.changed["duration_ms"], event.changed["participants"]) == ("Recorded call", None, [])
