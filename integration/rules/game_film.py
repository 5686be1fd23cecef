"""Game film: every recorded call lands on its deal and starts the review, fairly and on time.

Events it takes: recordings (`/hooks/recordings`, Zoom), CRM call activities, CRM task changes
(a review task completed), submitted reviews (scored and written back) and its own hourly
tick (reminders, and once a week the game-film digest). The work that needs I/O (CRM reads in
batches, the review ledger's atomic assignment) is done once per batch in `prepare`
(`integration.review`); `plan` turns the decisions into commands without I/O.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from integration.events import Event
from integration.recordings import CALL_OBJECT, RECORDING_OBJECT, REVIEW_OBJECT, TASK_OBJECT, Recording, recording_from_changed
from integration.review.settings import GameFilmSchema, GameFilmSettings
from integration.rules.base import TICK_OBJECT, Batch, Needs, Rule, State

if TYPE_CHECKING:
    from integration.commands import Command
    from integration.config import Tenant
    from integration.gateway import CrmGateway, Finding
    from integration.ledger import Assignment
    from integration.review.flow import ZoomParticipants

_OBJECTS = (RECORDING_OBJECT, CALL_OBJECT, TASK_OBJECT, TICK_OBJECT, REVIEW_OBJECT)


def zoom_participant_emails(tenant: Tenant, recording: Recording) -> Sequence[str] | None:
    """The Zoom meeting's participant emails (Zoom's past-meeting participants API), or None
    when the tenant has no Zoom server-to-server credentials: then the host is all we know.
    Zoom answers 400/404 for meetings it keeps no participant list of (one participant; plans
    below Pro): host only too, rather than holding the recording. Other failures raise: retried."""
    from integration import zoom

    if not zoom.has_credentials(tenant):
        return None
    try:
        return zoom.participant_emails(tenant, recording.external_id.removeprefix("zoom:"))
    except zoom.ZoomError as exc:
        if exc.status in (400, 404):
            return None
        raise


def review_links(batch: Batch) -> Callable[[Assignment], str | None]:
    """An assignment's signed review page link (`/review/<token>`) for its task's text; None
    (the task then points at the CRM's own form) without `intake.public_base_url` or a link
    secret, since a link nobody can open is worse than none."""
    from integration.review_link import LINK_SECRET_ENV, MIN_SECRET_CHARS, review_link

    base, secret = batch.public_base_url, batch.secret(LINK_SECRET_ENV) or ""
    if not base or len(secret) < MIN_SECRET_CHARS:
        return lambda _: None
    return lambda a: review_link(batch.tenant.id, a, base, batch.now, secret=secret)


class GameFilmRule(Rule):
    name = "game_film"
    schema = GameFilmSchema
    ticks = True
    prepares = True

    def __init__(self, zoom_participants: ZoomParticipants | None = None):
        """`zoom_participants(tenant, recording)`: the meeting's participant emails, or None
        when the tenant has no Zoom credentials (then the host's recording has no guests).
        Asked once per Zoom recording in `prepare`; a failure holds only that recording."""
        self.zoom_participants = zoom_participants or zoom_participant_emails

    def load_settings(self, raw: Mapping[str, Any], tenant: Tenant) -> GameFilmSettings:
        return GameFilmSchema().load(raw if isinstance(raw, Mapping) else {})  # type: ignore[no-any-return]

    def check(self, settings: GameFilmSettings, gateway: CrmGateway) -> list[Finding]:
        """Doctor: every reviewer named in the pool, seeds and graduated reps is an active user."""
        from integration.gateway import CrmError, Finding

        named = sorted({*settings.pool, *settings.seed_reviewers, *settings.graduated})
        if not named:
            return [Finding("game_film:pool", False, "The reviewer pool is empty: name reviewers in [tenants.rules.game_film] pool.")]
        try:
            emails = settings.emails()
            by_email = gateway.find_users_by_email(emails) if emails else {}
            ids = {p: (by_email[p.lower()].id if p.lower() in by_email else None) if "@" in p else p for p in named}
            users = gateway.read_users(sorted({i for i in ids.values() if i}))
        except CrmError as exc:
            return [Finding("game_film:pool", False, f"Could not look the reviewers up: {exc}.")]
        missing = [p for p, i in ids.items() if i is None or i not in users]
        inactive = [p for p, i in ids.items() if i in users and not users[i].active]
        if missing or inactive:
            problems = (["no such user: " + ", ".join(missing)] if missing else []) + (["inactive: " + ", ".join(inactive)] if inactive else [])
            return [Finding("game_film:pool", False, f"Reviewers in [tenants.rules.game_film] are wrong ({'; '.join(problems)}): fix or remove them.")]
        return [Finding("game_film:pool", True, f"All {len(named)} reviewers named for game film are active users.")]

    def needs(self, event: Event, settings: GameFilmSettings) -> Needs | None:
        return Needs() if event.object_type in _OBJECTS else None

    def prepare(self, batch: Batch, settings: GameFilmSettings) -> Any:
        from integration.review import digest, flow, poll, scored, tick

        if batch.ledger is None:
            raise RuntimeError("the review loop needs a review ledger and this store provides none (Store.ledger)")
        run = flow.Run(batch.tenant, batch.gateway, batch.ledger, settings, batch.now, batch.fail, self.zoom_participants, batch.action,
                       review_links(batch))  # fmt: skip
        found = run.recordings_from_events(batch.events)
        ticks = [e.key for e in batch.events if e.object_type == TICK_OBJECT]
        due = batch.ledger.recordings_due(batch.tenant.id, batch.now) if ticks else []
        retry = run.refreshed([(ticks[0], recording_from_changed(e.recording)) for e in due if e.status == flow.REC_UNMATCHED and e.recording])
        known = batch.ledger.get_recordings(batch.tenant.id, sorted({r.external_id for _, r in [*found, *retry]}))
        run.attach([*found, *retry], known)
        review_events = [e for e in batch.events if e.object_type == REVIEW_OBJECT]
        if review_events:
            scored.reviews(run, review_events, batch.action)
        for entry in due:
            if entry.status == flow.REC_ATTACHED and entry.external_id not in run.entries:
                run.peers(ticks[0], entry)
        task_events = [e for e in batch.events if e.object_type == TASK_OBJECT]
        if ticks or task_events:
            tick.review_tasks(run, task_events, ticks[0] if ticks else None, batch.action)
        if ticks:
            digest.weekly(run, ticks[0], batch.action)
        run.write()
        if ticks and poll.polls(run):
            self._poll(run, batch, ticks[0])
        return run.decisions

    @staticmethod
    def _poll(run: Any, batch: Batch, tick_key: str) -> None:
        """Salesforce editions without outbound messages: this hour's `Call_Review__c` poll.
        A failure fails the tick only (retried); the rest of the batch goes on."""
        from integration.review import poll

        if batch.store_events is None:
            batch.fail(tick_key, "polling Call_Review__c needs a worker that stores events", False)
            return
        try:
            poll.poll(run, batch.store_events)
        except Exception as exc:
            batch.fail(tick_key, f"polling Call_Review__c: {type(exc).__name__}: {exc}", True)

    def plan(self, event: Event, settings: GameFilmSettings, state: State, tenant: Tenant) -> list[Command]:
        from integration.review.flow import commands_for

        decisions = (state.prepared.get(self.name) or {}).get(event.key, [])
        return commands_for(tenant.id, decisions, settings, tenant.crm)
