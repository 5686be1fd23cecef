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


def test_a_claim_with_an_unreadable_row_gives_every_event_back(tmp_path):
    """Rows are decoded after the claim's commit (not under the write lock); if one cannot be
    read, the claim is undone: every event is due again, as if never claimed."""
    import sqlite3 as sqlite

    store = SqliteStore(tmp_path / "g.db")
    try:
        events = [make_event(i) for i in range(3)]
        store.add_events(events, T0)
        with sqlite.connect(store.path) as db:
            db.execute("UPDATE events SET body = '{broken' WHERE key = ?", (events[1].key,))
        db.close()
        with pytest.raises(ValueError):
            store.claim_events([e.key for e in events], T0 + 1)
        assert [store.get_event(e.key).status for e in (events[0], events[2])] == ["pending", "pending"]
        assert [s.key for s in store.claim_events([events[0].key, events[2].key], T0 + 2)] == [events[0].key, events[2].key]
    finally:
        store.close()


def test_a_claim_finds_its_events_by_key_however_long_the_backlog(tmp_path):
    """With the due terms indexable, SQLite walked events_due (every pending row) to claim 100
    keys: 19 ms at 20k pending, under the write lock the acks wait on."""
    from dataclasses import replace

    from integration.store.sqlite import _DUE_UNINDEXED

    store = SqliteStore(tmp_path / "g.db")
    try:
        store.add_events([replace(make_event(), key=f"k{i}") for i in range(300)], T0)
        keys = [f"k{i}" for i in range(100)]
        sql = f"UPDATE events SET status = ? WHERE key IN ({', '.join('?' * len(keys))}) AND {_DUE_UNINDEXED} RETURNING key"
        plan = store._conn().execute(f"EXPLAIN QUERY PLAN {sql}", ("processing", *keys, "pending", T0, "processing", T0)).fetchall()
        assert [row[3] for row in plan] == ["SEARCH events USING INDEX sqlite_autoindex_events_1 (key=?)"]
        assert len(store.claim_events(keys, T0 + 1)) == 100
    finally:
        store.close()


def test_only_the_claim_commits_without_its_own_fsync(tmp_path):
    """The claim commits with synchronous=NORMAL (the outbox's durable commit covers it); the
    connection goes back to the pool with FULL, so no other write loses its fsync."""
    store = SqliteStore(tmp_path / "g.db", pool_size=1)
    try:
        store.add_events([make_event()], T0)
        seen = []
        with store._pool.connection() as conn:
            conn.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith("PRAGMA synchronous=") else None)
        assert len(store.claim_events([make_event().key], T0 + 1)) == 1
        with store._pool.connection() as conn:
            assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
            conn.set_trace_callback(None)
        assert seen == ["PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL"]
    finally:
        store.close()
