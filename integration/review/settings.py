"""`[tenants.rules.game_film]`: who reviews, how many, by when, what the tasks say, the rubric
reviews are scored on (`[tenants.rules.game_film.rubric]`, see integration/rubric.py) and where
the weekly digest goes (`digest_record`: a HubSpot deal id the note goes on / a Salesforce
Chatter group id the post goes to; absent: no digest).

Pool, seed and graduated entries are CRM user ids, or emails resolved to users when the loop
runs (`find_users_by_email`). Errors name the key (`tenants[<id>].rules.game_film.<key>`,
`tenants[<id>].rules.game_film.rubric.criteria[<key>].weight`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from integration.rotation import RotationPolicy
from integration.rubric import DEFAULT_RUBRIC, Rubric, RubricError, load_rubric

CONSENT_FLAG = "flag"  # only recordings whose sender said consent = true reach peers
CONSENT_ASSUME = "assume"  # unknown consent counts as given; consent = false stays private
REP_SCORES_USER = "user"  # Salesforce custom fields on User
REP_SCORES_SCORECARD = "scorecard"  # one Rep_Scorecard__c per rep (orgs that keep User fields locked down)
MATCH_RETRY_DAYS = 7  # an unmatched recording is matched again daily, this many times

_PERSON = validate.Regexp(r"^([A-Za-z0-9]{1,40}|[^@\s]+@[^@\s]+\.[^@\s]+)$", error="not a user id or an email address")


@dataclass(frozen=True)
class GameFilmSettings:
    pool: tuple[str, ...]
    reviewers_per_call: int = 2
    due_business_days: int = 3
    grace_hours: float = 48.0
    weekly_cap: int = 5
    overdue_skip_days: int = 3
    seed_reviewers: tuple[str, ...] = ()
    graduated: frozenset[str] = frozenset()
    consent: str = CONSENT_FLAG
    rubric: Rubric = DEFAULT_RUBRIC
    submit_url: str | None = None
    digest_record: str | None = None  # HubSpot deal id / Salesforce CollaborationGroup id
    digest_size: int = 5  # best-scored calls in the weekly digest
    rep_scores: str = REP_SCORES_USER  # Salesforce: the rep's numbers on User, or on a Rep_Scorecard__c per rep
    review_intake: str = "outbound"  # Salesforce Call_Review__c: "outbound" message, or "poll" on SystemModstamp

    def emails(self) -> list[str]:
        """Pool and seed entries given as emails (resolved to users before the rotation runs)."""
        return sorted({p.lower() for p in (*self.pool, *self.seed_reviewers, *self.graduated) if "@" in p})

    def policy(self, resolve: dict[str, str]) -> RotationPolicy:
        """The rotation's policy, with emails resolved to user ids through `resolve`."""
        seed = frozenset(resolve.get(s.lower(), s) for s in self.seed_reviewers)
        return RotationPolicy(self.reviewers_per_call, self.weekly_cap, self.overdue_skip_days * 86400.0, seed)

    def consented(self, consent: bool | None) -> bool:
        return consent is True or (consent is None and self.consent == CONSENT_ASSUME)


class _RubricField(fields.Field):
    """`[tenants.rules.game_film.rubric]` through `rubric.load_rubric`; its problems become
    nested messages, so the config names them `...game_film.rubric.criteria[<key>].weight`."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Rubric:
        try:
            return load_rubric(value)
        except RubricError as exc:
            messages: dict[str, Any] = {}
            for path, reason in exc.problems:
                node = messages
                for part in path[:-1]:
                    node = node.setdefault(str(part), {})
                node.setdefault(str(path[-1]) if path else "_schema", []).append(reason)
            raise ValidationError(messages) from None


class GameFilmSchema(Schema):
    pool = fields.List(fields.String(validate=_PERSON), load_default=list)
    reviewers_per_call = fields.Integer(load_default=2, validate=validate.Range(min=1, max=10))
    due_business_days = fields.Integer(load_default=3, validate=validate.Range(min=1, max=30))
    grace_hours = fields.Float(load_default=48.0, validate=validate.Range(min=0, max=24 * 30))
    weekly_cap = fields.Integer(load_default=5, validate=validate.Range(min=1, max=100))
    overdue_skip_days = fields.Integer(load_default=3, validate=validate.Range(min=1, max=90))
    seed_reviewers = fields.List(fields.String(validate=_PERSON), load_default=list)
    graduated = fields.List(fields.String(validate=_PERSON), load_default=list)
    consent = fields.String(load_default=CONSENT_FLAG, validate=validate.OneOf([CONSENT_FLAG, CONSENT_ASSUME]))
    rubric = _RubricField(load_default=lambda: DEFAULT_RUBRIC)
    submit_url = fields.Url(load_default=None, schemes={"https", "http"})
    digest_record = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Za-z0-9]{1,40}$", error="not a record id"))
    digest_size = fields.Integer(load_default=5, validate=validate.Range(min=1, max=20))
    rep_scores = fields.String(load_default=REP_SCORES_USER, validate=validate.OneOf([REP_SCORES_USER, REP_SCORES_SCORECARD]))
    review_intake = fields.String(load_default="outbound", validate=validate.OneOf(["outbound", "poll"]))

    @validates("pool")
    def _distinct(self, value: list[str], **_: Any) -> None:
        if len({v.lower() for v in value}) != len(value):
            raise ValidationError("each reviewer once; remove the duplicates")

    @post_load
    def _make(self, data: dict, **_: Any) -> GameFilmSettings:
        return GameFilmSettings(
            pool=tuple(data["pool"]),
            reviewers_per_call=data["reviewers_per_call"],
            due_business_days=data["due_business_days"],
            grace_hours=data["grace_hours"],
            weekly_cap=data["weekly_cap"],
            overdue_skip_days=data["overdue_skip_days"],
            seed_reviewers=tuple(data["seed_reviewers"]),
            graduated=frozenset(data["graduated"]),
            consent=data["consent"],
            rubric=data["rubric"],
            submit_url=data["submit_url"],
            digest_record=data["digest_record"],
            digest_size=data["digest_size"],
            rep_scores=data["rep_scores"],
            review_intake=data["review_intake"],
        )
