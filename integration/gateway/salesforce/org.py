"""What the adapter has learned about one org, kept for the gateway's life."""
from __future__ import annotations

from dataclasses import dataclass, field

TASK_KEY_FIELD = "GameFilm_Key__c"  # External ID (unique) text field on Activity, deployed by the installer


@dataclass
class OrgShape:
    """Learned from the doctor's describes or from the first answer that shows it."""

    absent: set[str] = field(default_factory=set)  # optional Opportunity parts this org lacks
    access_level_settable: bool = True  # OpportunityTeamMember.OpportunityAccessLevel writable
    task_key_field: bool | None = None  # TASK_KEY_FIELD usable for upserts; None: not known yet
    user_id: str | None = None  # the integration user (what it created is looked up by CreatedById)
