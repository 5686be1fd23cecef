"""The gateway contract on HubSpotGateway: the real hubspot-api-client against the loopback
fake HubSpot, faults injected on the batch endpoint each command type uses."""
from __future__ import annotations

from typing import Iterator

import pytest

from integration.commands import AddCollaborators, AddNote, Command, CreateTask, LogCall, UpdateFields
from integration.gateway.hubspot import HubSpotGateway
from integration.gateway.hubspot.mapping import property_value, split_ids
from integration.gateway.transport import RetryPolicy, Timeouts
from tests.gateway_contract import FAULTS, GatewayContract
from tests.hubspot_server import HubSpotServer

OBJECTS: dict[type[Command], str] = {CreateTask: "tasks", LogCall: "calls", AddNote: "notes"}
BODIES = {"tasks": "hs_task_body", "calls": "hs_call_body", "notes": "hs_note_body"}
UPDATE = "/crm/v3/objects/deals/batch/update"


class HubSpotHarness:
    sends = True
    faults = frozenset(FAULTS)

    def __init__(self, server: HubSpotServer) -> None:
        self.server = server
        server.hang_seconds = 0.8
        self.gateway = HubSpotGateway("pat-contract", host=server.url, sleep=lambda s: None, retry=RetryPolicy(attempts=2), timeouts=Timeouts(1.0, 0.3))

    def deal(self, deal_id: str) -> None:
        self.server.add_deal(deal_id, amount="1000", hs_is_closed="false", hs_all_collaborator_owner_ids="")

    def fail_next(self, kind: str, command_type: type[Command], times: int = 1) -> None:
        path = f"/crm/v3/objects/{OBJECTS[command_type]}/batch/create" if command_type in OBJECTS else UPDATE
        self.server.fault("POST", path, "hang" if kind == "timeout" else kind, times)

    def effects(self, command: Command) -> int:
        if type(command) in OBJECTS:
            kind = OBJECTS[type(command)]
            return sum(command.marker in (p.get(BODIES[kind]) or "") for p in self.server.objects.get(kind, {}).values())
        deal = self.server.objects["deals"].get(command.record_id, {})
        if isinstance(command, UpdateFields):
            return int(all(deal.get(k) == property_value(v) for k, v in command.fields.items()))
        assert isinstance(command, AddCollaborators)
        return int(set(command.user_ids) <= set(split_ids(deal.get("hs_all_collaborator_owner_ids"))))

    def created(self, command_type: type[Command]) -> int:
        return len(self.server.objects.get(OBJECTS[command_type], {}))


class TestHubSpotGateway(GatewayContract):
    @pytest.fixture
    def harness(self) -> Iterator[HubSpotHarness]:
        with HubSpotServer() as server:
            harness = HubSpotHarness(server)
            yield harness
            harness.gateway.close()
