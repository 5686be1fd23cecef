"""Submitted reviews, from the stored event on: validated again, stored, counted, scored and
written back (the review loop's per-batch step for REVIEW_OBJECT events).

Every entry path stores a review event (`review.submitted`); a Salesforce `Call_Review__c`
record arrives unvalidated, so each is checked again here against the ledger (the reviewer is
the assignee and not the rep, the task is still open, the form's rules) with the rep and deal
taken from the ledger, never from the record. A rejected one is stored with its reason (and,
on Salesforce, the reason is written on the record). An accepted one completes its
assignment (a peer review counts the rep's call as reviewed; a self-assessment starts the
peers), then the whole batch is scored at once from the ledger: one write per record however
many reviews of it arrived together, keyed by content (`writeback`), so redeliveries write once.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timezone
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Sequence

from integration.commands import Command
from integration.events import Event
from integration.ledger import CANCELLED, DONE, OPEN, PEER, REVIEW_REJECTED, REVIEW_VALID, SELF, Assignment, RecordingEntry, ReviewEntry, Standing
from integration.review import fields, writeback
from integration.review.flow import Run, Writes
from integration.review.settings import REP_SCORES_SCORECARD
from integration.review.submitted import Submitted, submitted_from_changed, submitted_to_changed
from integration.review.tasks import call_key
from integration.review_form import ReviewTask, SubmissionError, validate_submission
from integration.scoring import RepStanding, Review, deal_rollups, exact_score, rep_standings, rounded

if TYPE_CHECKING:
    from integration.store import Action


def reviews(run: Run, events: Sequence[Event], action: Callable[[str], "Action | None"]) -> None:
    tenant, ledger = run.tenant.id, run.ledger
    found: list[tuple[str, Submitted]] = []
    for event in events:
        try:
            found.append((event.key, submitted_from_changed(event.changed)))
        except (KeyError, TypeError, ValueError) as exc:
            run.fail(event.key, f"the review event cannot be read: {type(exc).__name__}", False)
    if not found:
        return
    found.sort(key=lambda pair: (pair[1].submitted_at, pair[1].review_id))
    calls = sorted({s.review.call_external_id for _, s in found})
    entries = ledger.get_recordings(tenant, calls)
    assignments = ledger.assignments_for(tenant, calls)
    known = ledger.get_reviews(tenant, [s.review_id for _, s in found])
    stored: dict[str, ReviewEntry] = {}
    done: dict[str, Assignment] = {}
    owner: dict[str, str] = {}  # what a record's write belongs to: the first event that touched it
    plans: dict[str, list[Command]] = defaultdict(list)
    accepted: list[tuple[str, Submitted, Assignment, RecordingEntry]] = []
    for key, s in found:
        entry = entries.get(s.review.call_external_id)
        mine = [a for a in assignments.get(s.review.call_external_id, []) if a.kind == s.kind and a.reviewer_id == s.review.reviewer_id]
        prior = stored.get(s.review_id) or known.get(s.review_id)
        if prior is not None and prior.status == REVIEW_VALID and prior.submitted_at > s.submitted_at.timestamp():
            continue  # an older version delivered late: the edit stands, nothing to change
        checked = _check(run, s, entry, mine[0] if mine else None, prior)
        if isinstance(checked, str):
            rejected = _rejected(tenant, s, entry, checked)
            stored.setdefault(rejected.review_id, rejected)
            if s.crm_review_id and run.tenant.crm == "salesforce":
                plans[key].append(writeback.review_error(tenant, s.crm_review_id, checked, s.review_id))
            continue
        assert entry is not None and mine
        stored[s.review_id] = ReviewEntry(tenant, s.review_id, checked.review.rep_id, checked.review.deal_id, s.submitted_at.timestamp(),
                                          REVIEW_VALID, submitted_to_changed(checked))  # fmt: skip
        a = done.get(a_key := mine[0].task_key) or mine[0]
        if a.status == OPEN:
            done[a_key] = replace(a, status=DONE, completed_at=s.submitted_at.timestamp())
        accepted.append((key, checked, done.get(a_key) or a, entry))
    ledger.put_reviews(list(stored.values()))
    if done:
        ledger.update_assignments(list(done.values()), run.now)
    started: set[str] = set()
    for key, s, a, entry in accepted:  # again on a redelivery too: both steps are idempotent, so a crash loses neither
        if a.task_key not in started:
            started.add(a.task_key)
            _completed(run, key, a, entry)
    for key, s, a, entry in accepted:
        task_id = a.task_id or ((row := action(a.task_key)) and row.crm_id) or None
        if task_id:
            _add(plans, owner, f"task:{a.task_key}", key, writeback.complete_task(tenant, run.tenant.crm, a.task_key, str(task_id), entry.deal_id or "", s.review_id))
        if s.crm_review_id and run.tenant.crm == "salesforce":
            _add(plans, owner, f"review:{s.crm_review_id}", key, writeback.review_score(tenant, s.crm_review_id, s.review.weighted_score, s.review_id))
            if s.review.rep_id and s.review.rep_id != s.review.reviewer_id:  # the owner (a self-assessment's rep) needs no share
                _add(plans, owner, f"share:{s.crm_review_id}", key, writeback.share_review(tenant, s.crm_review_id, s.review.rep_id, s.review_id))
    _scores(run, [(k, s, e) for k, s, _, e in accepted], plans, owner, action)
    for key, commands in plans.items():
        run.decisions[key].append(Writes(tuple(commands)))


def _check(run: Run, s: Submitted, entry: RecordingEntry | None, a: Assignment | None, prior: ReviewEntry | None) -> Submitted | str:
    """The accepted submission (rep, deal and weighted score from the ledger and the rubric), or why not."""
    if entry is None:
        return "no such recording in Game Film"
    if a is None:
        return "the reviewer is not assigned this review task"
    if a.status == CANCELLED:
        return "the review task was cancelled"
    again = prior is not None and prior.status == REVIEW_VALID  # a redelivery, or an edit of a counted review
    task = ReviewTask.of(a, entry)
    task = replace(task, open=task.open or (a.status == DONE and again))
    r = s.review
    payload: dict[str, Any] = {"scores": dict(r.scores), "self_assessment": r.self_assessment}
    if r.self_assessment:
        payload |= {"improvement_area": r.improvement_area, "improvement_note": r.improvement_note or None}
    else:
        payload |= {"strengths": r.strengths, "suggestions": list(r.suggestions)}
    try:
        valid = validate_submission(run.settings.rubric, task, r.reviewer_id, payload)
    except SubmissionError as exc:
        return "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    return replace(s, review=replace(valid, task_id=r.task_id or valid.task_id))


def _rejected(tenant: str, s: Submitted, entry: RecordingEntry | None, reason: str) -> ReviewEntry:
    ref = s.crm_review_id or hashlib.sha256(repr(submitted_to_changed(s)).encode()).hexdigest()[:12]
    rep = (entry.rep_user_id if entry else None) or s.review.rep_id
    return ReviewEntry(tenant, f"{s.review_id}#rejected#{ref}", rep, entry.deal_id if entry else None, s.submitted_at.timestamp(),
                       REVIEW_REJECTED, submitted_to_changed(s), reason)  # fmt: skip


def _completed(run: Run, key: str, a: Assignment, entry: RecordingEntry) -> None:
    if a.kind == PEER and entry.rep_user_id:
        run.ledger.count_reviewed(run.tenant.id, entry.rep_user_id, entry.external_id)
    elif a.kind == SELF and entry.peers_due_at > 0:
        run.peers(key, entry)  # self-assessment done: peers now, not after the grace


def _add(plans: dict[str, list[Command]], owner: dict[str, str], record: str, key: str, command: Command) -> None:
    if record not in owner:
        owner[record] = key
        plans[key].append(command)


def _to_review(r: ReviewEntry) -> Review:
    s = submitted_from_changed(r.review)
    return replace(s.to_review(), rep_id=r.rep_id, deal_id=r.deal_id)


def _scores(run: Run, accepted: Sequence[tuple[str, Submitted, RecordingEntry]], plans: dict[str, list[Command]],
            owner: dict[str, str], action: Callable[[str], "Action | None"]) -> None:  # fmt: skip
    """Recompute the touched deals and reps from every stored review, and plan one write each."""
    peer = [(k, s, e) for k, s, e in accepted if not s.review.self_assessment]
    if not peer:
        return
    tenant, crm, rubric = run.tenant.id, run.tenant.crm, run.settings.rubric
    first_by_deal: dict[str, str] = {}
    for k, s, e in peer:
        if e.deal_id:
            first_by_deal.setdefault(e.deal_id, k)
    first_by_rep: dict[str, str] = {}
    for k, s, e in peer:
        first_by_rep.setdefault(s.review.rep_id, k)
    rollups = deal_rollups(rubric, map(_to_review, run.ledger.reviews_of_deals(tenant, sorted(first_by_deal))))
    for deal_id, key in sorted(first_by_deal.items()):
        if deal_id in rollups:
            values = fields.deal_fields(crm, rollups[deal_id])
            _add(plans, owner, f"deal:{deal_id}", key, writeback.scores(tenant, fields.deal_object(crm), deal_id, values,
                 f"Peer-review scores of the calls on this deal ({rollups[deal_id].count} reviews).", {"reviews": rollups[deal_id].count}))  # fmt: skip
    rep_reviews = [_to_review(r) for r in run.ledger.reviews_of_reps(tenant, sorted(first_by_rep))]
    standings = rep_standings(rubric, rep_reviews)
    since = _standings(run, standings)
    for rep, key in sorted(first_by_rep.items()):
        standing = standings.get(rep)
        if standing is None or standing.overall is None:
            continue
        values = fields.rep_fields(crm, standing, since.get(rep))
        reason = f"The rep's rolling peer-review average over the last {standing.window_reviews} reviews; {standing.reason}."
        if crm == "salesforce" and run.settings.rep_scores == REP_SCORES_SCORECARD:
            _add(plans, owner, f"rep:{rep}", key, writeback.scorecard(tenant, rep, values, reason, {"status": standing.status}))
        elif crm == "salesforce":
            _add(plans, owner, f"rep:{rep}", key, writeback.scores(tenant, "User", rep, values, reason, {"status": standing.status}))
    if crm != "salesforce":
        _hubspot_calls(run, peer, rep_reviews, standings, plans, owner, action)


def _standings(run: Run, standings: dict[str, RepStanding]) -> dict[str, Any]:
    """Record each rep's status when it changed (or is new); answer the date each began."""
    tenant = run.tenant.id
    old = run.ledger.standings(tenant)
    changed = []
    for rep, st in standings.items():
        began = st.transitions[-1].at.timestamp() if st.transitions else (st.last_reviewed_at.timestamp() if st.last_reviewed_at else run.now)
        if rep not in old or old[rep].status != st.status or old[rep].reason != st.reason:
            since = began if rep not in old or old[rep].status != st.status else old[rep].since
            changed.append(Standing(tenant, rep, st.status, st.reason, since))
    if changed:
        run.ledger.put_standings(changed)
        run.standings_changed()
    current = {**old, **{s.rep_id: s for s in changed}}
    return {rep: datetime.fromtimestamp(s.since, tz=timezone.utc).date() for rep, s in current.items()}


