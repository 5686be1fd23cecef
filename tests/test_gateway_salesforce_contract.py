"""The gateway contract on SalesforceGateway: the real simple-salesforce against a fake org
behind `responses`, faults injected on the sObject Collections write each command type uses.

The org is one before the installer (no `GameFilm_Key__c` on Task): every create is made
with its marker and, after an unknown outcome, found by it, as the contract demands of
non-idempotent creates. With the field, Tasks are upserted and an applied-then-lost Task is
resent inside the gateway: tests/test_gateway_salesforce_exactly_once.py covers that org.
"""
from __future__ import annotations

from typing import Iterator

import pytest
import responses

from tests.gateway_contract import GatewayContract
from tests.salesforce_org import SalesforceHarness


class TestSalesforceGateway(GatewayContract):
    @pytest.fixture
    def harness(self) -> Iterator[SalesforceHarness]:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
            yield SalesforceHarness(http)
