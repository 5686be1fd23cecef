"""The recording endpoints' limits hold identically on both stores: the largest recording the
edge admits is stored whole (dynalite enforces DynamoDB's 400 KB items and 2,048-byte keys),
and a sender id whose delivery key would pass the key limit is rejected naming `id`."""
import pytest

from integration import limits
from integration.recording_intake import MAX_PARTICIPANTS, MAX_URL
from tests.dynalite import any_store, aws_test_credentials, dynalite_endpoint  # noqa: F401  (fixtures)
from tests.webhooks import post_recordings, post_zoom, recording, zoom_recording_completed

pytestmark = pytest.mark.usefixtures("aws_test_credentials")


@pytest.fixture
def edge(make_app, any_store):
    return make_app(store=any_store).test_client()


def longest_email(i: int) -> str:
    return f"{i:03d}{'p' * 60}@{'d' * 63}.{'e' * 63}.{'f' * 56}.example"[:254]


def test_the_largest_admitted_recording_is_stored_whole(edge, any_store, clock):
    url = "https://recorder.example.com/" + "u" * (MAX_URL - len("https://recorder.example.com/"))
    biggest = recording(1, id="é" * 200, recording_url=url, title="t" * 255, participants=[longest_email(i) for i in range(MAX_PARTICIPANTS)],
                        rep_email=longest_email(999), deal_id="d" * 64)  # fmt: skip
    r = post_recordings(edge, clock, biggest)
    assert (r.status_code, r.get_json()["accepted"]) == (200, 1)
    [stored] = any_store.list_events()
    assert stored.event.changed["recording_url"] == url and len(stored.event.changed["participants"]) == MAX_PARTICIPANTS
    assert (stored.event.crm, stored.event.object_id) == ("hubspot", "rec:" + "é" * 200)  # the row says which CRM it belongs to


def test_an_id_whose_key_passes_the_limit_is_rejected_in_a_batch_and_400_alone(edge, any_store, clock):
    too_long = "日" * 255  # 765 bytes: with the tenant prefix the key still fits
    r = post_recordings(edge, clock, {"recordings": [recording(1, id=too_long), recording(2, id="𝄞" * 255)]})
    body = r.get_json()
    assert (body["accepted"], [(x["index"], list(x["fields"])) for x in body["rejected"]]) == (1, [(1, ["id"])])
    assert f"must fit in {limits.MAX_KEY_BYTES} bytes" in body["rejected"][0]["fields"]["id"][0]
    alone = post_recordings(edge, clock, recording(3, id="𝄞" * 255))
    assert (alone.status_code, alone.get_json()["field"]) == (400, "id")
    assert [s.event.source_id for s in any_store.list_events()] == [too_long]


def test_the_largest_admitted_zoom_recording_is_stored_whole(edge, any_store, clock):
    share = "https://example.zoom.us/rec/share/" + "s" * (MAX_URL - len("https://example.zoom.us/rec/share/"))
    event = zoom_recording_completed("𝄞" * 200, topic="t" * 255, share_url=share, host_email=longest_email(1))
    assert post_zoom(edge, clock, event).get_json()["accepted"] == 1
    [stored] = any_store.list_events()
    assert (stored.event.object_id, stored.event.changed["recording_url"]) == ("zoom:" + "𝄞" * 200, share)
