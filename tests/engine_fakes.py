"""Misbehaving CRMs for the engine's failure tests (built on tests.fakes.FakeCrm)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Sequence

from integration.commands import Deal, Outcome
from integration.gateway import CrmError, RecordDataError
from tests.fakes import FakeCrm


class Crash(BaseException):
    """The process dying mid-call (nothing after it runs; not an Exception a handler catches)."""


@dataclass
class UnrulyCrm(FakeCrm):
    """`poison`: deal ids whose amount cannot be converted (RecordDataError on read).
    `read_bug`: an exception (not a CrmError) every deal read raises while set.
    `applied_then`: op -> exception raised after that op's commands were applied (the
    answer is lost). `lookup_fails`: reconcile cannot tell. `hang`: reads block on it."""

    poison: set[str] = field(default_factory=set)
    read_bug: Exception | None = None
    applied_then: dict[str, BaseException] = field(default_factory=dict)
    lookup_fails: bool = False
    hang: threading.Event | None = None
    lookups: list[list[str]] = field(default_factory=list)

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        if self.hang is not None:
            self.hang.wait(10)
        if self.read_bug is not None:
            self.calls.append(("read_deals", len(ids)))
            raise self.read_bug
        bad = sorted(self.poison & set(ids))
        if bad:
            self.calls.append(("read_deals", len(ids)))
            raise RecordDataError(bad[0], "amount", "'12,5k' is not a number")
        return super().read_deals(ids)

    def _write(self, op: str, commands: Sequence) -> list[Outcome]:
        outcomes = super()._write(op, commands)
        if op in self.applied_then:
            raise self.applied_then.pop(op)
        return outcomes

    def reconcile(self, commands):
        self.lookups.append([c.key for c in commands])
        if self.lookup_fails:
            raise CrmError("search is down", retryable=True)
        return super().reconcile(commands)

    def effects(self) -> dict[str, int]:
        """How many times each command key reached the CRM."""
        counts: dict[str, int] = {}
        for command in self.written:
            counts[command.key] = counts.get(command.key, 0) + 1
        return counts
