"""The gateway operations the API-call benches run, built the same way for both CRMs."""
from __future__ import annotations

from datetime import date
from typing import Any, Callable

from integration.commands import AddCollaborators, AddNote, CreateTask, LogCall, UpdateFields
from integration.gateway import CrmGateway

Operation = Callable[[CrmGateway, int], object]


def operations(record_id: Callable[[int], str], object_type: str, field: str, user_id: str) -> dict[str, Operation]:
    """op name -> run(gateway, count): `count` commands about records record_id(0..count-1)."""

    def common(n: int) -> dict[str, Any]:
        return {"key": f"bench#{n}", "rule": "bench", "reason": "benchmark", "record_id": record_id(n)}

    return {
        "update_fields": lambda gw, count: gw.update_fields(
            [UpdateFields(**common(n), object_type=object_type, fields={field: 4.0}) for n in range(count)]
        ),
        "add_collaborators": lambda gw, count: gw.add_collaborators([AddCollaborators(**common(n), user_ids=(user_id,)) for n in range(count)]),
        "create_tasks": lambda gw, count: gw.create_tasks(
            [CreateTask(**common(n), owner_id=user_id, subject="Review", body="Rubric", due=date(2026, 12, 1)) for n in range(count)]
        ),
        "log_calls": lambda gw, count: gw.log_calls(
            [LogCall(**common(n), owner_id=user_id, title="Call", recording_url="https://rec.example/1", occurred_at_ms=1_762_000_000_000) for n in range(count)]
        ),
        "add_notes": lambda gw, count: gw.add_notes([AddNote(**common(n), body="Why this happened") for n in range(count)]),
        "read_deals": lambda gw, count: gw.read_deals([record_id(n) for n in range(count)]),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'operation':<18} {'records':>8} {'requests':>9} {'one per record':>15}")
    for row in rows:
        print(f"{row['op']:<18} {row['records']:>8} {row['requests']:>9} {row['one_per_record']:>15}")
