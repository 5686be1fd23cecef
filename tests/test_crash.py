"""A real process death between two CRM writes (SIGKILL: no handler, no finally runs): after
the lease a new worker finishes the job; nothing is duplicated, nothing lost, and the action
log matches what the CRM holds."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Sequence

import pytest

from integration.app import build_services
from integration.commands import AddCollaborators, Deal, Outcome
from integration.config import parse
from tests.fakes import FakeCrm
from tests.store_contract import make_event

ROOT = Path(__file__).resolve().parents[1]
TIERS = [{"name": "big", "amount": 100000, "leaders": ["L1"], "note": True}]
LEASE = 10.0  # the later worker moves its clock past it; nothing sleeps


class FileCrm(FakeCrm):
    """A CRM whose records outlive the process: one JSON line per applied command.
    `die_after`: the operation after whose (applied) batch the process is SIGKILLed."""

    def __init__(self, path: str, die_after: str | None = None):
        super().__init__(deals={"1001": Deal(id="1001", amount=Decimal("150000"), owner_id="O")})
        self.path = path
        self.die_after = die_after

    def records(self) -> list[dict]:
        if not os.path.exists(self.path):
            return []
        with open(self.path) as fh:
            return [json.loads(line) for line in fh]

    def _write(self, op: str, commands: Sequence) -> list[Outcome]:
        outcomes = []
        with open(self.path, "a") as fh:
            for c in commands:
                fh.write(json.dumps({"op": op, "key": c.key, "record_id": c.record_id, "user_ids": list(getattr(c, "user_ids", ()))}) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                outcomes.append(Outcome(key=c.key, ok=True, crm_id=f"rec-{len(self.records())}"))
        if op == self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return outcomes

    def reconcile(self, commands):
        ids = {r["key"]: f"rec-{i + 1}" for i, r in enumerate(self.records())}
        return {c.key: None if isinstance(c, AddCollaborators) else ids.get(c.key) for c in commands}


def services(db: str, crm: FileCrm, clock=time.time):
    cfg = parse({"tenants": [{"id": "acme-hubspot", "crm": "hubspot", "portal_id": "123", "client_secret_env": "S", "dry_run": True,
                              "rules": {"threshold": TIERS}}], "store": {"path": db}, "worker": {"lease_seconds": LEASE}})  # fmt: skip
    return build_services({"config": cfg, "environ": {"S": "x"}, "worker_mode": "none", "gateway_for": lambda t: crm, "clock": clock})


CHILD = """
import sys
sys.path.insert(0, {root!r})
from tests.test_crash import FileCrm, services
services({db!r}, FileCrm({crm!r}, die_after={die!r})).worker.run_due()
print("survived")
"""


@pytest.mark.parametrize("die_after", ["add_collaborators", "add_notes"])
def test_sigkill_between_two_writes_is_repaired_exactly_once(die_after, tmp_path):
    db, crm_file = str(tmp_path / "g.db"), str(tmp_path / "crm.jsonl")
    s = services(db, FileCrm(crm_file))
    event = make_event(1)
    s.store.add_events([event], time.time())
    child = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), db=db, crm=crm_file, die=die_after)],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    assert child.returncode == -signal.SIGKILL and "survived" not in child.stdout
    assert {a.status for a in s.store.list_actions()} == {"sent"}  # the log admits it may have happened
    assert s.worker.run_due().done == []  # the dead worker's lease holds
    later = services(db, FileCrm(crm_file), clock=lambda: time.time() + LEASE + 1)
    assert later.worker.run_due().done == [event.key]
    records = FileCrm(crm_file).records()
    collaborators = {(r["record_id"], u) for r in records if r["op"] == "add_collaborators" for u in r["user_ids"]}
    notes = [r for r in records if r["op"] == "add_notes"]
    assert collaborators == {("1001", "L1")} and len(notes) == 1  # nothing lost, nothing duplicated
    log = {a.op: a for a in later.store.list_actions()}
    assert {a.status for a in log.values()} == {"done"}
    assert log["AddNote"].crm_id == f"rec-{records.index(notes[0]) + 1}"  # the note the CRM holds
    later.store.close()
    s.store.close()
