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


def _commit_modes(store: SqliteStore) -> list[str]:
    """Traces the pool's one connection: the synchronous mode of each COMMIT, in order."""
    seen: list[str] = []
    mode = ["FULL"]

    def trace(sql: str) -> None:
        if sql.startswith("PRAGMA synchronous="):
            mode[0] = sql.split("=")[1]
        elif sql == "COMMIT":
            seen.append(mode[0])

    with store._pool.connection() as conn:
        conn.set_trace_callback(trace)
    return seen


def test_only_sent_marks_and_admin_writes_of_the_worker_pay_an_fsync(tmp_path):
    """Claim, plan, outcomes and settlement commit with synchronous=NORMAL (the next fsynced
    commit makes them durable); a `sent` mark, which must be on disk before the CRM call, and
    an admin's replay commit with FULL. The connection goes back to the pool with FULL."""
    from integration.store import ACTION_DONE, ACTION_SENT, ActionUpdate, Settlement
    from tests.store_contract import make_action

    store = SqliteStore(tmp_path / "g.db", pool_size=1)
    try:
        event, action = make_event(), make_action()
        store.add_events([event], T0)
        modes = _commit_modes(store)
        [claimed] = store.claim_events([event.key], T0 + 1)
        store.plan_actions([action], T0 + 2)
        store.update_actions([ActionUpdate(action.key, ACTION_DONE, crm_id="x")], T0 + 3)  # a lookup found it
        store.update_actions([ActionUpdate(action.key, ACTION_SENT)], T0 + 4)
        store.settle_events([Settlement(event.key, "done", 1, 0.0, None, claimed.lease_until)], T0 + 5,
                            [ActionUpdate(action.key, ACTION_DONE, crm_id="y")])  # fmt: skip
        store.replay_event(event.key, T0 + 6)
        assert modes == ["NORMAL", "NORMAL", "NORMAL", "FULL", "NORMAL", "FULL"]
        with store._pool.connection() as conn:
            assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
            conn.set_trace_callback(None)
        assert store.get_event(event.key).status == "pending" and store.get_action(action.key).crm_id == "y"
    finally:
        store.close()


@pytest.mark.parametrize("dry_run, fsyncs", [(True, []), (False, ["FULL"])])
def test_a_dry_run_worker_never_fsyncs_and_a_live_one_once_a_batch(dry_run, fsyncs, tmp_path):
    """The whole batch through the worker (claim, plan, send, settle): the dry-run gateway
    marks nothing sent, so none of its commits waits for the disk; a live one waits once."""
    from decimal import Decimal

    from integration.app import build_services
    from integration.commands import Deal
    from integration.config import parse
    from integration.gateway.dry_run import DryRunGateway
    from tests.fakes import FakeCrm

    crm = FakeCrm(deals={"1001": Deal(id="1001", amount=Decimal("150000"), owner_id="O")})
    gateway = DryRunGateway("hubspot", reader=crm) if dry_run else crm
    cfg = parse({"tenants": [{"id": "acme-hubspot", "crm": "hubspot", "portal_id": "123", "client_secret_env": "S",
                              "dry_run": True, "rules": {"threshold": [{"name": "big", "amount": 100000,
                              "leaders": ["L1"], "note": True}]}}]}, "test")  # fmt: skip
    store = SqliteStore(tmp_path / "g.db", pool_size=1)  # one connection: one trace sees every commit
    services = build_services({"config": cfg, "store": store, "environ": {"S": "x"}, "worker_mode": "none",
                               "gateway_for": lambda t: gateway})  # fmt: skip
    try:
        store.add_events([make_event()], T0)
        modes = _commit_modes(store)
        report = services.worker.process([make_event().key])
        assert report.done == [make_event().key] and report.commands == 2
        assert len(modes) == 4 - dry_run  # claim, plan, (sent,) settle
        assert [m for m in modes if m != "NORMAL"] == fsyncs
        assert {a.status for a in store.list_actions()} == {"done"}
    finally:
        store.close()


def test_pooled_writes_checkpoint_the_wal_only_after_letting_go_of_the_write_lock(tmp_path):
    """SQLite's autocheckpoint runs inside COMMIT, so inside the write lock: in the worker's
    process it held the acks up to ~70 ms. Pooled connections have it off; a store without a
    background checkpointer copies the WAL back after its write, with the lock free for anyone
    (then a short pass holding it, so the WAL can restart), unless another process's
    Checkpointer runs (the server's, for its worker process)."""
    import fcntl
    import os
    import sqlite3 as sqlite

    from tests.store_contract import make_action

    store = SqliteStore(tmp_path / "g.db", pool_size=1, checkpoint_seconds=0)
    probe = os.open(store._file_lock.path, os.O_RDWR)
    lock_free_at_checkpoint = []

    def trace(sql: str) -> None:
        if sql.startswith("PRAGMA wal_checkpoint"):
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(probe, fcntl.LOCK_UN)
                lock_free_at_checkpoint.append(True)
            except BlockingIOError:
                lock_free_at_checkpoint.append(False)

    try:
        with store._pool.connection() as conn:
            assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
            conn.set_trace_callback(trace)
        store.plan_actions([make_action(f"k{i}") for i in range(200)], T0)
        # The copy with the lock free, then a second short pass holding it (what writers added meanwhile)
        assert store._writer is None and lock_free_at_checkpoint == [True, False]
        with sqlite.connect(store.path) as other:
            busy, frames, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        other.close()
        assert frames == copied  # nothing left to copy back
        with store._write_turn():  # nested write turns checkpoint once, when the outer one ends
            with store._tx() as db:
                db.execute("UPDATE actions SET status = 'done' WHERE key = 'k1'")
            assert lock_free_at_checkpoint == [True, False]
        assert lock_free_at_checkpoint == [True, False] * 2
        server = SqliteStore(store.path)  # as in `gamefilm serve`: its intake starts a Checkpointer
        try:
            server.add_events([make_event()], T0)
            store.plan_actions([make_action("while-the-server-checkpoints")], T0)
            assert lock_free_at_checkpoint == [True, False] * 2  # left to the server's Checkpointer
        finally:
            server.close()
        store.plan_actions([make_action("after-the-server-stopped")], T0)
        assert lock_free_at_checkpoint == [True, False] * 3
    finally:
        os.close(probe)
        store.close()