def _hubspot_calls(run: Run, peer: Sequence[tuple[str, Submitted, RecordingEntry]], rep_reviews: Sequence[Review],
                   standings: dict[str, RepStanding], plans: dict[str, list[Command]], owner: dict[str, str],
                   action: Callable[[str], "Action | None"]) -> None:  # fmt: skip
    """HubSpot: each touched call gets its own averages; the rep's latest reviewed call also
    carries the rep's rolling numbers (owners carry no custom properties)."""
    tenant, rubric = run.tenant.id, run.settings.rubric
    first_by_call: dict[str, str] = {}
    for k, s, e in peer:
        first_by_call.setdefault(e.external_id, k)
    latest: dict[str, str] = {}
    for review in sorted((r for r in rep_reviews if not r.self_assessment and r.call_external_id), key=lambda r: (r.reviewed_at, r.review_id)):
        latest[review.rep_id] = review.call_external_id or ""
    for rep, call in latest.items():
        first_by_call.setdefault(call, first_by_call.get(call) or next(k for k, s, e in peer if s.review.rep_id == rep))
    entries = run.ledger.get_recordings(tenant, sorted(first_by_call))
    for call, key in sorted(first_by_call.items()):
        of_call = [r for r in rep_reviews if r.call_external_id == call and not r.self_assessment]
        entry = entries.get(call)
        call_id = _call_id(entry, call, tenant, action)
        if not of_call or call_id is None or entry is None:
            continue
        exact = [x for r in of_call if (x := exact_score(rubric, r.scores)) is not None]
        criteria = {k: (rounded(Fraction(sum(v), len(v))) if (v := [r.scores[k] for r in of_call if k in r.scores]) else None) for k in rubric.keys}
        values = fields.call_fields(criteria, rounded(sum(exact, Fraction(0)) / len(exact)))
        rep = entry.rep_user_id or ""
        if latest.get(rep) == call and rep in standings and standings[rep].overall is not None:
            values |= fields.rep_fields("hubspot", standings[rep], None)
        _add(plans, owner, f"call:{call}", key, writeback.scores(tenant, "call", call_id, values,
             f"Peer-review scores of this call ({len(of_call)} reviews) and its rep's rolling numbers.", {"recording": call}))  # fmt: skip


def _call_id(entry: RecordingEntry | None, external_id: str, tenant: str, action: Callable[[str], "Action | None"]) -> str | None:
    row = action(call_key(tenant, external_id))
    if row is not None and row.crm_id:
        return str(row.crm_id)
    call_id = (entry.recording or {}).get("call_id") if entry else None
    return str(call_id) if call_id else None
