"""The review form: what it asks, in which order (data the UI renders: app card, review page,
Salesforce action), and the validation of a submission, whichever entry path it came by.

A peer review asks, in this order: what went well (required, first), a score per criterion,
then at most two suggestions (one idea each, never a list). A self-assessment asks the rep
for a score per criterion and exactly one area they will improve.

Validation is all or nothing: a `SubmissionError` carries {field: message} for every problem
and an HTTP status (403 wrong person, 409 task no longer open, 400 bad fields); nothing of a
rejected submission is kept. Field names are the form's (`strengths`, `scores.<criterion>`,
`suggestions`, `suggestions[1]`, `improvement_area`), so the UI puts each message on its field.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from integration.ledger import OPEN, PEER, SELF, Assignment, RecordingEntry
from integration.recordings import TaskState
from integration.rubric import Rubric
from integration.scoring import Review, weighted_score

MAX_SUGGESTIONS = 2
MAX_STRENGTHS_CHARS = 2000
MAX_SUGGESTION_CHARS = 500
MAX_NOTE_CHARS = 500
MAX_KEY_ECHO = 64  # an unknown field's name is echoed in the error, cut to this length
# A line that starts a list item: "-", "*", "•", "1.", "2)".
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)
_WHOLE_NUMBER = re.compile(r"^\s*-?\d{1,3}\s*$")


@dataclass(frozen=True)
class FormField:
    """One thing the form asks; `name` is the submission's key and the error's field."""

    name: str
    label: str
    kind: str  # "text" | "score" | "suggestions" | "choice"
    required: bool
    help: str = ""
    min: int | None = None  # score: lowest; text: -
    max: int | None = None  # score: highest; text: characters; suggestions: how many
    choices: tuple[tuple[str, str], ...] = ()  # choice: (value, label)


@dataclass(frozen=True)
class ReviewTask:
    """The review task a submission answers, as the product knows it (never from the form)."""

    task_id: str
    kind: str  # ledger.SELF | ledger.PEER
    assignee_id: str
    rep_id: str
    open: bool
    call_external_id: str
    deal_id: str | None = None

    @classmethod
    def of(cls, assignment: Assignment, recording: RecordingEntry, task: TaskState | None = None) -> ReviewTask:
        """From the ledger's assignment and recording, and the CRM task as read (completed wins)."""
        return cls(
            task_id=(task.id if task else None) or assignment.task_id or assignment.task_key,
            kind=assignment.kind,
            assignee_id=assignment.reviewer_id,
            rep_id=recording.rep_user_id or "",
            open=assignment.status == OPEN and not (task and task.completed),
            call_external_id=assignment.external_id,
            deal_id=recording.deal_id,
        )


@dataclass(frozen=True)
class ValidReview:
    """An accepted submission: every field checked, the weighted score computed."""

    task_id: str
    call_external_id: str
    deal_id: str | None
    rep_id: str
    reviewer_id: str
    self_assessment: bool
    scores: Mapping[str, int]
    weighted_score: Decimal
    strengths: str = ""
    suggestions: tuple[str, ...] = ()
    improvement_area: str | None = None  # self-assessment: one criterion key
    improvement_note: str = ""

    def to_review(self, review_id: str, reviewed_at: datetime) -> Review:
        return Review(review_id=review_id, rep_id=self.rep_id, reviewer_id=self.reviewer_id, reviewed_at=reviewed_at,
                      scores=dict(self.scores), self_assessment=self.self_assessment, deal_id=self.deal_id,
                      call_external_id=self.call_external_id)  # fmt: skip


class SubmissionError(ValueError):
    def __init__(self, status: int, errors: Mapping[str, str]):
        self.status = status
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def form_fields(rubric: Rubric, kind: str) -> tuple[FormField, ...]:
    """The form in the order it is asked: peer (strengths, scores, suggestions); self (scores,
    improvement area, a note on it)."""
    scale = f"{rubric.scale_min} to {rubric.scale_max}"
    scores = tuple(
        FormField(f"scores.{c.key}", c.label, "score", True, help=f"{c.description} ({scale})".strip(),
                  min=rubric.scale_min, max=rubric.scale_max)  # fmt: skip
        for c in rubric.criteria
    )
    if kind == SELF:
        area = FormField("improvement_area", "The one area you will improve", "choice", True,
                         choices=tuple((c.key, c.label) for c in rubric.criteria))  # fmt: skip
        note = FormField("improvement_note", "What you will do differently", "text", False, max=MAX_NOTE_CHARS)
        return (*scores, area, note)
    strengths = FormField("strengths", "What went well", "text", True,
                          help="Start with what worked on this call.", max=MAX_STRENGTHS_CHARS)  # fmt: skip
    suggestions = FormField("suggestions", "One or two suggestions", "suggestions", False,
                            help="At most two, one idea each; not a list.", max=MAX_SUGGESTIONS)  # fmt: skip
    return (strengths, *scores, suggestions)


