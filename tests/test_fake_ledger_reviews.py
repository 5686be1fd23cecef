"""The in-memory ledger the review-loop tests use honours the reviews contract too."""
from __future__ import annotations

import pytest

from tests.fake_ledger import FakeLedger
from tests.reviews_contract import ReviewsContract


@pytest.fixture
def ledger():
    return FakeLedger()


class TestFakeLedgerReviews(ReviewsContract):
    pass
