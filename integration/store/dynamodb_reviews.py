"""The review ledger's reviews and rep standings on DynamoDB (mixed into `DynamoLedger`).

Items (hash key `pk`, never expiring: the rolling numbers replay every review):
  REVIEW#<tenant>#<review_id>       one review; PutItem with condition "absent or submitted_at <= mine"
                                    (an edit replaces it, a late older version does not)
  REPREVIEWS#<tenant>#<rep_id>      string set `ids`: the reviews of the rep (ADD: idempotent)
  DEALREVIEWS#<tenant>#<deal_id>    string set `ids`: the reviews of calls on the deal
  STANDINGS#<tenant>                one attribute per rep (`rep#<id>`, JSON), so two workers
                                    writing two reps never overwrite each other
Reads are BatchGetItem of the index items, then of the reviews they name (a review whose rep
or deal changed by an edit is dropped by comparing the item's own rep/deal). No Scan, no GSI.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from integration.ledger import REVIEW_VALID, ReviewEntry, Standing
from integration.store import payload_to_json
from integration.store.dynamodb_table import DynamoTable, Item, _attrs, _n, _s, _str

REVIEW = "REVIEW#"
REP_REVIEWS = "REPREVIEWS#"
DEAL_REVIEWS = "DEALREVIEWS#"
STANDINGS = "STANDINGS#"


class DynamoReviews:
    _t: DynamoTable
    _client: Any
    _batch_get: Callable[[Sequence[str]], dict[str, Item]]

    def put_reviews(self, reviews: Sequence[ReviewEntry]) -> None:
        def put(r: ReviewEntry) -> None:
            item = _attrs({"pk": f"{REVIEW}{r.tenant}#{r.review_id}", "tenant": r.tenant, "review_id": r.review_id, "rep_id": r.rep_id,
                           "deal_id": r.deal_id or None, "submitted_at": r.submitted_at, "status": r.status,
                           "review": payload_to_json(r.review), "reason": r.reason or None})  # fmt: skip
            try:
                self._client.put_item(TableName=self._t.table, Item=item, ConditionExpression="attribute_not_exists(pk) OR submitted_at <= :t",
                                      ExpressionAttributeValues={":t": _n(r.submitted_at)})  # fmt: skip
            except self._client.exceptions.ConditionalCheckFailedException:
                return  # a later version is stored: it stays
            indexes = [f"{REP_REVIEWS}{r.tenant}#{r.rep_id}"] + ([f"{DEAL_REVIEWS}{r.tenant}#{r.deal_id}"] if r.deal_id else [])
            for pk in indexes:
                self._client.update_item(TableName=self._t.table, Key={"pk": _s(pk)}, UpdateExpression="ADD ids :ids",
                                         ExpressionAttributeValues={":ids": {"SS": [r.review_id]}})  # fmt: skip

        self._t._parallel(put, list(reviews))

    def get_reviews(self, tenant: str, review_ids: Sequence[str]) -> dict[str, ReviewEntry]:
        items = self._batch_get([f"{REVIEW}{tenant}#{i}" for i in review_ids])
        return {r.review_id: r for r in map(_review, items.values())}

    def reviews_of_reps(self, tenant: str, rep_ids: Sequence[str]) -> list[ReviewEntry]:
        return self._indexed(tenant, REP_REVIEWS, rep_ids, lambda r: r.rep_id)

    def reviews_of_deals(self, tenant: str, deal_ids: Sequence[str]) -> list[ReviewEntry]:
        return self._indexed(tenant, DEAL_REVIEWS, deal_ids, lambda r: r.deal_id or "")

    def _indexed(self, tenant: str, prefix: str, owners: Sequence[str], owner: Callable[[ReviewEntry], str]) -> list[ReviewEntry]:
        wanted = set(owners)
        index = self._batch_get([f"{prefix}{tenant}#{o}" for o in wanted])
        ids = sorted({i for item in index.values() for i in item.get("ids", {}).get("SS", [])})
        found = self.get_reviews(tenant, ids).values()
        return sorted((r for r in found if r.status == REVIEW_VALID and owner(r) in wanted), key=lambda r: (r.submitted_at, r.review_id))

    def put_standings(self, standings: Sequence[Standing]) -> None:
        for tenant in sorted({s.tenant for s in standings}):
            mine = [s for s in standings if s.tenant == tenant]
            names = {f"#r{i}": f"rep#{s.rep_id}" for i, s in enumerate(mine)}
            values = {f":r{i}": _s(json.dumps({"status": s.status, "reason": s.reason, "since": s.since})) for i, s in enumerate(mine)}
            self._client.update_item(TableName=self._t.table, Key={"pk": _s(STANDINGS + tenant)},
                                     UpdateExpression="SET " + ", ".join(f"#r{i} = :r{i}" for i in range(len(mine))),
                                     ExpressionAttributeNames=names, ExpressionAttributeValues=values)  # fmt: skip

    def standings(self, tenant: str) -> dict[str, Standing]:
        item = self._t._get(STANDINGS + tenant) or {}
        out = {}
        for name, value in item.items():
            if name.startswith("rep#"):
                data = json.loads(value["S"])
                out[name[4:]] = Standing(tenant, name[4:], data["status"], data["reason"], float(data["since"]))
        return out


def _review(item: Item) -> ReviewEntry:
    return ReviewEntry(
        tenant=item["tenant"]["S"], review_id=item["review_id"]["S"], rep_id=item["rep_id"]["S"], deal_id=_str(item, "deal_id"),
        submitted_at=float(item["submitted_at"]["N"]), status=item["status"]["S"], review=json.loads(item["review"]["S"]),
        reason=_str(item, "reason") or "",
    )  # fmt: skip
