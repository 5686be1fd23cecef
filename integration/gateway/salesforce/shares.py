"""Manual shares of Private records (`ShareRecord`): one `<Object>__Share` insert per command,
batched as sObject Collections.

A custom object's share object is named `<Object without __c>__Share` (`Call_Review__Share`).
Inserting a manual share for a (ParentId, UserOrGroupId) that already has one updates that
share rather than adding a second, so the insert is resent after an ambiguous failure. Two
answers mean the user already has the access, so they count as done: DUPLICATE_VALUE, and
FIELD_FILTER_VALIDATION_EXCEPTION on AccessLevel (the level is not above the org-wide default,
e.g. an org that left the object Public Read Only).
"""
from __future__ import annotations

from typing import Any, Sequence

from integration.commands import Outcome, ShareRecord
from integration.gateway.salesforce.collections import save
from integration.gateway.salesforce.mapping import Saved, outcome
from integration.gateway.salesforce.transport import SalesforceTransport

MANUAL = "Manual"
ALREADY_SHARED = frozenset({"DUPLICATE_VALUE"})


def share_record(command: ShareRecord) -> dict[str, Any]:
    return {"attributes": {"type": command.share_object}, "ParentId": command.record_id, "UserOrGroupId": command.user_id,
            "AccessLevel": command.access_level, "RowCause": MANUAL}  # fmt: skip


def share_records(transport: SalesforceTransport, commands: Sequence[ShareRecord]) -> list[Outcome]:
    saved = save(transport, "POST", [share_record(c) for c in commands], idempotent=True)
    return [_outcome(c, s) for c, s in zip(commands, saved)]


def _outcome(command: ShareRecord, saved: Saved) -> Outcome:
    if saved.code in ALREADY_SHARED or (saved.code == "FIELD_FILTER_VALIDATION_EXCEPTION" and "AccessLevel" in (saved.error or "")):
        return Outcome(key=command.key, ok=True, detail={"already": saved.code})
    return outcome(command.key, saved)
