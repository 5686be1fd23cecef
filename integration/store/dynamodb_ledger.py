"""The review ledger on the DynamoDB store's table (same table, same indexes: no new GSI).

Items (hash key `pk`):
  REC#<tenant>#<external_id>          one recording (RecordingEntry); expires `ttl_days` after its last write
  ASGSET#<tenant>#<external_id>#<kind> the set of reviewers of one recording and kind, written last:
                                      its presence means the set is complete
  ASG#<tenant>#<external_id>#<kind>#<reviewer>  one assignment
                                      (both expire `ttl_days` after the assignment's last write)
  ASGTASK#<tenant>#<task_id>          points at the ASG item whose CRM task this is (`asg`), written
                                      with the task id; a stale pointer is told by the ASG's own task_id
  REVIEWER#<tenant>#<reviewer_id>     rotation stats, `applied` (the last rotation version written
                                      into it) and `counted` (the recordings that counted towards
                                      `reviewed_calls`, a string set); never expires
  ROTATION#<tenant>                   the tenant's rotation version, the intent of the last `assign`
                                      (JSON) and `applied` (the version whose intent is fully written)

Access patterns -> how they are served (no path Scans the table):
  put recordings              PutItem each (replace), in parallel
  get recordings / stats      BatchGetItem, ConsistentRead
  recordings due              Query `due` (due_scope = "RECDUE#<tenant>", due_at <= now), then
                              BatchGetItem; only unmatched/attached ones with a due time carry the keys
  list recordings             Query `by_status` ("REC#<status>", tenant as a filter) or `by_tenant`
                              ("REC#<tenant>"), newest `started_at` (ts) first
  assignments of recordings   BatchGetItem of the ASGSET items, then of the ASG items they name
  assignments by CRM task      BatchGetItem of the ASGTASK pointers, then of the ASG items they name
  open assignments due        Query `due` (due_scope = "ASGOPEN#<tenant>", due_at < due_before),
                              then BatchGetItem; only open assignments carry the keys
  update assignments          UpdateItem each, condition attribute_exists(pk), in parallel
  assign                      see below
  count reviewed (once)       UpdateItem REVIEWER: ADD reviewed_calls 1, ADD counted {id},
                              condition NOT contains(counted, id)
  set overdue                 UpdateItem REVIEWER SET / REMOVE overdue_since
  reviews and standings       see integration/store/dynamodb_reviews.py

Why `assign` commits through ROTATION#<tenant>, not TransactWriteItems: the DynamoDB-compatible
server the suite runs (dynalite 4) has no transactions (architect/dynalite#151), and this way
each step is one conditional single-item write, the same on both. `assign`:
  1. GetItem ASGSET: present -> answer that set (idempotent; the common redelivery).
  2. GetItem ROTATION (version v); if its intent is not yet applied, back off once (its
     committer is most likely writing it); still not applied (the worker died after
     committing): write it (roll forward).
  3. BatchGetItem ASGSET and the candidates' REVIEWER items (consistent: every intent up to v
     is written, so a set committed by then is seen: answer it), run `choose`, and commit: UpdateItem ROTATION SET version = v+1, intent = the assignments
     and the reviewers' new stats, condition version = v. Another worker committed first ->
     back off (jittered) and redo from 2, at most `MAX_ATTEMPTS` times.
  4. Apply the intent: ASG items (attribute_not_exists), REVIEWER stats (condition applied < v+1),
     then ASGSET (attribute_not_exists), then ROTATION applied = v+1. Each write is idempotent,
     so the committer and a rolling-forward worker may both apply it.
Every assign of a tenant is thus serialised by one conditional write: choices are made on the
stats every earlier assign left, so a weekly cap holds under any number of workers. The cost:
assigns of one tenant queue on one item: ~40 assigns/s per tenant with 4 workers at once on
dynalite, p99 ~1 s (bench/rotation.py), far above the rate of recorded calls.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, replace
from typing import Any, Callable, Sequence

from integration.ledger import (
    PEER,
    RECORDING_STATUSES,
    SELF,
    Assignment,
    Chooser,
    RecordingEntry,
    ReviewerStats,
    ReviewLedger,
)
from integration.store.dynamodb_ledger_items import (
    ASG_OPEN,
    REC,
    REC_DUE,
    ROTATION,
    asg_pk,
    task_pk,
    assignment_fields,
    assignment_from_item,
    assignment_item,
    rec_pk,
    recording_from_item,
    recording_item,
    reviewer_pk,
    set_pk,
    stats_from_item,
)
from integration.store.dynamodb_reviews import DynamoReviews
from integration.store.dynamodb_table import DynamoTable, Item, _attrs, _n, _s

MAX_ATTEMPTS = 100  # commits lost to other workers (and waits for a committer) before `assign` gives up
_BACKOFF_SECONDS = 0.005
_BATCH_GET = 100  # BatchGetItem's limit per request


class LedgerBusy(RuntimeError):
    """`assign` lost the rotation to other workers MAX_ATTEMPTS times (the event is retried)."""


class DynamoLedger(DynamoReviews, ReviewLedger):
    """The ledger port on a `DynamoTable` (`DynamoStore.ledger()`)."""

    def __init__(self, table: DynamoTable):
        self._t = table
        self._client = table._client

    # --- recordings -----------------------------------------------------------------------
    def put_recordings(self, entries: Sequence[RecordingEntry], now: float) -> None:
        items = {rec_pk(e.tenant, e.external_id): recording_item(e, now, e.due_at(), self._t._expires_at(now)) for e in entries}
        self._put_all(list(items.values()))

    def get_recordings(self, tenant: str, external_ids: Sequence[str]) -> dict[str, RecordingEntry]:
        items = self._batch_get([rec_pk(tenant, x) for x in external_ids])
        return {entry.external_id: entry for entry in map(recording_from_item, items.values())}

    def recordings_due(self, tenant: str, now: float, limit: int = 100) -> list[RecordingEntry]:
        entries = map(recording_from_item, self._due(REC_DUE + tenant, "<=", now, limit).values())
        due = [(when, e) for e in entries if (when := e.due_at()) is not None and when <= now]  # the index lags the table
        return [e for _, e in sorted(due, key=lambda pair: (pair[0], pair[1].external_id))]

    def list_recordings(self, *, tenant: str | None = None, status: str | None = None, limit: int = 50) -> list[RecordingEntry]:
        if status is not None:
            items = self._t._newest("by_status", "status_scope", [REC + status], limit, tenant=tenant)
        elif tenant is not None:
            items = self._t._newest("by_tenant", "tenant_scope", [REC + tenant], limit)
        else:
            items = self._t._newest("by_status", "status_scope", [REC + s for s in RECORDING_STATUSES], limit)
        return [recording_from_item(item) for item in items]

    # --- assignments ----------------------------------------------------------------------
    def assign(
        self, tenant: str, external_id: str, kind: str, candidates: Sequence[str], choose: Chooser,
        make: Callable[[str], Assignment], now: float, week: str,
    ) -> list[Assignment]:  # fmt: skip
        found = self._sets(tenant, [(external_id, kind)])
        if found:
            return found[(external_id, kind)]
        candidates = list(dict.fromkeys(candidates))
        waited_for = None
        for attempt in range(MAX_ATTEMPTS):
            rotation = self._t._get(ROTATION + tenant) or {}
            version = int(rotation["version"]["N"]) if rotation else 0
            if rotation and int(rotation["applied"]["N"]) < version:
                if waited_for != version:  # its committer is most likely writing it now: a moment first
                    waited_for = version
                    _back_off(attempt)
                    continue
                self._apply(tenant, json.loads(rotation["intent"]["S"]), version)
            # Every intent up to `version` is written now: a set of this recording committed by
            # then is visible here, and one committed later makes the commit below fail.
            own_set = set_pk(tenant, external_id, kind)
            items = self._batch_get([own_set, *(reviewer_pk(tenant, r) for r in candidates)])
            if own_set in items:
                return self._sets(tenant, [(external_id, kind)]).get((external_id, kind), [])
            stats = {s.reviewer_id: s for s in map(stats_from_item, items.values())}
            made = [replace(a, assigned_at=a.assigned_at or now) for a in map(make, dict.fromkeys(choose(stats)))]
            if not made:
                return []  # nothing to write: no commit, so other workers' commits are not held up
            bumps = {} if kind == SELF else {r: _bumped(stats.get(r) or ReviewerStats(r), now, week) for r in (a.reviewer_id for a in made)}
            intent = {"external_id": external_id, "kind": kind, "assignments": [asdict(a) for a in made], "stats": bumps}
            if self._commit(tenant, version, intent, now):
                self._apply(tenant, intent, version + 1)
                return made
            _back_off(attempt)
        raise LedgerBusy(f"rotation of tenant {tenant!r} kept changing: {MAX_ATTEMPTS} attempts lost to other workers")

    def _commit(self, tenant: str, version: int, intent: dict[str, Any], now: float) -> bool:
        try:
            self._client.update_item(
                TableName=self._t.table,
                Key={"pk": _s(ROTATION + tenant)},
                UpdateExpression="SET version = :next, intent = :intent, applied = if_not_exists(applied, :zero), updated_at = :now",
                ConditionExpression="attribute_not_exists(pk) OR version = :version",
                ExpressionAttributeValues={
                    ":next": _n(version + 1), ":version": _n(version), ":zero": _n(0),
                    ":intent": _s(json.dumps(intent, sort_keys=True)), ":now": _n(now),
                },
            )  # fmt: skip
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _apply(self, tenant: str, intent: dict[str, Any], version: int) -> None:
        """Write one committed intent; safe to run twice, and by two workers at once."""
        made = [Assignment(**a) for a in intent["assignments"]]
        now = max((a.assigned_at for a in made), default=0.0)
        expires_at = self._t._expires_at(now)
        self._t._parallel(lambda a: self._put_new(assignment_item(a, now, expires_at)), made)
        self._point_tasks([a for a in made if a.task_id], expires_at)
        self._t._parallel(lambda pair: self._write_stats(tenant, pair[0], pair[1], version), list(intent["stats"].items()))
        if made:  # no one chosen: no set, so the next call chooses again (as on SQLite)
            reviewers = [a.reviewer_id for a in made]
            set_item = {"pk": set_pk(tenant, intent["external_id"], intent["kind"]), "reviewers": json.dumps(reviewers), "expires_at": expires_at}
            self._put_new(_attrs(set_item))
        self._update_if(ROTATION + tenant, "SET applied = :v", "applied < :v", {":v": _n(version)})

    def _write_stats(self, tenant: str, reviewer: str, stats: dict[str, Any], version: int) -> None:
        values = {f":{k}": v for k, v in _attrs(stats).items()}
        self._update_if(
            reviewer_pk(tenant, reviewer),
            "SET reviewer_id = :rid, last_assigned_at = :last_assigned_at, week = :week, week_count = :week_count,"
            " assigned_total = :assigned_total, applied = :v",
            "attribute_not_exists(applied) OR applied < :v",
            {**values, ":rid": _s(reviewer), ":v": _n(version)},
        )

    def _put_new(self, item: Item) -> None:
        try:
            self._client.put_item(TableName=self._t.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except self._client.exceptions.ConditionalCheckFailedException:
            pass  # written already (by the committer or a worker rolling forward)

    def _update_if(self, pk: str, expression: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self._client.update_item(
                TableName=self._t.table, Key={"pk": _s(pk)}, UpdateExpression=expression,
                ConditionExpression=condition, ExpressionAttributeValues=values,
            )  # fmt: skip
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _sets(self, tenant: str, wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[Assignment]]:
        """The complete assignment sets of (external_id, kind) pairs; pairs without one are absent."""
        sets = self._batch_get([set_pk(tenant, x, kind) for x, kind in wanted])
        named = {
            (x, kind): json.loads(sets[set_pk(tenant, x, kind)]["reviewers"]["S"]) for x, kind in wanted if set_pk(tenant, x, kind) in sets
        }
        items = self._batch_get([asg_pk(tenant, x, kind, r) for (x, kind), reviewers in named.items() for r in reviewers])
        return {  # an item gone (expired before its set) is left out
            (x, kind): [assignment_from_item(items[pk]) for r in reviewers if (pk := asg_pk(tenant, x, kind, r)) in items]
            for (x, kind), reviewers in named.items()
        }

    def assignments_for(self, tenant: str, external_ids: Sequence[str]) -> dict[str, list[Assignment]]:
        ids = list(dict.fromkeys(external_ids))
        sets = self._sets(tenant, [(x, kind) for x in ids for kind in (SELF, PEER)])
        found = {x: sets.get((x, SELF), []) + sets.get((x, PEER), []) for x in ids}
        return {x: assignments for x, assignments in found.items() if assignments}

    def assignments_by_task(self, tenant: str, task_ids: Sequence[str]) -> dict[str, Assignment]:
        pointers = self._batch_get([task_pk(tenant, t) for t in task_ids])
        items = self._batch_get([p["asg"]["S"] for p in pointers.values()])
        found = (assignment_from_item(item) for item in items.values())
        return {a.task_id: a for a in found if a.task_id and task_pk(tenant, a.task_id) in pointers}

    def _due(self, scope: str, op: str, bound: float, limit: int) -> dict[str, Item]:
        """Items of the sparse `due` index under `scope` with due_at `op` `bound`, oldest first
        (the index holds keys only: the items come in one batched read)."""
        keys = self._t._query(
            IndexName="due",
            KeyConditionExpression=f"due_scope = :scope AND due_at {op} :bound",
            ExpressionAttributeValues={":scope": _s(scope), ":bound": _n(bound)},
            ScanIndexForward=True,
            want=limit,
        )
        return self._batch_get([k["pk"]["S"] for k in keys])

    def _put_all(self, items: Sequence[Item]) -> None:
        """Unconditional PutItems in parallel (each rewrites the same item on a replay)."""
        self._t._parallel(lambda item: self._client.put_item(TableName=self._t.table, Item=item), list(items))

    def _point_tasks(self, assignments: Sequence[Assignment], expires_at: int) -> None:
        """ASGTASK pointers for assignments that know their CRM task (PutItem: a replay rewrites the same)."""
        items = [_attrs({"pk": task_pk(a.tenant, a.task_id or ""), "asg": asg_pk(a.tenant, a.external_id, a.kind, a.reviewer_id),
                         "expires_at": expires_at}) for a in assignments]  # fmt: skip
        self._put_all(items)

    def open_assignments(self, tenant: str, due_before: float, limit: int = 500) -> list[Assignment]:
        items = self._due(ASG_OPEN + tenant, "<", due_before, limit)
        found = [a for a in map(assignment_from_item, items.values()) if a.status == "open" and a.due_at < due_before]
        return sorted(found, key=lambda a: (a.due_at, a.external_id, a.kind, a.reviewer_id))

    def update_assignments(self, assignments: Sequence[Assignment], now: float) -> None:
        def update(a: Assignment) -> None:
            fields = assignment_fields(a, now) | {"expires_at": self._t._expires_at(now)}
            self._t._update_existing(asg_pk(a.tenant, a.external_id, a.kind, a.reviewer_id), fields)

        self._t._parallel(update, list(assignments))
        self._point_tasks([a for a in assignments if a.task_id], self._t._expires_at(now))

    # --- reviewers ------------------------------------------------------------------------
    def reviewer_stats(self, tenant: str, reviewer_ids: Sequence[str]) -> dict[str, ReviewerStats]:
        items = self._batch_get([reviewer_pk(tenant, r) for r in reviewer_ids])
        return {s.reviewer_id: s for s in map(stats_from_item, items.values())}

    def count_reviewed(self, tenant: str, rep_id: str, external_id: str) -> None:
        self._update_if(
            reviewer_pk(tenant, rep_id),
            "SET reviewer_id = :rid ADD reviewed_calls :one, counted :ids",
            "attribute_not_exists(counted) OR NOT contains(counted, :id)",
            {":rid": _s(rep_id), ":one": _n(1), ":ids": {"SS": [external_id]}, ":id": _s(external_id)},
        )

    def set_overdue(self, tenant: str, reviewer_id: str, since: float | None) -> None:
        expression = "SET reviewer_id = :rid" + (", overdue_since = :since" if since is not None else " REMOVE overdue_since")
        values = {":rid": _s(reviewer_id), **({":since": _n(since)} if since is not None else {})}
        self._client.update_item(TableName=self._t.table, Key={"pk": _s(reviewer_pk(tenant, reviewer_id))}, UpdateExpression=expression,
                                 ExpressionAttributeValues=values)  # fmt: skip

    # --- reads ----------------------------------------------------------------------------
    def _batch_get(self, pks: Sequence[str]) -> dict[str, Item]:
        """Consistent BatchGetItem in chunks of 100, retrying what DynamoDB left unprocessed."""
        unique = list(dict.fromkeys(pks))
        found: dict[str, Item] = {}

        def chunk(keys: list[str]) -> list[Item]:
            items: list[Item] = []
            request: dict[str, Any] = {self._t.table: {"Keys": [{"pk": _s(k)} for k in keys], "ConsistentRead": True}}
            for attempt in range(10):
                response = self._client.batch_get_item(RequestItems=request)
                items += response["Responses"].get(self._t.table, [])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    return items
                time.sleep(0.01 * 2**attempt)
            raise RuntimeError("DynamoDB kept leaving keys unprocessed")

        chunks = [unique[i : i + _BATCH_GET] for i in range(0, len(unique), _BATCH_GET)]
        for items in self._t._parallel(chunk, chunks):
            found.update((item["pk"]["S"], item) for item in items)
        return found


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, _BACKOFF_SECONDS * min(2**attempt, 32)))


def _bumped(stats: ReviewerStats, now: float, week: str) -> dict[str, Any]:
    """A reviewer's rotation stats after one more assignment (written absolute: replays are harmless)."""
    week_count = stats.week_count + 1 if stats.week == week else 1
    return {"last_assigned_at": now, "week": week, "week_count": week_count, "assigned_total": stats.assigned_total + 1}
