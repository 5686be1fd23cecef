"""The kinds of component a manifest holds: one frozen dataclass per kind (each has one
renderer in `salesforce_source` or one request shape in `hubspot_installer`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

API_VERSION = "59.0"  # simple-salesforce's default; the SFDX project and package.xml use it too
OWNED_MARK = "Installed by Game Film."  # ends the description of each HubSpot property we created

SfFieldType = Literal["Text", "Url", "Number", "Checkbox", "Date", "DateTime", "LongTextArea", "Lookup"]


@dataclass(frozen=True)
class SfField:
    """A custom field. Task and Event fields live on `Activity` in source and metadata."""

    object: str
    name: str
    label: str
    type: SfFieldType
    description: str
    length: int | None = None  # Text and LongTextArea
    external_id: bool = False
    unique: bool = False
    precision: int | None = None  # Number: digits in all
    scale: int | None = None  # Number: digits after the point
    reference_to: str | None = None  # Lookup: the parent object
    relationship_name: str | None = None  # Lookup: the child relationship (unique per parent)

    @property
    def full_name(self) -> str:
        return f"{self.object}.{self.name}"

    @property
    def sobject(self) -> str:
        """Where the API shows the field (describe, field permissions): Task for Activity."""
        return "Task" if self.object == "Activity" else self.object


@dataclass(frozen=True)
class SfObject:
    """A custom object: its name is an AutoNumber (records are named, never typed), sharing
    Private (reviews are seen by their reviewer, the rep's managers and report runners)."""

    name: str
    label: str
    plural: str
    description: str
    name_label: str
    name_format: str  # AutoNumber display format, e.g. "CR-{000000}"


@dataclass(frozen=True)
class SfQuickAction:
    """A Create action on `object`'s record page: a new `target_object` record whose
    `target_parent_field` points at the page's record; `overrides` are (field, formula)."""

    object: str
    name: str
    label: str
    target_object: str
    target_parent_field: str
    fields: tuple[str, ...]  # the action's layout, in order
    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.object}.{self.name}"


@dataclass(frozen=True)
class SfReportType:
    """A custom report type on one object (reports reference it as `<name>__c`)."""

    name: str
    label: str
    description: str
    base_object: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class SfReportFolder:
    name: str
    label: str


@dataclass(frozen=True)
class SfReport:
    """A Summary report: one row grouping, averaged columns, filters, a relative date range."""

    folder: str
    name: str
    label: str
    description: str
    report_type: str  # e.g. "Call_Reviews__c"
    grouping: str  # "<Object>.<Field>"
    averaged: tuple[str, ...]  # "<Object>.<Field>" columns summarised by Average
    filters: tuple[tuple[str, str, str], ...]  # (column, operator, value)
    date_column: str
    interval: str  # e.g. INTERVAL_CURRENT: the current fiscal quarter
    subgroupings: tuple[str, ...] = ()  # further row groupings under `grouping`
    details: tuple[str, ...] = ()  # plain columns, counted by the groupings' record counts

    @property
    def full_name(self) -> str:
        return f"{self.folder}/{self.name}"


@dataclass(frozen=True)
class SfPermissionSet:
    """Grants read/edit on every manifest field (fields without FLS are invisible to the API)
    and create/read/edit on every manifest object when `fields` is true, and access to
    external credential principals."""

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
class SfOutboundMessage:
    """A workflow outbound message (SOAP notification of `fields`) to the tenant's
    deployment: the endpoint and the user it is sent as differ per tenant, so the files
    hold placeholders the installer replaces (`salesforce_automation.PLACEHOLDERS`)."""

    object: str
    name: str
    label: str
    description: str
    fields: tuple[str, ...]
    path: str  # appended to the tenant's intake.public_base_url

    @property
    def full_name(self) -> str:
        return f"{self.object}.{self.name}"


@dataclass(frozen=True)
class SfFlow:
    """A record-triggered (after save, on create and update) flow whose one action sends
    `outbound_message` ("<Object>.<Name>")."""

    name: str
    label: str
    description: str
    object: str
    outbound_message: str


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
    sf_objects: tuple[SfObject, ...] = ()
    sf_fields: tuple[SfField, ...] = ()
    sf_permission_sets: tuple[SfPermissionSet, ...] = ()
    sf_apex_classes: tuple[SfApexClass, ...] = ()
    sf_external_credentials: tuple[SfExternalCredential, ...] = ()
    sf_named_credentials: tuple[SfNamedCredential, ...] = ()
    sf_quick_actions: tuple[SfQuickAction, ...] = ()
    sf_report_types: tuple[SfReportType, ...] = ()
    sf_report_folders: tuple[SfReportFolder, ...] = ()
    sf_reports: tuple[SfReport, ...] = ()
    sf_outbound_messages: tuple[SfOutboundMessage, ...] = ()
    sf_flows: tuple[SfFlow, ...] = ()
    hubspot_groups: tuple[HubSpotGroup, ...] = ()
    hubspot_properties: tuple[HubSpotProperty, ...] = field(default=())

