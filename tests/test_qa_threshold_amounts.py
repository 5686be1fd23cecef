"""Amounts past Decimal's default 28 digits (HubSpot number properties allow them; the attack
run's propertyValue 1e300 hit it): the rule plans, it does not raise InvalidOperation."""
import pytest

from tests.test_threshold_rule import deal, plan


@pytest.mark.parametrize("amount", ["1" + "0" * 40, "1E+300", "123456789012345678901234567890.555"])
def test_a_huge_amount_still_crosses_the_thresholds_and_is_named_exactly(amount):
    big, huge, note = plan(deal(amount))
    assert big.reason.startswith("Amount ") and "reached the threshold of 'big'" in big.reason
    assert "E" not in big.reason.split(" USD")[0]  # written out in full, to the cent


def test_a_huge_amount_in_another_currency_is_converted():
    cmds = plan(deal("95" + "0" * 30, currency="EUR"))
    assert cmds and cmds[0].reason.startswith("Amount 95")
