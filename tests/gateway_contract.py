"""The behaviour every CrmGateway must have. Subclass `GatewayContract` and provide a
`harness` fixture: one object with this small interface (see the harnesses below).

    harness.gateway            the CrmGateway under test
    harness.sends              False when nothing reaches a CRM (dry run): effects are not checked
    harness.faults             the fault kinds it can inject (a subset of FAULTS)
    harness.deal(id)           seed a deal/opportunity the commands can write to
    harness.fail_next(kind, command_type, times=1)
                               the next `times` requests carrying that command type fail:
                               'applied-then-500'  the CRM applies it, then answers 500
                               'applied-then-drop' the CRM applies it, then the connection closes
                               'timeout'           the CRM applies it, the answer comes too late
                               'refused-500'       500 and nothing applied
                               '429'               rate limited (Retry-After), nothing applied
    harness.effects(command)   how many times the CRM holds the command's effect (records
                               carrying its marker for creates; 1 if applied for updates)
    harness.created(command_type)  how many records of that type the CRM holds

Exactly once means: after the worker's loop (execute; reconcile an unknown create, resend
what is certainly absent; resend an idempotent command) every effect is there once.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Callable

import pytest

from integration.commands import AddCollaborators, AddNote, Command, CreateTask, LogCall, Outcome, UpdateFields
from integration.gateway import CommandHandler, CrmError
from tests.fakes import FakeCrm

FAULTS = ("applied-then-500", "applied-then-drop", "timeout", "refused-500", "429")
APPLIED = ("applied-then-500", "applied-then-drop", "timeout")
CREATES: tuple[type[Command], ...] = (CreateTask, LogCall, AddNote)
UPDATES: tuple[type[Command], ...] = (UpdateFields, AddCollaborators)


def make(command_type: type[Command], n: int, deal_id: str) -> Command:
    """Command number n of a type, about one deal; keys are unique per (type, n)."""
    common: dict[str, Any] = {"key": f"contract#{command_type.__name__}#{n}", "rule": "contract", "reason": "contract case", "record_id": deal_id}
    if command_type is UpdateFields:
        return UpdateFields(**common, object_type="deal", fields={"gf_score_avg": str(n)})
    if command_type is AddCollaborators:
        return AddCollaborators(**common, user_ids=(str(7000 + n % 3),))
    if command_type is CreateTask:
        return CreateTask(**common, owner_id="7000", subject="Review the call", body=f"Task {n}", due=date(2026, 12, 1))
    if command_type is LogCall:
        return LogCall(**common, owner_id="7000", title="Call", recording_url="https://rec.example/1.mp3", occurred_at_ms=1_794_000_000_000, body=f"Call {n}")
    return AddNote(**common, body=f"Note {n}")


def run_like_the_worker(gateway: Any, commands: list[Command], first: list[Outcome] | None = None, rounds: int = 3) -> dict[str, Outcome]:
    """Execute (unless the `first` outcomes are given); then, while something failed
    retryably: look unknown creates up, resend the idempotent and the certainly-absent ones.
    Answers the last outcome per key."""
    last = dict(zip((c.key for c in commands), first if first is not None else gateway.execute(commands)))
    for _ in range(rounds):
        failed = [c for c in commands if not last[c.key].ok and last[c.key].retryable]
        if not failed:
            break
        found = gateway.reconcile([c for c in failed if last[c.key].ambiguous and not c.idempotent])
        for c in failed:
            if found.get(c.key):
                last[c.key] = Outcome(key=c.key, ok=True, crm_id=found[c.key])
        again = [c for c in failed if c.key not in found or found[c.key] is None]
        last.update(zip((c.key for c in again), gateway.execute(again)))
    return last


class GatewayContract:
    @pytest.mark.parametrize("size", [0, 1, 100, 101])
    @pytest.mark.parametrize("command_type", CREATES + UPDATES, ids=lambda t: t.__name__)
    def test_batch_boundaries_answer_one_outcome_per_command_in_order(self, harness: Any, command_type: type[Command], size: int) -> None:
        commands = [make(command_type, n, f"{500 + n}") for n in range(size)]
        for c in commands:
            harness.deal(c.record_id)

        outcomes = harness.gateway.execute(commands)

        assert [o.key for o in outcomes] == [c.key for c in commands]
        assert all(o.ok for o in outcomes)
        if harness.sends:
            assert all(harness.effects(c) == 1 for c in commands)

    def test_mixed_types_answer_in_input_order(self, harness: Any) -> None:
        harness.deal("500")
        commands = [make(t, n, "500") for n, t in enumerate(CREATES + UPDATES + CREATES)]

        assert [o.key for o in harness.gateway.execute(commands)] == [c.key for c in commands]

    @pytest.mark.parametrize("command_type", UPDATES, ids=lambda t: t.__name__)
    def test_partial_failure_fails_only_the_command_the_crm_refused(self, harness: Any, command_type: type[Command]) -> None:
        if not harness.sends:
            pytest.skip("nothing is sent: nothing can be refused")
        harness.deal("500")
        good, bad = make(command_type, 1, "500"), make(command_type, 2, "404404")

        first, second = harness.gateway.execute([good, bad])

        assert first.ok and harness.effects(good) == 1
        assert not second.ok and not second.retryable and second.error

    @pytest.mark.parametrize("fault", APPLIED)
    @pytest.mark.parametrize("command_type", CREATES, ids=lambda t: t.__name__)
    def test_an_applied_create_answered_with_a_failure_is_ambiguous_not_resent_and_found_once(self, harness: Any, command_type: type[Command], fault: str) -> None:
        self._needs(harness, fault)
        harness.deal("500")
        command = make(command_type, 1, "500")
        harness.fail_next(fault, command_type)

        [outcome] = harness.gateway.execute([command])

        assert not outcome.ok and outcome.ambiguous and outcome.retryable
        assert harness.effects(command) == 1  # applied by the CRM, not sent again
        found = harness.gateway.reconcile([command])
        assert found[command.key] is not None
        assert run_like_the_worker(harness.gateway, [command], [outcome])[command.key].ok
        assert harness.effects(command) == 1 and harness.created(command_type) == 1

    @pytest.mark.parametrize("command_type", CREATES, ids=lambda t: t.__name__)
    def test_a_refused_create_is_found_absent_and_sent_once(self, harness: Any, command_type: type[Command]) -> None:
        self._needs(harness, "refused-500")
        harness.deal("500")
        command = make(command_type, 1, "500")
        harness.fail_next("refused-500", command_type)

        [outcome] = harness.gateway.execute([command])
        assert not outcome.ok and outcome.retryable and harness.effects(command) == 0
        assert harness.gateway.reconcile([command]) == {command.key: None}

        assert run_like_the_worker(harness.gateway, [command], [outcome])[command.key].ok
        assert harness.effects(command) == 1

    @pytest.mark.parametrize("fault", APPLIED + ("refused-500", "429"))
    @pytest.mark.parametrize("command_type", UPDATES, ids=lambda t: t.__name__)
    def test_an_update_that_failed_is_resent_and_applied(self, harness: Any, command_type: type[Command], fault: str) -> None:
        self._needs(harness, fault)
        harness.deal("500")
        command = make(command_type, 1, "500")
        harness.fail_next(fault, command_type)

        outcome = run_like_the_worker(harness.gateway, [command])[command.key]

        assert outcome.ok and harness.effects(command) == 1
        assert harness.gateway.reconcile([command]) == {command.key: None}  # idempotent: never looked up

    @pytest.mark.parametrize("command_type", CREATES, ids=lambda t: t.__name__)
    def test_a_rate_limited_create_is_created_once(self, harness: Any, command_type: type[Command]) -> None:
        self._needs(harness, "429")
        harness.deal("500")
        command = make(command_type, 1, "500")
        harness.fail_next("429", command_type)

        [outcome] = harness.gateway.execute([command])

        assert outcome.ok or (outcome.retryable and not outcome.ambiguous)  # waited, or says when
        assert run_like_the_worker(harness.gateway, [command], [outcome])[command.key].ok
        assert harness.effects(command) == 1

    def test_one_command_type_failing_never_discards_another_types_outcomes(self, harness: Any) -> None:
        self._needs(harness, "refused-500")
        harness.deal("500")
        update, note, task = make(UpdateFields, 1, "500"), make(AddNote, 2, "500"), make(CreateTask, 3, "500")
        harness.fail_next("refused-500", UpdateFields, times=10)

        first, second, third = harness.gateway.execute([update, note, task])

        assert not first.ok and first.retryable
        assert second.ok and third.ok and harness.effects(note) == harness.effects(task) == 1

    def test_reconcile_of_nothing_sent_finds_nothing(self, harness: Any) -> None:
        harness.deal("500")
        commands = [make(t, 1, "500") for t in CREATES]

        assert harness.gateway.reconcile(commands) == {c.key: None for c in commands}

    @staticmethod
    def _needs(harness: Any, fault: str) -> None:
        if fault not in harness.faults:
            pytest.skip(f"{type(harness).__name__} cannot inject {fault}")


# ---- harnesses for our own gateways (HubSpot's is in test_gateway_hubspot_contract.py) ------


class FaultyFakeCrm(FakeCrm):
    """FakeCrm that refuses commands about unknown deals and fails as `fail_next` says."""

    def __init__(self) -> None:
        super().__init__()
        self.faults_by_type: dict[type[Command], list[str]] = {}

    def handler_for(self, kind: type[Command]) -> CommandHandler[Any]:
        handler = super().handler_for(kind)
        return CommandHandler(send=lambda commands: self._send(kind, handler.send, commands), find=handler.find)

    def _send(self, command_type: type[Command], send: Callable[[Any], list[Outcome]], commands: Any) -> list[Outcome]:
        fault = self.faults_by_type.get(command_type, []).pop(0) if self.faults_by_type.get(command_type) else None
        if fault == "refused-500":
            raise CrmError("500 before applying", ambiguous=True)
        if fault == "429":
            raise CrmError("429", retryable=True, retry_after=1.0)
        known = [c for c in commands if c.record_id in self.deals]
        done = dict(zip((c.key for c in known), send(known)))
        if fault in APPLIED:
            raise CrmError(f"{fault} after applying", ambiguous=True)
        return [done.get(c.key) or Outcome(key=c.key, ok=False, error=f"record {c.record_id} not found") for c in commands]


class FakeHarness:
    sends = True
    faults = frozenset(FAULTS)

    def __init__(self) -> None:
        self.gateway = FaultyFakeCrm()

    def deal(self, deal_id: str) -> None:
        from integration.commands import Deal

        self.gateway.deals[deal_id] = Deal(id=deal_id)

    def fail_next(self, kind: str, command_type: type[Command], times: int = 1) -> None:
        self.gateway.faults_by_type.setdefault(command_type, []).extend([kind] * times)

    def effects(self, command: Command) -> int:
        written = sum(1 for w in self.gateway.written if w.key == command.key)
        return min(written, 1) if command.idempotent else written  # an update applied twice is applied

    def created(self, command_type: type[Command]) -> int:
        return sum(1 for w in self.gateway.written if type(w) is command_type)


class DryRunHarness:
    sends = False
    faults: frozenset[str] = frozenset()

    def __init__(self, crm: str = "hubspot") -> None:
        from integration.gateway.dry_run import DryRunGateway

        self.gateway = DryRunGateway(crm)

    def deal(self, deal_id: str) -> None:
        pass

    def fail_next(self, kind: str, command_type: type[Command], times: int = 1) -> None:
        raise AssertionError("the dry run injects no faults")

    def effects(self, command: Command) -> int:
        return 0

    def created(self, command_type: type[Command]) -> int:
        return 0
