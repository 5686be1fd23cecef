"""`[tenants.rules.game_film]`: who reviews, how many, by when, and what the tasks say.

Pool, seed and graduated entries are CRM user ids, or emails resolved to users when the loop
runs (`find_users_by_email`). Errors name the key (`tenants[<id>].rules.game_film.<key>`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from integration.rotation import RotationPolicy

CONSENT_FLAG = "flag"  # only recordings whose sender said consent = true reach peers
CONSENT_ASSUME = "assume"  # unknown consent counts as given; consent = false stays private
DEFAULT_RUBRIC = ("discovery questions", "objection handling", "closing technique", "next steps agreed")
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
    rubric: tuple[str, ...] = DEFAULT_RUBRIC
    submit_url: str | None = None
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
    rubric = fields.List(fields.String(validate=validate.Length(min=1, max=80)), load_default=lambda: list(DEFAULT_RUBRIC),
                         validate=validate.Length(min=1, max=20))  # fmt: skip
    submit_url = fields.Url(load_default=None, schemes={"https", "http"})
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
            rubric=tuple(data["rubric"]),
            submit_url=data["submit_url"],
            review_intake=data["review_intake"],
        )
