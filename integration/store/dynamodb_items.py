"""DynamoDB items read back as the store's records (events and outbox actions)."""
from __future__ import annotations

import json

from integration.events import StoredEvent
from integration.store import Action, decode_event
from integration.store.dynamodb_table import Item, _num, _str


def event_from_item(item: Item) -> StoredEvent:
    key, received_at = item["key"]["S"], _num(item, "received_at")
    return StoredEvent(
        event=decode_event(item["body"]["S"], _str(item, "source"), key, item["tenant"]["S"], received_at),
        status=item["status"]["S"],
        attempts=int(item["attempts"]["N"]),
        received_at=received_at,
        next_attempt_at=_num(item, "next_attempt_at"),
        updated_at=_num(item, "updated_at"),
        lease_until=_num(item, "lease_until"),
        last_error=_str(item, "last_error"),
    )


def action_from_item(item: Item) -> Action:
    return Action(
        key=item["key"]["S"],
        tenant=item["tenant"]["S"],
        event_key=item["event_key"]["S"],
        rule=item["rule"]["S"],
        op=item["op"]["S"],
        record_id=item["record_id"]["S"],
        reason=item["reason"]["S"],
        payload=json.loads(item["payload"]["S"]),
        dry_run=item["dry_run"]["BOOL"],
        status=item["status"]["S"],
        crm_id=_str(item, "crm_id"),
        error=_str(item, "error"),
        created_at=_num(item, "created_at"),
        updated_at=_num(item, "updated_at"),
        sends=int(_num(item, "sends")) if "sends" in item else 0,
    )
