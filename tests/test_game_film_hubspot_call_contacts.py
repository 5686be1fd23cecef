"""A HubSpot call a person logged on a contact (no participant emails, no deal) lands on that
contact's deal: signed generic webhook (object 0-48) -> worker -> the real hubspot-api-client
against the loopback portal reads the call and its associations, matching counts the call's
contacts at the contact-role step, and the call is stamped and associated once."""
from __future__ import annotations

from integration.ledger import REC_ATTACHED
from tests.game_film_org import MONDAY, TENANT, make_loop
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.test_gateway_hubspot import FakeTime, fake_time, make_gateway  # noqa: F401

CALL = "9001"
STAMP = "/crm/v3/objects/calls/batch/update"


def _portal(server: HubSpotServer) -> None:
    server.add_owner("7", "rep@acme.io", "Rep")
    server.add_owner("8", "ana@acme.io", "Ana")
    server.add_deal("101", hs_is_closed="false", hubspot_owner_id="7", hs_lastmodifieddate="2026-11-20T10:00:00Z")
    server.add_deal("102", hs_is_closed="false", hubspot_owner_id="999")  # a deal of another contact
    server.add_contact("51", "buyer@globex.com")
    server.add_contact("52", "other@initech.com")
    server.associate("contacts", "51", "deals", "101")
    server.associate("contacts", "52", "deals", "102")
    at = int((MONDAY.timestamp() - 3600) * 1000)
    server.add_object("calls", CALL, hs_call_recording_url="https://rec.example/9001.mp3", hs_call_title="Call with Globex",
                      hubspot_owner_id="7", hs_timestamp=str(at), hs_call_duration="600000")  # fmt: skip
    server.associate("calls", CALL, "contacts", "51")  # the person's association: a contact, no deal


def test_a_call_associated_with_a_contact_lands_on_the_contacts_deal_once(tmp_path, store, clock, make_gateway, hubspot_server: HubSpotServer):  # noqa: F811
    _portal(hubspot_server)
    gateway = make_gateway()
    loop = make_loop(tmp_path, store, clock, crm=gateway, pool=["ana@acme.io", "7"], seed_reviewers=["8"], consent="assume")  # type: ignore[arg-type]

    loop.hubspot("0-48", CALL, "object.creation", times=3)  # HubSpot retries the webhook

    [stamp] = hubspot_server.requests_to("POST", STAMP)
    assert stamp.body == {"inputs": [{"id": CALL, "properties": {"gamefilm_recording_id": f"hubspot-call:{CALL}"}}]}
    assert hubspot_server.associations[("calls", "deals")] == {CALL: ["101"]}
    assert hubspot_server.associations[("calls", "contacts")] == {CALL: ["51"]}
    [contact_deals] = hubspot_server.requests_to("POST", "/crm/v4/associations/contacts/deals/batch/read")
    assert contact_deals.body == {"inputs": [{"id": "51"}]}  # the call's contact, read once for the batch
    entry = loop.ledger.get_recordings(TENANT, [f"hubspot-call:{CALL}"])[f"hubspot-call:{CALL}"]
    assert (entry.status, entry.deal_id, entry.rep_user_id) == (REC_ATTACHED, "101", "7")
    action = loop.services.store.get_action(f"call#{TENANT}#hubspot-call:{CALL}")
    assert (action.op, action.record_id, action.sends, action.crm_id) == ("UpsertCall", "101", 1, CALL), action
    assert action.payload["contact_ids"] == ["51"] and action.payload["evidence"]["step"] == "contact", action.payload
    [task] = hubspot_server.requests_to("POST", "/crm/v3/objects/tasks/batch/create")  # the rep's self-assessment, once
    assert task.body["inputs"][0]["properties"]["hubspot_owner_id"] == "7"

