"""DynamoDB store: one table, conditional writes as the idempotency and locking primitives.

Items (hash key `pk` only; every item carries `expires_at`, the table's TTL attribute, set to
`ttl_days` after its last write):
  EVENT#<event key>    the event (`body` = event_to_json) and its processing state
  ACTION#<action key>  one CRM command and its outcome (the effect ledger)

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

import heapq
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Callable, Collection, Iterable, Mapping, Sequence, TypeVar

from integration.config import StoreConfig
from integration.events import PENDING, PROCESSING, STATUSES, Event, StoredEvent
from integration.store import (
    ACTION_PLANNED,
    ACTION_SENT,
    ACTION_STATUSES,
    Action,
    ActionUpdate,
    Settlement,
    Store,
    event_from_json,
    event_to_json,
    payload_to_json,
)

log = logging.getLogger(__name__)

Item = dict[str, dict[str, Any]]  # a low-level DynamoDB item: {"name": {"S": "..."}}
T = TypeVar("T")
R = TypeVar("R")

_EVENT = "EVENT#"
_ACTION = "ACTION#"
_DUE = "DUE"
_PUT_WORKERS = 8  # parallel conditional puts per batch (botocore's pool is sized to match)
_FILTERED_PAGE = 100  # items read per page when a filter may drop most of them

# (index name, hash key attribute, range key attribute, projected non-key attributes or None = ALL)
_INDEXES: tuple[tuple[str, str, str, tuple[str, ...] | None], ...] = (
    ("due", "due_scope", "due_at", ("status", "lease_until", "tenant")),
    ("by_status", "status_scope", "ts", None),
    ("by_tenant", "tenant_scope", "ts", None),
    ("by_event", "event_scope", "ts", None),
)


class DynamoStore(Store):
    def __init__(
        self,
        table_name: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        ttl_days: int = 90,
        client: Any = None,
    ):
        self.table = table_name
        self.ttl_seconds = ttl_days * 86_400
        self._owns_client = client is None
        if client is None:
            import boto3  # lazily: a Lambda cold start that never touches the store skips it
            from botocore.config import Config

            client = boto3.client(
                "dynamodb",
                region_name=region,
                endpoint_url=endpoint_url,
                config=Config(
                    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10,
                    max_pool_connections=_PUT_WORKERS + 2,
                ),
            )
        self._client = client

    @classmethod
    def from_config(cls, config: StoreConfig) -> DynamoStore:
        return cls(config.table, region=config.region, endpoint_url=config.endpoint_url, ttl_days=config.ttl_days)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # --- table ----------------------------------------------------------------------------
    def create_table(self) -> None:
        """Create the table with its indexes and TTL unless it exists (tests, `gamefilm store init`).

        Production declares the same table in `infra/dynamodb_table.json`.
        """
        try:
            self._client.create_table(**_table_definition(self.table))
        except self._client.exceptions.ResourceInUseException:
            pass  # already there: creation is idempotent
        waiter = self._client.get_waiter("table_exists")
        waiter.wait(TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        self._enable_ttl()

    def _enable_ttl(self) -> None:
        ttl = self._client.describe_time_to_live(TableName=self.table)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return
        try:
            self._client.update_time_to_live(
                TableName=self.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
            )
        except self._client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "UnknownOperationException":
                raise
            # Local emulators (dynalite) lack UpdateTimeToLive; items keep expires_at regardless.
            log.warning("DynamoDB endpoint cannot enable TTL on %s: items will not expire", self.table)

    # --- events ---------------------------------------------------------------------------
    def add_events(self, events: Sequence[Event], now: float) -> list[bool]:
        """One conditional put per event (BatchWriteItem takes no conditions), run in
        parallel: on real DynamoDB each put is a network round trip, and the webhook waits."""
        items = [self._event_item(event, now) for event in events]
        if len(items) <= 1:
            return [self._put_if_absent(item) for item in items]
        unique = {item["pk"]["S"]: item for item in items}
        with ThreadPoolExecutor(max_workers=min(_PUT_WORKERS, len(unique))) as pool:
            stored = dict(zip(unique, pool.map(self._put_if_absent, unique.values())))
        # A key repeated inside one batch is new only the first time.
        return [stored.pop(item["pk"]["S"], False) for item in items]

    def _event_item(self, event: Event, now: float) -> Item:
        return _attrs(
            {
                "pk": _EVENT + event.key,
                "key": event.key,
                "tenant": event.tenant,
                "body": event_to_json(event),
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
        return _stored_event(item) if item else None

    def list_events(
        self, *, status: str | None = None, tenant: str | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        if status is not None:
            items = self._newest("by_status", "status_scope", [_EVENT + status], limit, tenant=tenant)
        elif tenant is not None:
            items = self._newest("by_tenant", "tenant_scope", [_EVENT + tenant], limit)
        else:
            items = self._newest("by_status", "status_scope", [_EVENT + s for s in STATUSES], limit)
        return [_stored_event(item) for item in items]

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
        return _stored_event(item) if item else None

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
            return _action(existing)
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
            return [_action(item) for item in items]

        keys = list(dict.fromkeys(event_keys))
        found = dict(zip(keys, self._parallel(query, keys)))
        return {key: sorted(actions, key=lambda a: (a.created_at, a.key)) for key, actions in found.items() if actions}

    def _parallel(self, fn: Callable[[T], R], items: list[T]) -> list[R]:
        """Per-item requests (conditions are per item in DynamoDB) run side by side."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(_PUT_WORKERS, len(items))) as pool:
            return list(pool.map(fn, items))

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
        return _action(item) if item else None

    def list_actions(
        self, *, tenant: str | None = None, event_key: str | None = None, limit: int = 50
    ) -> list[Action]:
        if event_key is not None:
            items = self._newest("by_event", "event_scope", [event_key], limit, tenant=tenant)
        elif tenant is not None:
            items = self._newest("by_tenant", "tenant_scope", [_ACTION + tenant], limit)
        else:
            items = self._newest("by_status", "status_scope", [_ACTION + s for s in ACTION_STATUSES], limit)
        return [_action(item) for item in items]

    # --- low-level helpers ----------------------------------------------------------------
    def _expires_at(self, now: float) -> int:
        return int(now) + self.ttl_seconds

    def _get(self, pk: str) -> Item | None:
        return self._client.get_item(TableName=self.table, Key={"pk": _s(pk)}, ConsistentRead=True).get("Item")

    def _update(
        self, pk: str, fields: Mapping[str, Any], *, condition: str, values: Mapping[str, Any] | None = None
    ) -> Item | None:
        """Conditionally SET (or REMOVE, for None) `fields`; the new item, or None if the
        condition failed. Placeholders are #<field> and :<field>; `condition` may use them."""
        sets = ", ".join(f"#{name} = :{name}" for name, value in fields.items() if value is not None)
        removes = ", ".join(f"#{name}" for name, value in fields.items() if value is None)
        expression = f"SET {sets}" + (f" REMOVE {removes}" if removes else "")
        try:
            response = self._client.update_item(
                TableName=self.table,
                Key={"pk": _s(pk)},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={f"#{name}": name for name in fields},
                ExpressionAttributeValues={**{f":{k}": v for k, v in _attrs(fields).items()}, **(values or {})},
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return response["Attributes"]

    def _update_existing(self, pk: str, fields: Mapping[str, Any]) -> None:
        """Update a row that must exist: UpdateItem alone would create a bare one."""
        if self._update(pk, fields, condition="attribute_exists(pk)") is None:
            raise KeyError(pk)

    def _query(self, *, want: int, **params: Any) -> list[Item]:
        """Page through a Query until `want` items passed its filter, if any."""
        items: list[Item] = []
        params = {"TableName": self.table, "Limit": want, **params}
        while len(items) < want:
            page = self._client.query(**params)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items[:want]

    def _newest(
        self, index: str, scope_attr: str, scopes: Iterable[str], limit: int, *, tenant: str | None = None
    ) -> list[Item]:
        """Newest `limit` items across one or more partitions of `index`, of `tenant` if given."""
        params: dict[str, Any] = {}
        values = {}
        if tenant is not None:
            # Limit counts the items read before the filter drops other tenants': read pages.
            params = {"FilterExpression": "tenant = :tenant", "Limit": max(limit, _FILTERED_PAGE)}
            values = {":tenant": _s(tenant)}
        per_scope = [
            self._query(
                IndexName=index,
                KeyConditionExpression=f"{scope_attr} = :scope",
                ExpressionAttributeValues={":scope": _s(scope), **values},
                ScanIndexForward=False,
                want=limit,
                **params,
            )
            for scope in scopes
        ]
        merged = heapq.merge(*per_scope, key=lambda item: float(item["ts"]["N"]), reverse=True)
        return list(merged)[:limit]


# --- table definition ---------------------------------------------------------------------
def _table_definition(table: str) -> dict[str, Any]:
    """CreateTable arguments; keep in step with infra/dynamodb_table.json."""
    key_types = {"pk": "S", "ts": "N", "due_at": "N"}
    key_types |= {hash_key: "S" for _, hash_key, _, _ in _INDEXES}
    return {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": kind} for name, kind in key_types.items()],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": (
                    {"ProjectionType": "ALL"}
                    if projected is None
                    else {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(projected)}
                ),
            }
            for name, hash_key, range_key, projected in _INDEXES
        ],
    }


# --- attribute values ---------------------------------------------------------------------
def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(value)}  # repr: the shortest string that reads back as the same float


def _attrs(fields: Mapping[str, Any]) -> Item:
    """Plain values -> attribute values; None is left out (absent attribute)."""
    out: Item = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = {"BOOL": value}
        elif isinstance(value, (int, float)):
            out[name] = _n(value)
        else:
            out[name] = _s(value)
    return out


def _str(item: Item, name: str) -> str | None:
    return item[name]["S"] if name in item else None


def _num(item: Item, name: str) -> float:
    return float(item[name]["N"])


def _stored_event(item: Item) -> StoredEvent:
    return StoredEvent(
        event=event_from_json(item["body"]["S"]),
        status=item["status"]["S"],
        attempts=int(item["attempts"]["N"]),
        received_at=_num(item, "received_at"),
        next_attempt_at=_num(item, "next_attempt_at"),
        updated_at=_num(item, "updated_at"),
        lease_until=_num(item, "lease_until"),
        last_error=_str(item, "last_error"),
    )


def _action(item: Item) -> Action:
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
