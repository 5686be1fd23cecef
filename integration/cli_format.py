"""How the CLI prints events and actions: ISO-8601 UTC times, one line per action."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any


def ts(epoch: float) -> str:
    """ISO-8601 UTC, to the second: 2026-11-24T05:07:00Z."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


EPOCH_FIELDS = ("received_at", "next_attempt_at", "updated_at", "created_at", "lease_until")


def with_iso_times(data: dict) -> dict:
    """Epoch-second fields -> ISO-8601 UTC (0 means "never": null)."""
    for name in EPOCH_FIELDS:
        if isinstance(data.get(name), (int, float)):
            data[name] = ts(data[name]) if data[name] else None
    return data


def json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(value)


def event_dict(e: Any) -> dict:
    return with_iso_times(asdict(e))


def action_line(a: Any) -> str:
    mode = " [dry run]" if a.dry_run else ""
    err = f" error: {a.error}" if a.error else ""
    return f"{ts(a.created_at)}  {a.status:<11} {a.op} on {a.record_id} by rule {a.rule}{mode}: {a.reason}{err}"
