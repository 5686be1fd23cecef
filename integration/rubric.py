"""The rubric reviews are scored against: criteria with weights, the scale, and the graduation
settings. Validated once at start; pure data afterwards.

```toml
[rubric]                     # every key optional: the default rubric below
mastery_bar = 4              # a rep graduates when the rolling average stays >= this
reviews_to_graduate = 5      # ... over this many consecutive peer reviews (N >= 1)
window = 5                   # the rolling average covers the last `window` peer reviews (>= N)
scale = { min = 1, max = 5 }
[[rubric.criteria]]          # given at all: replaces the default criteria
key = "discovery_questions"  # becomes CRM field names: lower_snake, <= 23 characters
label = "Discovery questions"
description = "Open questions that uncover the buyer's pain, impact and timeline."
weight = 1                   # relative: weights are normalised to sum to 1
```

Errors name the key the way an admin finds it: criteria by their key, not their position
(`rubric.criteria[objection_handling].weight: must be greater than 0`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping, Sequence

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from integration import config_errors

# Salesforce custom field names are at most 40 characters and may not hold "__" or end in "_";
# a criterion key becomes part of one, the longest being `GameFilm_Rolling_<Key>__c` (17
# characters of prefix), so a key has at most 23.
KEY_PATTERN = r"^[a-z](?:[a-z0-9]|_(?!_)){0,21}[a-z0-9]$"
MAX_CRITERIA = 10


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    description: str
    weight: Decimal  # > 0, relative to the other criteria's weights


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[Criterion, ...]
    scale_min: int = 1
    scale_max: int = 5
    mastery_bar: Decimal = Decimal(4)
    reviews_to_graduate: int = 5
    window: int = 5

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.criteria)

    def criterion(self, key: str) -> Criterion | None:
        return next((c for c in self.criteria if c.key == key), None)

    def weights(self) -> dict[str, Fraction]:
        """Each criterion's share of the weighted score: weight / sum of weights (exact)."""
        total = sum((Fraction(c.weight) for c in self.criteria), Fraction(0))
        return {c.key: Fraction(c.weight) / total for c in self.criteria}


DEFAULT_CRITERIA = (
    Criterion("discovery_questions", "Discovery questions",
              "Open questions that uncover the buyer's pain, its impact and the timeline.", Decimal(1)),
    Criterion("objection_handling", "Objection handling",
              "Acknowledges the concern, asks to understand it, answers it with evidence.", Decimal(1)),
    Criterion("closing_technique", "Closing technique",
              "Asks for a clear commitment that fits where the buyer is.", Decimal(1)),
    Criterion("next_steps_agreed", "Next steps agreed",
              "The call ends with a dated next step both sides agreed to.", Decimal(1)),
)  # fmt: skip
DEFAULT_RUBRIC = Rubric(criteria=DEFAULT_CRITERIA)


class RubricError(ValueError):
    """The `[rubric]` table is invalid. `problems` holds (key path inside the table, reason)
    pairs in the form config_errors.lines renders, so the config loader can add the tenant."""

    def __init__(self, problems: Sequence[tuple[config_errors.Path, str]], where: str = "rubric"):
        self.problems = list(problems)
        self.where = where
        super().__init__("\n".join(f"{_render(where, path)}: {reason}" for path, reason in self.problems))


def _render(where: str, path: config_errors.Path) -> str:
    return where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


class _CriterionSchema(Schema):
    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=validate.Regexp(
        KEY_PATTERN, error="must be lower_snake_case letters and digits, 2 to 23 characters (it becomes CRM field names)"))  # fmt: skip
    # Salesforce field labels are at most 40 characters: the label names the CRM field too.
    label = fields.String(validate=validate.Length(min=1, max=40, error="must be 1 to 40 characters"))
    description = fields.String(load_default="", validate=validate.Length(max=255, error="at most 255 characters"))
    weight = fields.Decimal(load_default=Decimal(1), validate=validate.Range(
        min=0, min_inclusive=False, max=100, error="must be greater than 0 and at most 100"))  # fmt: skip

    @post_load
    def _make(self, data: dict, **_: Any) -> Criterion:
        label = data.get("label") or data["key"].replace("_", " ").capitalize()
        return Criterion(key=data["key"], label=label, description=data["description"], weight=data["weight"])


