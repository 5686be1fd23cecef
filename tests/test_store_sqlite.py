import pytest

from integration.store.sqlite import SqliteStore
from tests.store_contract import T0, StoreContract, make_event


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "gamefilm.db")
    yield s
    s.close()


class TestSqliteStore(StoreContract):
    pass


def test_events_survive_reopening_the_file(tmp_path):
    first = SqliteStore(tmp_path / "g.db")
    first.add_events([make_event()], T0)
    first.close()
    second = SqliteStore(tmp_path / "g.db")
    assert second.get_event(make_event().key).event == make_event()
    second.close()


def test_database_runs_in_wal_mode(tmp_path):
    s = SqliteStore(tmp_path / "g.db")
    assert s._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()


def test_values_orjson_refuses_still_round_trip(store):
    from dataclasses import replace

    event = replace(make_event(), raw={"eventId": 2**70, "note": "beyond 64 bits"})
    store.add_events([event], T0)
    assert store.get_event(event.key).event == event
