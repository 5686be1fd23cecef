"""The review ledger on SQLite: the shared contract, and that it lives in the event store's file."""
from __future__ import annotations

import pytest

from integration.ledger import PEER
from integration.store import Store
from integration.store.sqlite import SqliteStore
from tests.reviews_contract import ReviewsContract
from tests.ledger_contract import T, T0, WEEK, LedgerContract, entry, maker, pick


@pytest.fixture
def ledger(tmp_path):
    store = SqliteStore(tmp_path / "gamefilm.db")
    yield store.ledger()
    store.close()


class TestSqliteLedger(LedgerContract):
    pass


class TestSqliteReviews(ReviewsContract):
    pass


def test_the_ledger_survives_reopening_the_store_file(tmp_path):
    first = SqliteStore(tmp_path / "g.db")
    first.ledger().put_recordings([entry(1)], T0)
    first.ledger().assign(T, "zoom:1", PEER, ["a"], pick("a"), maker(T, "zoom:1", PEER), T0, WEEK)
    first.close()
    second = SqliteStore(tmp_path / "g.db")
    assert second.ledger().get_recordings(T, ["zoom:1"])["zoom:1"].title == "Call 1"
    assert [a.reviewer_id for a in second.ledger().assignments_for(T, ["zoom:1"])["zoom:1"]] == ["a"]
    second.close()


def test_a_choose_that_raises_rolls_the_whole_assign_back(tmp_path):
    store = SqliteStore(tmp_path / "g.db")
    ledger = store.ledger()

    def broken(stats):
        raise RuntimeError("rotation bug")

    with pytest.raises(RuntimeError):
        ledger.assign(T, "zoom:1", PEER, ["a"], broken, maker(T, "zoom:1", PEER), T0, WEEK)
    assert ledger.assignments_for(T, ["zoom:1"]) == {}
    assert [a.reviewer_id for a in ledger.assign(T, "zoom:1", PEER, ["a"], pick("a"), maker(T, "zoom:1", PEER), T0, WEEK)] == ["a"]
    store.close()


def test_a_store_without_a_ledger_says_which_backend():
    class Bare(Store):
        pass

    for name in list(Bare.__abstractmethods__):
        setattr(Bare, name, lambda *a, **k: None)
    Bare.__abstractmethods__ = frozenset()
    with pytest.raises(NotImplementedError, match="the Bare backend has no review ledger"):
        Bare().ledger()
