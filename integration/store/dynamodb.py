"""DynamoDB store: one table, conditional writes as the idempotency and locking primitives.

Items (hash key `pk` only; every item carries `expires_at`, the table's TTL attribute, set to
`ttl_days` after its last write):
  EVENT#<event key>    the event and its processing state: `body` the raw notification, as the ack
                       stores it, and `source` its format (normalised on read); items without
                       `source` hold a normalised event (`event_to_json`), as written before
  ACTION#<action key>  one CRM command and its outcome (the effect ledger)
  REC#, ASG#, ASGSET#, REVIEWER#, ROTATION#  the review ledger (`ledger()`): its items and access
                       patterns are written at the top of integration/store/dynamodb_ledger.py

Access patterns -> how they are served (no path Scans the table):
  add event once              PutItem, condition attribute_not_exists(pk)
  get event / action          GetItem, ConsistentRead
  claim event                 UpdateItem, condition on status + next_attempt_at / lease_until
  due events, oldest first    Query `due` (due_scope = "DUE", due_at <= now); a sparse index:
                              only pending and processing events carry due_scope/due_at
  events by status [+tenant]  Query `by_status` (status_scope = "EVENT#<status>"), newest first,
                              tenant as a filter
  events by tenant            Query `by_tenant` (tenant_scope = "EVENT#<tenant>"), newest first
  all events                  one `by_status` Query per status, merged (five small queries)
  claim / settle many events  one UpdateItem each, run in parallel (conditional per item)
  plan action (outbox)        PutItem, condition attribute_not_exists(pk); the existing row comes
                              back with the failure (ReturnValuesOnConditionCheckFailure)
  update actions              one UpdateItem each, in parallel; `sends` grows with ADD
  actions by tenant / event   Query `by_tenant` ("ACTION#<tenant>") / `by_event` (event_scope =
                              event key; tenant as a filter)
  all actions                 one `by_status` Query per action status ("ACTION#<status>"), merged
Index sort keys: `ts` (received_at for events, created_at for actions) and `due_at`
(next_attempt_at while pending, lease_until while processing).

Index reads are eventually consistent: a due list may miss an event written a moment ago (the
next poll finds it) or name one just claimed (the claim, on the table itself, then fails).
Each index key value is one partition (~1000 writes/s); an event writes each index about three
times in its life, so the ceiling is a few hundred events/s, far above CRM webhook rates. Shard
`due_scope` and `status_scope` (DUE#0..n) should that ever not hold.
`infra/dynamodb_table.json` declares the same table for production.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Collection, Sequence

from integration.config import StoreConfig
from integration.events import PENDING, PROCESSING, STATUSES, Event, Received, StoredEvent
from integration.store import (
    ACTION_PLANNED,
    ACTION_SENT,
    ACTION_STATUSES,
    Action,
    ActionUpdate,
    Settlement,
    Store,
    payload_to_json,
    stored_body,
)
from integration.store.dynamodb_items import action_from_item, event_from_item
from integration.store.dynamodb_table import (  # noqa: F401 - _table_definition: tests and `store init`
    DynamoTable,
    Item,
    _attrs,
    _n,
    _s,
    _table_definition,
)

if TYPE_CHECKING:
    from integration.store.dynamodb_ledger import DynamoLedger

_EVENT = "EVENT#"
_ACTION = "ACTION#"
_DUE = "DUE"


class DynamoStore(DynamoTable, Store):
    """The Store port on one DynamoDB table (see the access patterns above)."""

    @classmethod
    def from_config(cls, config: StoreConfig) -> DynamoStore:
        return cls(config.table, region=config.region, endpoint_url=config.endpoint_url, ttl_days=config.ttl_days)

    def ledger(self) -> DynamoLedger:
        """The review ledger's items in this table (layout: integration/store/dynamodb_ledger.py)."""
        from integration.store.dynamodb_ledger import DynamoLedger  # lazily: intake never needs it

        return DynamoLedger(self)

    # --- events ---------------------------------------------------------------------------
    def add_events(self, events: Sequence[Event | Received], now: float) -> list[bool]:
        """One conditional put per event (BatchWriteItem takes no conditions), run in
        parallel: on real DynamoDB each put is a network round trip, and the webhook waits."""
        items = [self._event_item(event, now) for event in events]
        unique = {item["pk"]["S"]: item for item in items}
        stored = dict(zip(unique, self._parallel(self._put_if_absent, list(unique.values()))))
        # A key repeated inside one batch is new only the first time.
        return [stored.pop(item["pk"]["S"], False) for item in items]

    def _event_item(self, event: Event | Received, now: float) -> Item:
        body, source = stored_body(event)
        return _attrs(
            {
                "pk": _EVENT + event.key,
                "key": event.key,
                "tenant": event.tenant,
                "source": source,  # absent: `body` is a normalised event (items written before)
                "body": body,
                "attempts": 0,
                "received_at": now,
                "next_attempt_at": now,
                "ts": now,
                "tenant_scope": _EVENT + event.tenant,
                **self._event_state(PENDING, now=now, due_at=now),
            }
        )

    def _event_state(
        self, status: str, *, now: float, due_at: float | None = None, lease_until: float = 0.0
    ) -> dict[str, Any]:
        """The attributes every status change rewrites, index keys included (None = remove).

        Only pending and processing events carry `due_scope`/`due_at`, which keeps `due` sparse.
        """
        return {
            "status": status,
            "status_scope": _EVENT + status,
            "lease_until": lease_until,
            "due_scope": _DUE if due_at is not None else None,
            "due_at": due_at,
            "updated_at": now,
            "expires_at": self._expires_at(now),
        }

    def _put_if_absent(self, item: Item) -> bool:
        try:
            self._client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_event(self, key: str) -> StoredEvent | None:
        item = self._get(_EVENT + key)
        return event_from_item(item) if item else None

    def list_events(
        self, *, status: str | None = None, tenant: str | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        if status is not None:
            items = self._newest("by_status", "status_scope", [_EVENT + status], limit, tenant=tenant)
        elif tenant is not None:
            items = self._newest("by_tenant", "tenant_scope", [_EVENT + tenant], limit)
        else:
            items = self._newest("by_status", "status_scope", [_EVENT + s for s in STATUSES], limit)
        return [event_from_item(item) for item in items]

    def due_events(self, now: float, limit: int = 100, skip_tenants: Collection[str] = ()) -> list[tuple[str, str]]:
        # A processing event sits in the index at due_at = lease_until, but is due only once the
        # lease has strictly passed (as `_claim` demands): the filter drops lease_until == now.
        skip = {f":skip{i}": _s(t) for i, t in enumerate(sorted(skip_tenants))}
        condition = "(#status = :pending OR lease_until < :now)"
        if skip:
            condition += f" AND NOT (tenant IN ({', '.join(skip)}))"
        items = self._query(
            IndexName="due",
            KeyConditionExpression="due_scope = :due AND due_at <= :now",
            FilterExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":due": _s(_DUE), ":now": _n(now), ":pending": _s(PENDING), **skip},
            ScanIndexForward=True,
            want=limit,
        )
        return [(item["pk"]["S"].removeprefix(_EVENT), item["tenant"]["S"]) for item in items]

    def _claim(self, key: str, now: float, lease_until: float) -> StoredEvent | None:
        # Claimable once its clock has run out (and never when done, dead or ignored):
        #   pending     ----- waiting -----|next_attempt_at ----- due (inclusive) ----->
        #   processing  ---- leased out ---|lease_until     ----- worker presumed dead -->  (exclusive)
        item = self._update(
            _EVENT + key,
            self._event_state(PROCESSING, now=now, due_at=lease_until, lease_until=lease_until),
            condition=(
                "(#status = :pending AND next_attempt_at <= :now)"
                " OR (#status = :processing AND lease_until < :now)"
            ),
            values={":pending": _s(PENDING), ":processing": _s(PROCESSING), ":now": _n(now)},
        )
        return event_from_item(item) if item else None

    def claim_events(self, keys: Sequence[str], now: float, lease_seconds: float = 300.0) -> list[StoredEvent]:
        claimed = self._parallel(lambda key: self._claim(key, now, now + lease_seconds), list(dict.fromkeys(keys)))
        return [stored for stored in claimed if stored is not None]

    def settle_events(self, settlements: Sequence[Settlement], now: float, actions: Sequence[ActionUpdate] = ()) -> None:
        # No transaction across items: action outcomes first, so an event is never released
        # (done) before the outcomes of what it sent are written.
        self.update_actions(actions, now)

        def settle(s: Settlement) -> None:
            if s.lease_until is None:
                self._set_event_state(
                    s.key, status=s.status, attempts=s.attempts, next_attempt_at=s.next_attempt_at, last_error=s.last_error, now=now
                )
                return
            # Only while still held under this claim; else the worker that took over settles it.
            self._update(
                _EVENT + s.key,
                self._settled_state(s, now),
                condition="#status = :processing AND #lease_until = :held",
                values={":processing": _s(PROCESSING), ":held": _n(s.lease_until)},
            )

        self._parallel(settle, list(settlements))

    def _set_event_state(
        self, key: str, *, status: str, attempts: int, next_attempt_at: float, last_error: str | None, now: float
    ) -> None:
        self._update_existing(_EVENT + key, self._settled_state(Settlement(key, status, attempts, next_attempt_at, last_error), now))

    def _settled_state(self, s: Settlement, now: float) -> dict[str, Any]:
        due_at = s.next_attempt_at if s.status == PENDING else None
        return {
            **self._event_state(s.status, now=now, due_at=due_at),
            "attempts": s.attempts,
            "next_attempt_at": s.next_attempt_at,
            "last_error": s.last_error,
        }

    # --- actions (the outbox) -------------------------------------------------------------
    def plan_actions(self, actions: Sequence[Action], now: float) -> list[Action]:
        fresh = {a.key: replace(a, status=ACTION_PLANNED, created_at=now, updated_at=now, sends=0) for a in actions}
        stored = dict(zip(fresh, self._parallel(lambda a: self._plan(a, now), list(fresh.values()))))
        return [stored[a.key] for a in actions]

    def _plan(self, action: Action, now: float) -> Action:
        try:
            self._client.put_item(
                TableName=self.table,
                Item=self._action_item(action, now),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            # DynamoDB returns the existing row with the error. dynalite ignores the parameter, so
            # there a consistent read fetches it (dynalite never deletes rows: it has no TTL).
            existing = exc.response.get("Item") or self._get(_ACTION + action.key)
            if existing is None:
                raise RuntimeError(f"action {action.key!r} blocked by a row that no longer exists") from exc
            return action_from_item(existing)
        return action

    def update_actions(self, updates: Sequence[ActionUpdate], now: float) -> None:
        def update(u: ActionUpdate) -> None:
            fields = {
                "status": u.status,
                "status_scope": _ACTION + u.status,
                "error": u.error,
                "updated_at": now,
                "expires_at": self._expires_at(now),
            }
            if u.crm_id is not None:
                fields["crm_id"] = u.crm_id
            sets = ", ".join(f"#{name} = :{name}" for name, value in fields.items() if value is not None)
            removes = " REMOVE #error" if u.error is None else ""
            names = {f"#{name}": name for name in fields}
            self._client.update_item(
                TableName=self.table,
                Key={"pk": _s(_ACTION + u.key)},
                UpdateExpression=f"SET {sets}{removes} ADD #sends :sent",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={**names, "#sends": "sends"},
                ExpressionAttributeValues={
                    **{f":{k}": v for k, v in _attrs(fields).items()},
                    ":sent": _n(int(u.status == ACTION_SENT)),
                },
            )

        self._parallel(update, list(updates))

    def actions_for_events(self, event_keys: Sequence[str]) -> dict[str, list[Action]]:
        """One `by_event` Query per event (eventually consistent: the worker reads an outbox
        only on a later attempt, after the backoff, never right after writing it)."""

        def query(event_key: str) -> list[Action]:
            items = self._query(
                IndexName="by_event",
                KeyConditionExpression="event_scope = :event",
                ExpressionAttributeValues={":event": _s(event_key)},
                ScanIndexForward=True,
                want=10_000,
            )
            return [action_from_item(item) for item in items]

        keys = list(dict.fromkeys(event_keys))
        found = dict(zip(keys, self._parallel(query, keys)))
        return {key: sorted(actions, key=lambda a: (a.created_at, a.key)) for key, actions in found.items() if actions}

    def _action_item(self, action: Action, now: float) -> Item:
        return _attrs(
            {
                "pk": _ACTION + action.key,
                "key": action.key,
                "tenant": action.tenant,
                "event_key": action.event_key,
                "rule": action.rule,
                "op": action.op,
                "record_id": action.record_id,
                "reason": action.reason,
                "payload": payload_to_json(action.payload),
                "dry_run": action.dry_run,
                "status": action.status,
                "crm_id": action.crm_id,
                "error": action.error,
                "created_at": action.created_at,
                "updated_at": action.updated_at,
                "sends": action.sends,
                "ts": action.created_at,
                "status_scope": _ACTION + action.status,
                "tenant_scope": _ACTION + action.tenant,
                "event_scope": action.event_key,
                "expires_at": self._expires_at(now),
            }
        )

    def get_action(self, key: str) -> Action | None:
        item = self._get(_ACTION + key)
        return action_from_item(item) if item else None

    def list_actions(
        self, *, tenant: str | None = None, event_key: str | None = None, limit: int = 50
    ) -> list[Action]:
        if event_key is not None:
            items = self._newest("by_event", "event_scope", [event_key], limit, tenant=tenant)
        elif tenant is not None:
            items = self._newest("by_tenant", "tenant_scope", [_ACTION + tenant], limit)
        else:
            items = self._newest("by_status", "status_scope", [_ACTION + s for s in ACTION_STATUSES], limit)
        return [action_from_item(item) for item in items]
