"""CPU of one HubSpot ack beyond the floor's, on both threads (issue #8's in-process ack target).

`bench/intake.py` times whole acks; on a shared 2-core machine its wall clock is noisy. This
counts CPU instead, product vs floor (the same cases as `bench/intake.py`: same batches, same
100k-event table, the product's own GroupWriter under both), interleaved in slices:
- request thread: `time.thread_time()` around each slice of requests, per request;
- writer thread: `thread_time()` and wall time inside `GroupWriter._commit`, per commit (the
  wall part includes the fsync);
- with `--profile`, the product's request path under cProfile (tottime), to see where.
Medians over the slices; quote them with the load (`uptime`) they ran at.

    python bench/ack_cpu.py [--requests 600] [--slices 6] [--prefill 100000] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intake as bench  # noqa: E402  (bench/intake.py: the floor and the batches)

from integration.store.sqlite_writer import GroupWriter  # noqa: E402


class WriterClock:
    """CPU and wall time a GroupWriter spends in its commits (on its own thread)."""

    def __init__(self, writer: GroupWriter):
        self.cpu: list[float] = []
        self.wall: list[float] = []
        commit = writer._commit

        def timed(group: list[Any]) -> None:
            cpu, wall = time.thread_time(), time.perf_counter()
            commit(group)
            self.cpu.append(time.thread_time() - cpu)
            self.wall.append(time.perf_counter() - wall)

        writer._commit = timed  # type: ignore[method-assign]

    def take(self) -> tuple[float, float]:
        """Mean ms per commit since the last take."""
        cpu, wall = self.cpu, self.wall
        self.cpu, self.wall = [], []
        return sum(cpu) / len(cpu) * 1000, sum(wall) / len(wall) * 1000


def request_cpu(post: Callable[[bytes, dict[str, str]], int], work: list[tuple[bytes, dict[str, str]]]) -> float:
    started = time.thread_time()
    for body, headers in work:
        if post(body, headers) != 200:
            raise SystemExit("unexpected status")
    return (time.thread_time() - started) / len(work) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600, help="per case, over all slices")
    parser.add_argument("--slices", type=int, default=6)
    parser.add_argument("--prefill", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from integration.app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="gamefilm-ackcpu-"))
    try:
        bench.prefill_product(tmp / "product.db", args.prefill)
        bench.prefill_floor(tmp / "floor.db", args.prefill)
        (tmp / "c.toml").write_text(bench.CONFIG.format(db=tmp / "product.db", mode="none", portal=bench.PORTAL))
        os.environ["BENCH_HS_SECRET"] = bench.SECRET
        product = create_app({"config_path": str(tmp / "c.toml"), "environ": {"BENCH_HS_SECRET": bench.SECRET}})
        floor_writer = bench.floor_writer(tmp / "floor.db", checkpoints=True)
        reference = bench.reference_app(floor_writer)
        store = product.extensions["gamefilm"].store
        uri = "http://localhost/hooks/hubspot"
        client, ref_client = product.test_client(), reference.test_client()
        post = lambda body, headers: client.post("/hooks/hubspot", data=body, headers=headers).status_code  # noqa: E731
        ref_post = lambda body, headers: ref_client.post("/floor", data=body, headers=headers).status_code  # noqa: E731
        for body, headers in [bench.signed(uri) for _ in range(30)]:  # warm both (and start the product's writer)
            post(body, headers), ref_post(body, headers)
        clocks = {"product": WriterClock(store._group_writer()), "floor": WriterClock(floor_writer)}
        per_slice = max(args.requests // args.slices, 1)
        results: dict[str, list[tuple[float, float, float]]] = {"product": [], "floor": []}
        for _ in range(args.slices):
            for name, send in (("product", post), ("floor", ref_post)):
                work = [bench.signed(uri) for _ in range(per_slice)]
                cpu = request_cpu(send, work)
                results[name].append((cpu, *clocks[name].take()))
        print(f"load {os.getloadavg()[0]:.2f}; {args.slices} slices of {per_slice} requests of {bench.EVENTS} events; medians:")
        print(f"{'case':8} {'request-thread CPU ms':>22} {'writer CPU ms/commit':>21} {'writer wall ms/commit':>22}")
        medians = {}
        for name, rows in results.items():
            medians[name] = [statistics.median(column) for column in zip(*rows)]
            print(f"{name:8} {medians[name][0]:22.3f} {medians[name][1]:21.3f} {medians[name][2]:22.3f}")
        p, f = medians["product"], medians["floor"]
        print(f"product / floor: request thread {p[0] / f[0]:.2f}x, writer CPU {p[1] / f[1]:.2f}x, "
              f"request + writer CPU {(p[0] + p[1]) / (f[0] + f[1]):.2f}x")  # fmt: skip
        if args.profile:
            profile = cProfile.Profile()
            work = [bench.signed(uri) for _ in range(per_slice)]
            profile.enable()
            for body, headers in work:
                post(body, headers)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
