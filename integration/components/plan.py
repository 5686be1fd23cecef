"""What an installer found and did, in words an admin reads (shared by both CRMs)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

OK, MISSING, DRIFT = "ok", "missing", "drift"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Check:
    """One manifest component as the CRM holds it; `owned` = Game Film installed it."""

    component: str  # e.g. "CustomField Activity.GameFilm_Key__c", "calls property gamefilm_recording_id"
    status: str  # OK | MISSING | DRIFT
    details: tuple[str, ...] = ()  # one line per drifted attribute: "length: 100 expected, 80 found"
    owned: bool = False

    def line(self) -> str:
        mark = {OK: "ok     ", MISSING: "MISSING", DRIFT: "DRIFT  "}[self.status]
        suffix = f" ({'; '.join(self.details)})" if self.details else ""
        return f"  {mark} {self.component}{' [installed by Game Film]' if self.owned else ''}{suffix}"


@dataclass(frozen=True)
class Step:
    """One change the installer will make (the dry run prints these)."""

    action: str  # create | deploy | assign | remove | keep
    component: str
    why: str

    def line(self) -> str:
        return f"  {self.action:<7} {self.component}: {self.why}"


class InstallError(Exception):
    """A step failed: the message names the component, the CRM's answer and what was done."""


def drift_lines(expected: dict[str, object], found: dict[str, object]) -> tuple[str, ...]:
    return tuple(f"{key}: {want!r} expected, {found.get(key)!r} found" for key, want in expected.items() if found.get(key) != want)
