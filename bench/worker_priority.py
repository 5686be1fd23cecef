"""What the worker process's priority does to the acks: `gamefilm serve` with the worker off, on
as shipped (SCHED_IDLE, see integration/worker_child.py), and on at normal priority.

Each case is its own `gamefilm serve` (its own copy of a database holding --prefill events, a
dry-run rule processing every event), posted to over HTTP by --senders senders, every request
a new signed 100-event HubSpot batch; cases interleaved round by round so load drift on a
shared machine hits them alike, and after each worker-on slice the bench waits until that
worker has settled everything (it never runs while another case is measured). The
normal-priority case moves the running worker's threads back to SCHED_OTHER, which needs
CAP_SYS_NICE (root); without it that case is left out.

    python bench/worker_priority.py [--rounds 20] [--senders 1] [--prefill 100000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intake  # noqa: E402  (bench/intake.py: batches, senders, servers)


def children(pid: int) -> list[int]:
    return [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]


def to_normal_priority(pid: int) -> bool:
    """Every thread of `pid`'s worker child back to SCHED_OTHER; False when not permitted."""
    try:
        for child in children(pid):
            for tid in os.listdir(f"/proc/{child}/task"):
                os.sched_setscheduler(int(tid), os.SCHED_OTHER, os.sched_param(0))
    except PermissionError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--senders", type=int, default=1)
    parser.add_argument("--prefill", type=int, default=100_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gamefilm-priority-"))
    env = {**os.environ, "BENCH_HS_SECRET": intake.SECRET, "GAMEFILM_LOG_LEVEL": "WARNING"}
    procs: dict[str, subprocess.Popen] = {}
    ports: dict[str, int] = {}
    try:
        intake.prefill_product(tmp / "prefill.db", args.prefill)
        for case in ("worker off", "worker on (SCHED_IDLE)", "worker on (normal priority)"):
            db = tmp / f"{len(procs)}.db"
            shutil.copy(tmp / "prefill.db", db)
            config = tmp / f"{len(procs)}.toml"
            config.write_text(intake.CONFIG.format(db=db, mode="none" if case == "worker off" else "thread", portal=intake.PORTAL))
            port = intake.free_port()
            proc = intake.start([sys.executable, "-m", "integration.cli", "--config", str(config), "serve", "--port", str(port)], port, env)
            procs[case], ports[case] = proc, port
            if case.endswith("(normal priority)") and not to_normal_priority(proc.pid):
                print("normal-priority case left out: moving threads out of SCHED_IDLE needs CAP_SYS_NICE")
                proc.terminate()
                proc.wait(30)
                del procs[case], ports[case]
        per_sender = 30 if args.senders == 1 else max(40 // args.senders, 8)
        results: dict[str, tuple[list[float], float]] = {case: ([], 0.0) for case in procs}
        for _ in range(args.rounds):
            for case, port in ports.items():
                ms, wall = intake.run(args.senders, per_sender, intake.over_http(port, "/hooks/hubspot"))
                if case != "worker off":
                    intake.drain(tmp / f"{list(ports).index(case)}.db")
                results[case] = (results[case][0] + ms, results[case][1] + wall)
        report(results, args.senders)
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


def report(results: dict[str, tuple[list[float], float]], senders: int) -> None:
    off_p99 = intake.stats(*results["worker off"])[1]
    print(f"\n{senders} sender(s), load {os.getloadavg()[0]:.2f}")
    print(f"{'case':30} {'median ms':>10} {'p90 ms':>8} {'p99 ms':>8} {'events/s':>9} {'p99 / off':>10}")
    for case, (ms, wall) in results.items():
        median, p99, eps = intake.stats(ms, wall)
        p90 = sorted(ms)[int(len(ms) * 0.9)]
        print(f"{case:30} {median:10.2f} {p90:8.2f} {p99:8.1f} {eps:9.0f} {p99 / off_p99:10.2f}")
    print(f"requests per case: {len(next(iter(results.values()))[0])}; target (issue #8): worker on vs off p99 within 1.5x")


if __name__ == "__main__":
    main()
