"""The DynamoDB table under the store: its definition, its client, and item-level operations.

`DynamoStore` (integration/store/dynamodb.py) builds the event and outbox logic on these; the
access patterns are written out at the top of that module.
"""
from __future__ import annotations

import heapq
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Mapping, TypeVar

log = logging.getLogger(__name__)

Item = dict[str, dict[str, Any]]  # a low-level DynamoDB item: {"name": {"S": "..."}}
T = TypeVar("T")
R = TypeVar("R")

_PUT_WORKERS = 8  # parallel conditional writes per batch (botocore's pool is sized to match)
_FILTERED_PAGE = 100  # items read per page when a filter may drop most of them

# (index name, hash key attribute, range key attribute, projected non-key attributes or None = ALL)
_INDEXES: tuple[tuple[str, str, str, tuple[str, ...] | None], ...] = (
    ("due", "due_scope", "due_at", ("status", "lease_until", "tenant")),
    ("by_status", "status_scope", "ts", None),
    ("by_tenant", "tenant_scope", "ts", None),
    ("by_event", "event_scope", "ts", None),
)


class DynamoTable:
    """One table, its client (owned unless injected) and conditional item writes."""

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
            from botocore.config import Config

            from integration import aws  # lazily: a Lambda cold start that never touches the store skips it

            client = aws.client(
                "dynamodb",
                region_name=region,
                endpoint_url=endpoint_url,
                config=Config(
                    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10,
                    max_pool_connections=_PUT_WORKERS + 2,
                ),
            )
        self._client = client

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

        def newest_in(scope: str) -> list[Item]:
            return self._query(
                IndexName=index,
                KeyConditionExpression=f"{scope_attr} = :scope",
                ExpressionAttributeValues={":scope": _s(scope), **values},
                ScanIndexForward=False,
                want=limit,
                **params,
            )

        scopes = list(scopes)
        if len(scopes) == 1:
            per_scope = [newest_in(scopes[0])]
        else:  # one round trip's wait, not one per status (/healthz reads all five on a cold start)
            with ThreadPoolExecutor(max_workers=min(_PUT_WORKERS, len(scopes))) as pool:
                per_scope = list(pool.map(newest_in, scopes))
        merged = heapq.merge(*per_scope, key=lambda item: float(item["ts"]["N"]), reverse=True)
        return list(merged)[:limit]

    def _parallel(self, fn: Callable[[T], R], items: list[T]) -> list[R]:
        """Per-item requests (conditions are per item in DynamoDB) run side by side."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(_PUT_WORKERS, len(items))) as pool:
            return list(pool.map(fn, items))


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
