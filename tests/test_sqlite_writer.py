"""The SQLite intake writer: group commit, per-request failure, bounded connections, drain."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from integration.store.sqlite import SqliteStore
from integration.store.sqlite_writer import WriterError
from tests.store_contract import T0, make_event


def events(prefix: str, n: int) -> list:
    return [replace(make_event(), key=f"{prefix}-{i:04d}", object_id=str(i)) for i in range(n)]


def stored_keys(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT key FROM events")}
    finally:
        conn.close()


class WriteLock:
    """Another connection holding the database's write lock: the writer queues behind it."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


def run_threads(targets: list) -> list[threading.Thread]:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    return threads


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_concurrent_batches_are_all_durable_and_each_key_is_new_exactly_once(tmp_path):
    path = tmp_path / "g.db"
    store = SqliteStore(path)
    threads_n, requests_n = 12, 15
    answers: dict[str, list[bool]] = {}
    lock = threading.Lock()

    def sender(t: int) -> None:
        for r in range(requests_n):
            # 20 keys only this request has, 10 every thread also sends in the same round
            batch = events(f"t{t}-r{r}", 20) + events(f"shared-r{r}", 10)
            flags = store.add_events(batch, T0)
            with lock:
                for event, new in zip(batch, flags):
                    answers.setdefault(event.key, []).append(new)

    for t in run_threads([lambda t=t: sender(t) for t in range(threads_n)]):
        t.join()
    writer = store._writer
    assert writer is not None and writer.requests == threads_n * requests_n
    store.close()

    assert all(flags.count(True) == 1 for flags in answers.values())  # one sender hears "new"
    assert sum(len(flags) for flags in answers.values()) == threads_n * requests_n * 30
    assert stored_keys(path) == set(answers)  # every acknowledged key is on disk after close
    reopened = SqliteStore(path)
    assert reopened.get_event("shared-r3-0007").event == replace(make_event(), key="shared-r3-0007", object_id="7")
    reopened.close()


def test_requests_queued_during_a_commit_share_the_next_one(tmp_path):
    store = SqliteStore(tmp_path / "g.db")
    store.add_events(events("warm", 1), T0)
    before = store._writer.commits
    blocker = WriteLock(tmp_path / "g.db")
    results: dict[int, list[bool]] = {}
    threads = run_threads([lambda i=i: results.__setitem__(i, store.add_events(events(f"q{i}", 5), T0)) for i in range(8)])
    wait_until(lambda: store._writer.waiting() == 8)  # the writer waits for the lock, 8 requests wait for it
    blocker.release()
    for t in threads:
        t.join()
    assert results == {i: [True] * 5 for i in range(8)}
    assert store._writer.commits - before <= 2  # the group under way, then all that queued behind it
    store.close()


def test_a_group_of_new_rows_is_not_read_back_and_a_key_two_requests_share_is_new_for_the_first(tmp_path):
    store = SqliteStore(tmp_path / "g.db")
    store.add_events(events("warm", 1), T0)
    statements: list[str] = []
    store._writer._conn.set_trace_callback(statements.append)
    assert store.add_events(events("fresh", 3), T0) == [True] * 3
    assert not any("json_group_array" in sql for sql in statements)  # the change count said: all new
    blocker = WriteLock(tmp_path / "g.db")  # a first request waits for it; the next two queue and share one group
    before = store._writer.commits
    batches = [events("pad", 1), events("x", 2) + events("fresh", 1), events("x", 3)]
    results: dict[int, list[bool]] = {}
    threads = []
    for i, batch in enumerate(batches):
        threads += run_threads([lambda i=i, batch=batch: results.__setitem__(i, store.add_events(batch, T0))])
        wait_until(lambda i=i: store._writer.waiting() == i + 1)
    blocker.release()
    for t in threads:
        t.join()
    assert store._writer.commits - before == 2
    assert results == {0: [True], 1: [True, True, False], 2: [False, False, True]}
    assert any("json_group_array" in sql for sql in statements)
    store.close()