def validate_submission(rubric: Rubric, task: ReviewTask, submitter_id: str, payload: Any) -> ValidReview:
    """Check who submits, that the task is open, then every field; raise SubmissionError
    naming each problem, or answer the accepted review."""
    is_self = task.kind == SELF
    if is_self and not submitter_id == task.rep_id == task.assignee_id:
        raise SubmissionError(403, {"reviewer": "only the rep who made the call submits its self-assessment"})
    if not is_self and submitter_id == task.rep_id:
        raise SubmissionError(403, {"reviewer": "a rep never reviews their own call; use your self-assessment task"})
    if submitter_id != task.assignee_id:
        raise SubmissionError(403, {"reviewer": "only the reviewer the task is assigned to can submit this review"})
    if not task.open:
        raise SubmissionError(409, {"task": "this review task is no longer open (completed or cancelled); nothing was changed"})
    if not isinstance(payload, Mapping):
        raise SubmissionError(400, {"body": "must be an object of the form's fields"})
    errors: dict[str, str] = {}
    claimed = _flag(payload.get("self_assessment"))
    if claimed is not None and not isinstance(claimed, bool):
        errors["self_assessment"] = "must be true or false"
    elif claimed is not None and claimed is not is_self:
        errors["self_assessment"] = "this task is the rep's self-assessment" if is_self else "this task is a peer review"
    allowed = {"self_assessment", "scores", *(f"scores.{k}" for k in rubric.keys)}
    allowed |= {"improvement_area", "improvement_note"} if is_self else {"strengths", "suggestions"}
    for key in payload:
        if key not in allowed and not str(key).startswith("scores."):
            errors[str(key)[:MAX_KEY_ECHO]] = _unexpected(str(key), is_self)
    scores = _scores(rubric, payload, errors)
    strengths, area, note = "", None, ""
    suggestions: tuple[str, ...] = ()
    if is_self:
        area = _improvement_area(rubric, payload.get("improvement_area"), errors)
        note = _text(payload.get("improvement_note"), "improvement_note", MAX_NOTE_CHARS, False, errors)
    else:
        strengths = _text(payload.get("strengths"), "strengths", MAX_STRENGTHS_CHARS, True, errors)
        suggestions = _suggestions(payload.get("suggestions"), errors)
    if errors:
        raise SubmissionError(400, errors)
    return ValidReview(
        task_id=task.task_id, call_external_id=task.call_external_id, deal_id=task.deal_id, rep_id=task.rep_id,
        reviewer_id=submitter_id, self_assessment=is_self, scores=scores, weighted_score=weighted_score(rubric, scores),
        strengths=strengths, suggestions=suggestions, improvement_area=area, improvement_note=note,
    )  # fmt: skip


def _flag(value: Any) -> Any:
    """A JSON boolean, or an HTML form's checkbox text; anything else as given."""
    if isinstance(value, str):
        return {"true": True, "on": True, "false": False, "": None}.get(value.strip().lower(), value)
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _unexpected(key: str, is_self: bool) -> str:
    if key in ("strengths", "suggestions") and is_self:
        return "a self-assessment asks for scores and one improvement_area, not " + key
    if key in ("improvement_area", "improvement_note") and not is_self:
        return "only the rep's self-assessment names an improvement area"
    return "unknown field"


def _scores(rubric: Rubric, payload: Mapping[str, Any], errors: dict[str, str]) -> dict[str, int]:
    """`scores` as an object (JSON) or `scores.<criterion>` fields (an HTML form), not both."""
    nested = payload.get("scores")
    flat = {str(k)[len("scores."):]: v for k, v in payload.items() if str(k).startswith("scores.")}
    if nested is not None and flat:
        errors["scores"] = "give the scores either as one object or as scores.<criterion> fields, not both"
        return {}
    if nested is not None and not isinstance(nested, Mapping):
        errors["scores"] = "must be an object of criterion: score"
        return {}
    given = dict(nested) if nested is not None else flat
    scale = f"a whole number from {rubric.scale_min} to {rubric.scale_max}"
    out: dict[str, int] = {}
    for key in given:
        if key not in rubric.keys:
            errors[f"scores.{str(key)[:MAX_KEY_ECHO]}"] = "not a criterion of the rubric: " + ", ".join(rubric.keys)
    for key in rubric.keys:
        value = given.get(key)
        if _blank(value):
            errors[f"scores.{key}"] = f"required: {scale}"
        elif isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and _WHOLE_NUMBER.match(value))):
            errors[f"scores.{key}"] = f"must be {scale}"
        elif not rubric.scale_min <= int(value) <= rubric.scale_max:
            errors[f"scores.{key}"] = f"must be {scale}"
        else:
            out[key] = int(value)
    return out


def _text(value: Any, name: str, limit: int, required: bool, errors: dict[str, str]) -> str:
    if _blank(value):
        if required:
            errors[name] = "required: say what went well first" if name == "strengths" else "required"
        return ""
    if not isinstance(value, str):
        errors[name] = "must be text"
        return ""
    text = value.strip()
    if len(text) > limit:
        errors[name] = f"at most {limit} characters"
    return text


def _suggestions(value: Any, errors: dict[str, str]) -> tuple[str, ...]:
    """One or two suggestions, one idea each. Blank boxes are not suggestions."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        errors["suggestions"] = "must be one or two suggestions as text"
        return ()
    given = [(i, s.strip()) for i, s in enumerate(items) if s.strip()]
    if len(given) > MAX_SUGGESTIONS:
        errors["suggestions"] = f"at most {MAX_SUGGESTIONS} suggestions: pick the one or two that matter most"
        return ()
    for i, text in given:
        if len(text) > MAX_SUGGESTION_CHARS:
            errors[f"suggestions[{i}]"] = f"at most {MAX_SUGGESTION_CHARS} characters"
        elif len(_LIST_ITEM.findall(text)) >= 2:
            errors[f"suggestions[{i}]"] = "one idea per suggestion, not a list"
    return tuple(text for _, text in given)


def _improvement_area(rubric: Rubric, value: Any, errors: dict[str, str]) -> str | None:
    if isinstance(value, list):
        if len(value) != 1:
            errors["improvement_area"] = "name exactly one area to improve"
            return None
        value = value[0]
    if value is None or value == "":
        errors["improvement_area"] = "required: name exactly one area to improve"
        return None
    if value not in rubric.keys:
        errors["improvement_area"] = "must be one of the rubric's criteria: " + ", ".join(rubric.keys)
        return None
    return str(value)
