"""The review page's HTML (`/review/<token>`): the form in the form's own order, errors next
to their fields, and the thank-you. Server-side only, no script; pure (strings in, HTML out).

Every value shown is escaped; what the reviewer typed is put back into the form when it is
re-rendered with errors, so nothing is lost to a typo.
"""
from __future__ import annotations

from html import escape
from typing import Any, Mapping, Sequence

from integration.ledger import RecordingEntry
from integration.review_form import FormField, ValidReview

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "label{display:block;font-weight:600;margin-top:1.2rem}.help{color:#555;font-size:.9rem;margin:.2rem 0}"
    "textarea,input[type=text],select{width:100%;box-sizing:border-box;padding:.4rem;font:inherit}"
    ".error{color:#b00020;font-weight:600;margin:.3rem 0}button{margin-top:1.5rem;padding:.6rem 1.4rem;font:inherit}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _error(errors: Mapping[str, str], name: str) -> str:
    message = errors.get(name)
    return f'<p class="error" id="error-{escape(name)}" role="alert">{escape(message)}</p>' if message else ""


def _field(f: FormField, values: Mapping[str, Any], errors: Mapping[str, str]) -> str:
    name = escape(f.name)
    label = f'<label for="{name}">{escape(f.label)}{" *" if f.required else ""}</label>'
    help_ = f'<p class="help">{escape(f.help)}</p>' if f.help else ""
    value = values.get(f.name)
    if f.kind == "text":
        control = f'<textarea id="{name}" name="{name}" rows="4" maxlength="{f.max or ""}">{escape(str(value or ""))}</textarea>'
    elif f.kind == "score":
        options = "".join(
            f'<option value="{n}"{" selected" if str(value) == str(n) else ""}>{n}</option>'
            for n in range(f.min or 1, (f.max or 5) + 1)
        )
        control = f'<select id="{name}" name="{name}"><option value="">Choose a score</option>{options}</select>'
    elif f.kind == "choice":
        options = "".join(
            f'<option value="{escape(k)}"{" selected" if value == k else ""}>{escape(text)}</option>' for k, text in f.choices
        )
        control = f'<select id="{name}" name="{name}"><option value="">Choose one area</option>{options}</select>'
    else:  # suggestions: one box per suggestion, at most `max`
        given = list(value) if isinstance(value, (list, tuple)) else []
        boxes = [
            f'<input type="text" id="{name}-{i}" name="{name}" maxlength="500" value="{escape(str(given[i]) if i < len(given) else "")}">'
            + _error(errors, f"{f.name}[{i}]")
            for i in range(f.max or 2)
        ]
        control = "".join(boxes)
        label = f'<label for="{name}-0">{escape(f.label)}</label>'
    return f"<div>{label}{help_}{control}{_error(errors, f.name)}</div>"


def form_page(
    fields: Sequence[FormField], recording: RecordingEntry, kind: str, action: str,
    values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None,
) -> str:  # fmt: skip
    """The form; with `errors`, the same form showing each message at its field (a summary on top)."""
    errors = errors or {}
    values = values or {}
    known = {f.name for f in fields} | {f"{f.name}[{i}]" for f in fields for i in range(f.max or 0)}
    stray = "".join(_error(errors, name) for name in errors if name not in known)
    heading = "Your self-assessment" if kind == "self" else "Peer review"
    link = (
        f'<p><a href="{escape(recording.recording_url)}" rel="noopener noreferrer">Listen to the recording</a></p>'
        if recording.recording_url.startswith("https://")
        else ""
    )
    summary = '<p class="error" id="errors">Please fix the fields marked below; nothing was saved.</p>' if errors else ""
    body = (
        f"<h1>{escape(heading)}</h1><p>{escape(recording.title or 'Recorded call')}</p>{link}{summary}{stray}"
        f'<form method="post" action="{escape(action)}">'
        + "".join(_field(f, values, errors) for f in fields)
        + '<button type="submit">Submit review</button></form>'
    )
    return _page(heading, body)


def thanks_page(review: ValidReview) -> str:
    what = "self-assessment" if review.self_assessment else "review"
    body = (
        f'<h1 id="thanks">Thank you: your {what} is in.</h1>'
        f"<p>Weighted score: <strong>{escape(str(review.weighted_score))}</strong></p>"
        "<p>You can close this page.</p>"
    )
    return _page("Thank you", body)


def error_page(status_text: str, message: str) -> str:
    return _page(status_text, f'<h1>{escape(status_text)}</h1><p class="error" id="error">{escape(message)}</p>')
