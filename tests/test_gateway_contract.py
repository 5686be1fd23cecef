"""The gateway contract on the in-memory gateways: FakeCrm (with faults) and the dry run."""
from __future__ import annotations

import pytest

from tests.gateway_contract import DryRunHarness, FakeHarness, GatewayContract


class TestFakeCrm(GatewayContract):
    @pytest.fixture
    def harness(self) -> FakeHarness:
        return FakeHarness()


class TestDryRun(GatewayContract):
    @pytest.fixture
    def harness(self) -> DryRunHarness:
        return DryRunHarness()
