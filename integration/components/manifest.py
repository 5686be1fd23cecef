"""Every custom component the product uses in the CRMs, in one place.

A Python module rather than a TOML file: the installers import it at run time (no file to
locate inside an installed package), mypy checks every entry, and each kind is a frozen
dataclass whose renderer lives next to the others. Generated files (the Salesforce DX
project's metadata files) come from here with `gamefilm components build`; a test fails
when they drift. A new field or property is one more entry here; a new kind (custom object,
quick action, flow, outbound message, report type, report) is one dataclass in `kinds`, one
renderer in `salesforce_source` and its Metadata API type name. The review loop's entries are
generated from the rubric (`review_manifest`): `manifest_for(rubric)` is a tenant's manifest.
"""
from __future__ import annotations

from integration.components.kinds import (API_VERSION, OWNED_MARK, HubSpotGroup, HubSpotProperty, Manifest, SfApexClass, SfExternalCredential,
                                          SfField, SfFieldType, SfNamedCredential, SfObject, SfPermissionSet)  # fmt: skip
from integration.components.review_manifest import merged, review_manifest
from integration.rubric import DEFAULT_RUBRIC, Rubric

__all__ = ["API_VERSION", "OWNED_MARK", "BASE", "MANIFEST", "HubSpotGroup", "HubSpotProperty", "Manifest", "SfApexClass", "SfExternalCredential",
           "SfField", "SfFieldType", "SfNamedCredential", "SfObject", "SfPermissionSet", "manifest_for"]  # fmt: skip

BASE = Manifest(
    sf_fields=(
        SfField("Activity", "GameFilm_Key__c", "Game Film Key", "Text", length=100, external_id=True, unique=True,
                description="Idempotency key of a task Game Film created: its upserts match on it."),
        SfField("Activity", "GameFilm_Recording_Id__c", "Game Film Recording Id", "Text", length=255, external_id=True, unique=True,
                description="External id of the recording this call log holds (zoom:<uuid>, rec:<id>): calls are upserted on it."),
        SfField("Activity", "GameFilm_Recording_URL__c", "Game Film Recording URL", "Url",
                description="Where the recording plays; unused when the tenant names its own recording URL field."),
    ),  # fmt: skip
    sf_permission_sets=(
        SfPermissionSet("GameFilm_Integration", "Game Film Integration",
                        "Read and edit on every Game Film field, for the integration user (assigned by gamefilm install).",
                        assign_to_integration_user=True),
        SfPermissionSet("GameFilm_Callout", "Game Film Callout",
                        "Lets the users whose edits fire the Send to Game Film action sign with the GameFilm credential.",
                        fields=False, principals=("GameFilm-Default",)),
    ),  # fmt: skip
    sf_apex_classes=(SfApexClass("GameFilmCallout"), SfApexClass("GameFilmCalloutTest")),
    sf_external_credentials=(SfExternalCredential("GameFilm", "Game Film", "Default"),),
    sf_named_credentials=(SfNamedCredential("GameFilm", "Game Film", "GameFilm", "https://gamefilm.invalid"),),
    hubspot_groups=(HubSpotGroup("calls", "gamefilm", "Game Film"), HubSpotGroup("tasks", "gamefilm", "Game Film")),
    hubspot_properties=(
        HubSpotProperty("calls", "gamefilm_recording_id", "Game Film recording id", "string", "text", "gamefilm",
                        "External id of the recording this call holds: calls are upserted on it.", has_unique_value=True),
    ),  # fmt: skip
)


def manifest_for(rubric: Rubric) -> Manifest:
    """The components a tenant with this rubric needs."""
    return merged(BASE, review_manifest(rubric))


MANIFEST = manifest_for(DEFAULT_RUBRIC)
