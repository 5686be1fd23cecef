"""`gamefilm serve` runs the worker in a child process; the two share SQLite through one
cross-process write lock, and the child lives exactly as long as the server."""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from integration.store.sqlite import SqliteStore
from integration.store.sqlite_lock import WriteLock
from tests.store_contract import T0, make_event
from tests.test_server_process import ROOT, Server, cli, events, wait_for, write_config


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_ack_waits_for_a_write_held_by_another_process_and_goes_on_when_it_ends(tmp_path):
    path = tmp_path / "g.db"
    store = SqliteStore(path)
    other = WriteLock(str(path))  # another open file: to flock, another process
    acked = threading.Event()
    try:
        with other.held():
            thread = threading.Thread(target=lambda: (store.add_events([make_event()], T0), acked.set()))
            thread.start()
            assert not acked.wait(0.3)  # the group writer takes the lock before BEGIN IMMEDIATE
        assert acked.wait(5)
        thread.join()
        with store._tx() as db:  # the worker's transactions take it too
            db.execute("UPDATE events SET attempts = 1")
            with pytest.raises(BlockingIOError):
                fcntl.flock(other._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with other.held():
            pass  # released after the transaction
    finally:
        other.close()
        store.close()


def test_the_lock_is_exclusive_across_processes(tmp_path):
    lock = WriteLock(str(tmp_path / "g.db"))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from integration.store.sqlite_lock import WriteLock\n"
        f"lock = WriteLock({str(tmp_path / 'g.db')!r})\n"
        "with lock.held():\n    print('held', flush=True); time.sleep(0.5)\n")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        started = time.monotonic()
        with lock.held():
            waited = time.monotonic() - started
        assert 0.2 < waited < 5
    finally:
        holder.wait(10)
        holder.stdout.close()
        lock.close()


def test_serve_runs_the_worker_in_a_child_that_stops_with_a_graceful_stop(tmp_path):
    config = write_config(tmp_path, "run.toml", "thread")
    server = Server(config)
    try:
        [child] = wait_for(lambda: _children(server.proc.pid))
        import urllib.request

        with urllib.request.urlopen(server.url + "/healthz") as r:
            assert b'"worker":"process"' in r.read()
        assert "-> 200" in cli(config, "send-sample", "hubspot", "--url", server.url).stdout
        wait_for(lambda: [e["status"] for e in events(config)] == ["done"])
    finally:
        server.stop(signal.SIGTERM)
    assert server.proc.returncode == 0
    assert not _alive(child)


def test_a_sigkilled_server_takes_its_worker_down_and_nothing_acked_is_lost(tmp_path):
    config = write_config(tmp_path, "kill.toml", "thread")
    server = Server(config, preexec_fn=os.setsid)  # its own group: the kill reaches the server alone
    [child] = wait_for(lambda: _children(server.proc.pid))
    assert '"accepted":1' in cli(config, "send-sample", "hubspot", "--url", server.url).stdout
    server.proc.kill()
    server.proc.wait(10)
    server.proc.stdout.close()
    wait_for(lambda: not _alive(child))  # end of file on its pipe: it stops by itself
    assert [e["status"] for e in events(config)] in (["pending"], ["done"])  # acked: stored, done or not
    restarted = Server(config)
    try:
        wait_for(lambda: [e["status"] for e in events(config)] == ["done"])
    finally:
        restarted.stop()
    assert cli(config, "actions").stdout.count("AddNote on 9001 by rule note_on_change") == 1

