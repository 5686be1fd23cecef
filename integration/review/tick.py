"""The review loop's clock and its task follow-up: what happens to open review tasks.

Run for CRM task events (a review task completed) and for the hourly tick:
- task ids come back through the outbox (the CreateTask row's CRM id) and are recorded on
  the assignments;
- a completed self-assessment starts the peers now; a completed peer review counts the rep's
  call as reviewed (the rep may now review others: "a turn in the barrel");
- on the tick, overdue open tasks are read (one batched read); each still open one gets one
  reminder a day (`nudge#…#<day>`; the day is recorded on the assignment once its outbox row
  exists), and each reviewer's oldest overdue task is recorded so the rotation skips them
  after `overdue_skip_days` (and says why);
- on the tick, an assignment whose task was never planned (the process died between the
  ledger's assign and the outbox) is planned again, under the same key.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Sequence

from integration.events import Event
from integration.ledger import CANCELLED, DONE, PEER, SELF, Assignment, RecordingEntry
from integration.review.flow import DAY, Nudge, ReviewTask, Run
from integration.review.tasks import nudge_key, utc_day

if TYPE_CHECKING:
    from integration.store import Action

HORIZON = 400 * DAY  # open assignments due before now + this: all of them
RECENT = 600.0  # an assignment this fresh may still be in its own event's planning: not repaired


def review_tasks(run: Run, task_events: Sequence[Event], tick_key: str | None, action: Callable[[str], "Action | None"]) -> None:
    tenant, ledger, now = run.tenant.id, run.ledger, run.now
    open_ = ledger.open_assignments(tenant, now + HORIZON)
    learned, missing = [], []
    for i, a in enumerate(open_):
        if a.task_id:
            continue
        row = action(a.task_key)
        if row is None:
            missing.append(a)
        elif row.crm_id:
            open_[i] = replace(a, task_id=row.crm_id)
            learned.append(open_[i])
    if learned:
        ledger.update_assignments(learned, now)

    by_task = {a.task_id: a for a in open_ if a.task_id}
    owner: dict[str, str] = {}  # task key -> the event that asked about it
    for event in task_events:
        if event.object_id in by_task:
            owner.setdefault(by_task[event.object_id].task_key, event.key)
    asked = [a for a in open_ if a.task_key in owner]
    overdue = [a for a in open_ if tick_key and a.task_id and a.due_at < now and a.task_key not in owner]
    for a in overdue:
        owner[a.task_key] = tick_key or ""
    work = [*asked, *overdue]
    if not work and not (tick_key and missing):
        if tick_key:
            _overdue_stats(run, [])
        return
    states = run.gateway.read_tasks(sorted({a.task_id for a in work if a.task_id}))
    entries = _entries(run, [a.external_id for a in [*work, *missing]])
    today = utc_day(now).isoformat()
    changed: list[Assignment] = []
    still_overdue: list[Assignment] = []
    for a in work:
        state = states.get(a.task_id or "")
        entry = entries.get(a.external_id)
        if state is None:  # deleted in the CRM: nothing left to review or remind
            changed.append(replace(a, status=CANCELLED))
        elif state.completed:
            completed_at = state.completed_at.timestamp() if state.completed_at else now
            changed.append(replace(a, status=DONE, completed_at=completed_at))
            _completed(run, owner[a.task_key], a, entry)
        elif a.due_at < now:
            still_overdue.append(a)
            if a.last_nudged_day == today:
                continue
            # The outbox is the truth of what was sent: the day is recorded once today's
            # reminder has a row, so a crash between this step and the plan loses no reminder.
            if action(nudge_key(tenant, a.task_key, today)) is None:
                run.decisions[owner[a.task_key]].append(Nudge(entry, a, now))
            else:
                changed.append(replace(a, last_nudged_day=today))
    if changed:
        ledger.update_assignments(changed, now)
    if tick_key:
        _overdue_stats(run, still_overdue)
        for a in missing:
            entry = entries.get(a.external_id)
            if entry is not None and a.assigned_at < now - RECENT:
                run.decisions[tick_key].append(ReviewTask(entry, a, call_id=run.call_id(entry), review_url=run.link(a)))


def _entries(run: Run, external_ids: Sequence[str]) -> dict[str, RecordingEntry]:
    wanted = sorted(set(external_ids))
    found = dict(run.ledger.get_recordings(run.tenant.id, wanted)) if wanted else {}
    found.update({k: v for k, v in run.entries.items() if k in found})  # written this run: newer
    return found


def _completed(run: Run, event_key: str, a: Assignment, entry: RecordingEntry | None) -> None:
    if entry is None:
        return
    if a.kind == PEER and entry.rep_user_id:
        run.ledger.count_reviewed(run.tenant.id, entry.rep_user_id, entry.external_id)
    elif a.kind == SELF and entry.peers_due_at > 0:
        run.peers(event_key, entry)  # self-assessment done: peers now, not after the grace


def _overdue_stats(run: Run, still_overdue: Sequence[Assignment]) -> None:
    """Each reviewer's oldest overdue open task (the rotation skips them after the configured
    days); reviewers with none any more are cleared."""
    oldest: dict[str, float] = {}
    for a in still_overdue:
        oldest[a.reviewer_id] = min(oldest.get(a.reviewer_id, a.due_at), a.due_at)
    for reviewer, since in sorted(oldest.items()):
        run.ledger.set_overdue(run.tenant.id, reviewer, since)
    pool = run.pool()
    stats = run.ledger.reviewer_stats(run.tenant.id, pool) if pool else {}
    for reviewer, s in sorted(stats.items()):
        if s.overdue_since is not None and reviewer not in oldest:
            run.ledger.set_overdue(run.tenant.id, reviewer, None)