class _ScaleSchema(Schema):
    class Meta:
        unknown = RAISE

    min = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=0, max=99))
    max = fields.Integer(strict=True, load_default=5, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _ordered(self, data: dict, **_: Any) -> None:
        if "min" in data and "max" in data and data["min"] >= data["max"]:
            raise ValidationError(f"must be greater than scale.min ({data['min']})", "max")


class RubricSchema(Schema):
    """Validates the `[rubric]` table; `load` returns a `Rubric`."""

    class Meta:
        unknown = RAISE

    criteria = fields.List(fields.Nested(_CriterionSchema), validate=validate.Length(
        min=1, max=MAX_CRITERIA, error=f"needs 1 to {MAX_CRITERIA} criteria"))  # fmt: skip
    scale = fields.Nested(_ScaleSchema)
    mastery_bar = fields.Decimal()
    reviews_to_graduate = fields.Integer(strict=True, load_default=5, validate=validate.Range(min=1, max=50))
    window = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))

    @validates_schema(skip_on_field_errors=False, pass_original=True)  # every problem at once, not in rounds
    def _consistent(self, data: dict, original: Any, **_: Any) -> None:
        problems: dict[str, Any] = {}
        seen: set[str] = set()
        for i, c in enumerate(data.get("criteria") or []):
            if not isinstance(c, Criterion):  # an invalid one: its own errors are reported
                continue
            if c.key in seen:
                problems.setdefault("criteria", {})[i] = {"key": ["duplicate criterion key; each criterion needs its own key"]}
            seen.add(c.key)
        given = original if isinstance(original, Mapping) else {}
        scale = data.get("scale") if "scale" in given else {"min": 1, "max": 5}
        if not (isinstance(scale, dict) and isinstance(scale.get("min"), int) and isinstance(scale.get("max"), int)
                and scale["min"] < scale["max"]):  # fmt: skip
            scale = None  # invalid: its own errors are reported, the bar cannot be checked against it
        bar = data.get("mastery_bar")
        if "mastery_bar" not in given and scale is not None and scale != {"min": 1, "max": 5}:
            problems["mastery_bar"] = ["needed when the scale is not the default 1 to 5"]
        elif bar is not None and scale is not None and not scale["min"] < bar <= scale["max"]:
            problems["mastery_bar"] = [f"must be above the scale's minimum ({scale['min']}) and at most its maximum ({scale['max']})"]
        window, n = data.get("window"), data.get("reviews_to_graduate")
        if window is not None and n is not None and window < n:
            problems["window"] = [f"must be at least reviews_to_graduate ({n})"]
        if problems:
            raise ValidationError(problems)

    @post_load
    def _make(self, data: dict, **_: Any) -> Rubric:
        scale = data.get("scale") or {"min": 1, "max": 5}
        n = data["reviews_to_graduate"]
        return Rubric(
            criteria=tuple(data.get("criteria") or DEFAULT_CRITERIA),
            scale_min=scale["min"],
            scale_max=scale["max"],
            mastery_bar=data.get("mastery_bar", Decimal(4)),
            reviews_to_graduate=n,
            window=data.get("window") or n,
        )


_KNOWN: dict[tuple[str, ...], type[Schema]] = {(): RubricSchema, ("criteria",): _CriterionSchema, ("scale",): _ScaleSchema}


def load_rubric(raw: Mapping[str, Any] | None, where: str = "rubric") -> Rubric:
    """Validate a `[rubric]` table (None or empty: the default rubric); raise RubricError
    with one problem per bad key, criteria named by key (`where` prefixes every path)."""
    if raw is None:
        return DEFAULT_RUBRIC
    if not isinstance(raw, Mapping):
        raise RubricError([((), "must be a table ([rubric])")], where)
    try:
        rubric: Rubric = RubricSchema().load(raw)
    except ValidationError as exc:
        raise RubricError([_named(path, reason, raw) for path, reason in config_errors.flatten(exc.messages)], where) from None
    return rubric


def _named(path: config_errors.Path, reason: str, raw: Mapping[str, Any]) -> tuple[config_errors.Path, str]:
    """Criteria by key instead of index; an unknown key gets the closest valid one."""
    if reason == config_errors.UNKNOWN_FIELD.rstrip(".") and path:
        parent = tuple(p for p in path[:-1] if isinstance(p, str))
        schema = _KNOWN.get(parent)
        reason = config_errors.unknown_key(str(path[-1]), sorted(schema().fields) if schema else [])
    if len(path) >= 2 and path[0] == "criteria" and isinstance(path[1], int):
        items = raw.get("criteria")
        items = items if isinstance(items, list) else []
        item = items[path[1]] if path[1] < len(items) else None
        key = item.get("key") if isinstance(item, Mapping) else None
        if isinstance(key, str) and re.match(KEY_PATTERN, key) and _unique(items, key):
            # One part, so config_errors.key_path renders it as written: `.criteria[<key>]`.
            return (f"criteria[{key}]", *path[2:]), reason
    return path, reason


def _unique(items: list[Any], key: str) -> bool:
    return sum(1 for item in items if isinstance(item, Mapping) and item.get("key") == key) == 1
