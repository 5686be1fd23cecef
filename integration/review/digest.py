"""The weekly game-film digest: the last ISO week's best-scored calls, with their links and the
strengths reviewers cited, posted once per tenant and week (`digest#<tenant>#<YYYY-Www>`) on
the first tick of the next week: a note on the configured HubSpot record / a Chatter post to
the configured Salesforce group (FeedItem ParentId = the group id). Successes only: never a
suggestion or an improvement area (one-on-one), never a private (no-consent) call.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

from integration.commands import AddNote
from integration.gateway import CrmError
from integration.ledger import REC_ATTACHED
from integration.review.flow import DAY, Run, Writes
from integration.review.submitted import submitted_from_changed
from integration.rotation import iso_week
from integration.scoring import exact_score, rounded

if TYPE_CHECKING:
    from integration.store import Action

RULE = "game_film:digest"
MAX_STRENGTH_CHARS = 280


def weekly(run: Run, tick_key: str, action: Callable[[str], "Action | None"]) -> None:
    settings = run.settings
    if not settings.digest_record:
        return
    week = iso_week(run.now - 7 * DAY)
    key = f"digest#{run.tenant.id}#{week}"
    if action(key) is not None:
        return
    day = datetime.fromtimestamp(run.now - 7 * DAY, tz=timezone.utc).date()
    start = datetime.combine(day - timedelta(days=day.weekday()), time(), tzinfo=timezone.utc).timestamp()
    end = start + 7 * DAY
    reps = sorted(run.ledger.standings(run.tenant.id))
    by_call: dict[str, list] = {}
    for r in run.ledger.reviews_of_reps(run.tenant.id, reps) if reps else []:
        s = submitted_from_changed(r.review)
        if start <= r.submitted_at < end and not s.review.self_assessment:
            by_call.setdefault(s.review.call_external_id, []).append(s)
    entries = run.ledger.get_recordings(run.tenant.id, sorted(by_call)) if by_call else {}
    ranked = []
    for call, subs in by_call.items():
        entry = entries.get(call)
        if entry is None or entry.status != REC_ATTACHED:  # private (no consent): never shared
            continue
        exact = [e for s in subs if (e := exact_score(settings.rubric, s.review.scores)) is not None]
        if exact:
            score = rounded(sum(exact, Fraction(0)) / len(exact))
            ranked.append((-score, entry.started_at, call, entry, score, [s.review.strengths for s in subs if s.review.strengths]))
    if not ranked:
        return
    best = sorted(ranked, key=lambda t: t[:3])[: settings.digest_size]
    names = _names(run, sorted({t[3].rep_user_id for t in best if t[3].rep_user_id}))
    lines = [f"Game film of the week {week}: the best-scored calls and what reviewers saw go well."]
    for n, (_, _, _, entry, score, strengths) in enumerate(best, 1):
        rep = names.get(entry.rep_user_id or "", entry.rep_user_id or "a rep")
        lines.append(f"{n}. \"{entry.title}\" by {rep}: {score} of {settings.rubric.scale_max}. {entry.recording_url}")
        lines += [f"   What went well: {_cut(text)}" for text in dict.fromkeys(strengths)]
    command = AddNote(key=key, rule=RULE, reason=f"The weekly game-film digest for {week}: successes are shared.",
                      record_id=settings.digest_record, evidence={"week": week, "calls": [t[2] for t in best]}, body="\n".join(lines))  # fmt: skip
    run.decisions[tick_key].append(Writes((command,)))


def _names(run: Run, ids: list[str]) -> dict[str, str]:
    try:
        users = run.gateway.read_users(ids) if ids else {}
    except CrmError:
        return {}
    return {i: u.name for i, u in users.items() if u.name}


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_STRENGTH_CHARS else text[: MAX_STRENGTH_CHARS - 1] + "…"
