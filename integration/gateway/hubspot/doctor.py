"""`doctor` checks for a HubSpot portal: the token works, the app has every scope, deal
collaborators are on, and calls carry the unique `gamefilm_recording_id` property recordings
are upserted on. Three or four requests: (OAuth refresh,) token metadata, two properties."""
from __future__ import annotations

from typing import Any

from integration.gateway import Finding
from integration.gateway.hubspot.mapping import COLLABORATORS, RECORDING_ID
from integration.gateway.hubspot.transport import HubSpotError, Transport

# Calls, tasks and notes are engagements: HubSpot guards them with the contacts scopes.
# Companies are read to match a recording's email domains to accounts; owners to find reps.
REQUIRED_SCOPES = (
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.owners.read",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
)


def check(transport: Transport) -> list[Finding]:
    oauth = transport.session.oauth is not None
    try:
        scopes = _token_scopes(transport)
    except HubSpotError as exc:
        if exc.status not in (400, 401, 403):
            return [Finding("token", False, f"Could not verify the HubSpot token ({exc}): run the check again in a few minutes.")]
        hint = "reconnect the app in HubSpot (OAuth)" if oauth else "configure a current private app access token"
        return [Finding("token", False, f"HubSpot rejected the credentials ({exc}): {hint}.")]
    findings = [Finding("token", True, "The HubSpot access token works.")]
    missing = [s for s in REQUIRED_SCOPES if s not in scopes]
    findings.append(
        Finding("scopes", False, f"Add the scopes {', '.join(missing)} to the HubSpot app, then reinstall or rotate the token.")
        if missing
        else Finding("scopes", True, "The HubSpot app has every scope Game Film needs.")
    )
    findings.append(_collaborators_property(transport))
    findings.append(_recording_property(transport))
    return findings


def _token_scopes(transport: Transport) -> set[str]:
    """OAuth: refreshing first also proves the refresh token works. Private apps: v2 token info."""
    if transport.session.oauth:
        transport.refresh_access_token()
        info = transport.sdk("oauth.access_tokens_api", "get", transport.session.access_token)
        return set(info.scopes or [])
    data = transport.call(lambda: _private_app_token_info(transport), idempotent=True)
    return set(data.get("scopes") or []) if isinstance(data, dict) else set()


def _private_app_token_info(transport: Transport) -> tuple[Any, int, Any]:
    """Scopes of a private app token: not wrapped by the SDK, so sent through its ApiClient."""
    api_client = transport.session.api("crm.objects.batch_api").api_client
    return api_client.call_api(
        "/oauth/v2/private-apps/get/access-token-info",
        "POST",
        header_params={"Accept": "application/json", "Content-Type": "application/json"},
        body={"tokenKey": transport.session.access_token},
        response_types_map={200: "object"},
        auth_settings=["oauth2"],
        _return_http_data_only=False,
        _request_timeout=transport.timeouts.as_tuple(),
    )


def _collaborators_property(transport: Transport) -> Finding:
    try:
        transport.sdk("crm.properties.core_api", "get_by_name", "deals", COLLABORATORS)
    except HubSpotError as exc:
        if exc.status == 404:
            return Finding("collaborators", False, f"Turn on deal collaborators in HubSpot (Settings > Objects > Deals) so the {COLLABORATORS} property exists.")
        return Finding("collaborators", False, f"Could not read the deal property {COLLABORATORS} ({exc}): grant crm.schemas.deals.read.")
    return Finding("collaborators", True, f"The deal property {COLLABORATORS} is readable: leaders can be added as collaborators.")


def _recording_property(transport: Transport) -> Finding:
    """Recordings are upserted on this call property: without unique values HubSpot would
    refuse the upsert, and a recording could not be attached exactly once."""
    try:
        found = transport.sdk("crm.properties.core_api", "get_by_name", "calls", RECORDING_ID)
    except HubSpotError as exc:
        if exc.status == 404:
            return Finding(
                "recording property", False,
                f"Create the call property {RECORDING_ID} (single-line text, unique values on, group gamefilm) in HubSpot (Settings > Properties > Calls) so recordings attach once.",
            )  # fmt: skip
        return Finding("recording property", False, f"Could not read the call property {RECORDING_ID} ({exc}): grant crm.objects.contacts.read.")
    if not found.has_unique_value:
        return Finding("recording property", False, f"The call property {RECORDING_ID} does not require unique values: delete it and create it again with unique values on.")
    return Finding("recording property", True, f"The call property {RECORDING_ID} exists with unique values: each recording is attached once.")