def test_a_failing_request_is_not_acknowledged_and_does_not_fail_its_group(tmp_path):
    path = tmp_path / "g.db"
    store = SqliteStore(path)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.key LIKE 'bad-%'"
                 " BEGIN SELECT RAISE(ABORT, 'refused by test'); END")  # fmt: skip
    conn.commit()
    conn.close()
    store.add_events(events("warm", 1), T0)
    blocker = WriteLock(path)
    outcome: dict[str, object] = {}

    def send(name: str, batch: list) -> None:
        try:
            outcome[name] = store.add_events(batch, T0)
        except WriterError as exc:
            outcome[name] = exc

    threads = run_threads([
        lambda: send("good-1", events("ok1", 3)),
        lambda: send("mixed", events("fine", 2) + events("bad", 1)),
        lambda: send("good-2", events("ok2", 3)),
    ])  # fmt: skip
    wait_until(lambda: store._writer.waiting() == 3)
    blocker.release()
    for t in threads:
        t.join()
    assert outcome["good-1"] == [True] * 3 and outcome["good-2"] == [True] * 3
    assert isinstance(outcome["mixed"], WriterError) and "refused by test" in str(outcome["mixed"])
    assert stored_keys(path) == {e.key for e in events("warm", 1) + events("ok1", 3) + events("ok2", 3)}
    store.close()


def test_a_failed_write_answers_the_webhook_with_an_error_never_an_ack(tmp_path, make_app, store, clock):
    from tests.test_hubspot_webhook import deals, post

    client = make_app().test_client()
    assert post(client, deals(1), clock=clock).status_code == 200
    store._writer._conn.execute("PRAGMA query_only = 1")  # every write now fails inside SQLite
    response = post(client, deals(3, at=1_795_000_000_001), clock=clock)
    assert response.status_code >= 500
    assert len(store.list_events(limit=10)) == 1


def test_close_commits_what_is_queued_then_refuses_new_writes(tmp_path):
    path = tmp_path / "g.db"
    store = SqliteStore(path)
    store.add_events(events("warm", 1), T0)
    blocker = WriteLock(path)
    acked: dict[int, list[bool]] = {}
    threads = run_threads([lambda i=i: acked.__setitem__(i, store.add_events(events(f"d{i}", 4), T0)) for i in range(6)])
    wait_until(lambda: store._writer.waiting() == 6)
    closer = run_threads([store.close])[0]
    time.sleep(0.1)
    assert closer.is_alive()  # close waits for the queued requests
    blocker.release()
    closer.join(10)
    for t in threads:
        t.join()
    assert acked == {i: [True] * 4 for i in range(6)}
    assert len(stored_keys(path)) == 1 + 6 * 4
    with pytest.raises(WriterError):
        store.add_events(events("late", 1), T0)


def test_connections_stay_bounded_however_many_threads_call(tmp_path):
    store = SqliteStore(tmp_path / "g.db", pool_size=3)
    fds_before = len(os.listdir("/proc/self/fd"))

    def one_request(i: int) -> None:  # like a server answering each request on a new thread
        store.add_events(events(f"n{i}", 2), T0)
        store.get_event(f"n{i}-0000")
        store.list_events(limit=5)

    for batch in range(10):
        for t in run_threads([lambda i=i: one_request(batch * 30 + i) for i in range(30)]):
            t.join()
    assert store._pool.opened <= 3
    assert len(os.listdir("/proc/self/fd")) - fds_before <= 2 * 3 + 4  # pool + writer + checkpointer
    assert len(store.list_events(limit=1000)) == 600
    store.close()


