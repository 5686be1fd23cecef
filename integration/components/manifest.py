"""Every custom component the product uses in the CRMs, in one place.

A Python module rather than a TOML file: the installers import it at run time (no file to
locate inside an installed package), mypy checks every entry, and each kind is a frozen
dataclass whose renderer lives next to the others. Generated files (the Salesforce DX
project's metadata files) come from here with `gamefilm components build`; a test fails
when they drift. A new field or property is one more entry here; a new kind (custom object,
quick action, flow, outbound message, report type, report) is one dataclass, one renderer in
`salesforce_source` and its Metadata API type name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

API_VERSION = "59.0"  # simple-salesforce's default; the SFDX project and package.xml use it too
OWNED_MARK = "Installed by Game Film."  # ends the description of each HubSpot property we created

SfFieldType = Literal["Text", "Url", "Number", "Checkbox", "Date", "DateTime", "LongTextArea"]


@dataclass(frozen=True)
class SfField:
    """A custom field. Task and Event fields live on `Activity` in source and metadata."""

    object: str
    name: str
    label: str
    type: SfFieldType
    description: str
    length: int | None = None  # Text only
    external_id: bool = False
    unique: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.object}.{self.name}"

    @property
    def sobject(self) -> str:
        """Where the API shows the field (describe, field permissions): Task for Activity."""
        return "Task" if self.object == "Activity" else self.object


@dataclass(frozen=True)
class SfPermissionSet:
    """Grants read/edit on every manifest field (fields without FLS are invisible to the API)
    when `fields` is true, and access to external credential principals."""

    name: str
    label: str
    description: str
    fields: bool = True
    principals: tuple[str, ...] = ()  # "<ExternalCredential>-<Principal>"
    assign_to_integration_user: bool = False


@dataclass(frozen=True)
class SfApexClass:
    """Hand-written Apex under classes/; the generator writes only its -meta.xml."""

    name: str


@dataclass(frozen=True)
class SfExternalCredential:
    """Custom-protocol credential; the principal's parameter values (the secret) are typed
    into Setup and are never part of metadata."""

    name: str
    label: str
    principal: str


@dataclass(frozen=True)
class SfNamedCredential:
    name: str
    label: str
    external_credential: str
    url: str  # replaced in Setup by the API Gateway URL of the deployment


@dataclass(frozen=True)
class HubSpotGroup:
    object: str
    name: str
    label: str


@dataclass(frozen=True)
class HubSpotProperty:
    object: str
    name: str
    label: str
    type: str
    field_type: str
    group: str
    description: str
    has_unique_value: bool = False


@dataclass(frozen=True)
class Manifest:
    sf_fields: tuple[SfField, ...] = ()
    sf_permission_sets: tuple[SfPermissionSet, ...] = ()
    sf_apex_classes: tuple[SfApexClass, ...] = ()
    sf_external_credentials: tuple[SfExternalCredential, ...] = ()
    sf_named_credentials: tuple[SfNamedCredential, ...] = ()
    hubspot_groups: tuple[HubSpotGroup, ...] = ()
    hubspot_properties: tuple[HubSpotProperty, ...] = field(default=())


MANIFEST = Manifest(
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