def test_checkpoints_run_off_the_request_path(tmp_path):
    path = tmp_path / "g.db"
    store = SqliteStore(path, checkpoint_seconds=0.05)
    writer_conn = store._group_writer()._conn
    assert writer_conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for i in range(20):
        store.add_events(events(f"c{i}", 50), T0)
    wait_until(lambda: _checkpointed(path))
    store.close()
    assert not os.path.exists(f"{path}-wal") or os.path.getsize(f"{path}-wal") == 0


def _checkpointed(path: Path) -> bool:
    conn = sqlite3.connect(path)
    try:
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return log == done
    finally:
        conn.close()


def test_other_writers_wait_for_queued_intake_but_still_progress_under_a_flood(tmp_path):
    path = tmp_path / "g.db"
    store = SqliteStore(path)
    store.add_events(events("warm", 1), T0)
    order: list[str] = []
    blocker = WriteLock(path)
    intake = run_threads([lambda: (store.add_events(events("first", 2), T0), order.append("intake"))])[0]
    wait_until(lambda: store._writer.waiting() == 1)

    def worker_write() -> None:
        with store._tx() as db:
            db.execute("UPDATE events SET attempts = attempts + 1 WHERE key = 'warm-0000'")
        order.append("worker")

    worker = run_threads([worker_write])[0]
    time.sleep(0.1)
    blocker.release()
    intake.join(10)
    worker.join(10)
    assert order == ["intake", "worker"]  # the ack path went first

    stop = threading.Event()
    flood_count = [0]

    def flood() -> None:
        while not stop.is_set():
            store.add_events(events(f"f{flood_count[0]}", 20), T0)
            flood_count[0] += 1

    flooders = run_threads([flood for _ in range(6)])
    try:
        started = time.monotonic()
        for _ in range(20):  # one worker transaction gets a turn after each group commit
            worker_write()
        assert time.monotonic() - started < 10
    finally:
        stop.set()
        for t in flooders:
            t.join()
    assert flood_count[0] > 0
    assert store.get_event("warm-0000").attempts == 21
    store.close()


def test_a_write_statement_inside_a_transaction_does_not_wait_for_its_own_turn(tmp_path):
    store = SqliteStore(tmp_path / "g.db")
    store.add_events(events("warm", 1), T0)
    done = threading.Event()

    def nested() -> None:
        with store._tx() as db:
            db.execute("UPDATE events SET attempts = 1 WHERE key = 'warm-0000'")
            with store._write_turn():  # what a pooled write statement takes: re-entrant
                pass
        done.set()

    thread = run_threads([nested])[0]
    assert done.wait(5), "the turn is not re-entrant: the thread waits for itself"
    thread.join()
    assert store.get_event("warm-0000").attempts == 1
    store.close()


def test_a_checkpoint_catches_up_with_writes_made_while_it_copied_so_the_wal_restarts(tmp_path):
    """The first pass copies with writers going on; what they appended meanwhile is copied in a
    second pass holding the write lock, so the next write starts the WAL from its beginning
    (under steady writes the first pass alone never caught up: 350 MiB of WAL in the soak)."""
    from contextlib import contextmanager

    from integration.store.sqlite_pool import connect
    from integration.store.sqlite_checkpoint import checkpoint

    store = SqliteStore(tmp_path / "g.db", checkpoint_seconds=3600)
    checkpointer = connect(store.path)
    try:
        store.add_events(events("before", 200), T0)

        @contextmanager
        def exclusive():
            store.add_events(events("during", 200), T0)  # a write lands between the two passes
            seen.append(_wal_restarts(store.path))
            with store._file_lock.held():
                yield

        seen: list[int] = []
        checkpoint(checkpointer, exclusive)
        store.add_events(events("after", 1), T0)
        assert _wal_restarts(store.path) == seen[0] + 1  # the WAL started again from its beginning
    finally:
        checkpointer.close()
        store.close()


def _wal_restarts(path: str) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time the WAL restarts."""
    with open(f"{path}-wal", "rb") as fh:
        return int.from_bytes(fh.read(16)[12:16], "big")
