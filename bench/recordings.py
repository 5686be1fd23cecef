"""Recordings (issue 9), first part: matching a recording to its deal on a generated org
(bench/org.py: 520 accounts, 2,000 contacts, 1,000 open deals plus recently and long closed).

- accuracy over 1,200 generated recordings, each with the one deal the rules admit (or none),
  by kind of evidence; target 100%, misses printed by kind;
- matching reads (`read_facts` against the counting in-memory CRM, bench/org_crm.py) per
  recording when recordings arrive alone and 100 together (one read per kind per batch);
- time of the pure `match` per recording (median, p99).

- HubSpot requests per recording for match + attach + review tasks, 1 and 100 arriving
  together, through the real app, worker, adapter and SDK on the loopback fake HubSpot seeded
  with this org (bench/recordings_hubspot.py; target at 100: <= 0.1), by endpoint.
- the rotation's spread over 1,000 recordings (max - min peer assignments per eligible
  reviewer, target <= 1) through the real SQLite ledger (bench/rotation.py, more there).
- Salesforce HTTP requests per recording (match + attach + review tasks) for 1 and 100
  recordings posted together, through the real app, worker and simple-salesforce against a
  `responses` org seeded from the same generated org (bench/recordings_salesforce.py; target
  at 100: <= 0.1), printed by kind.
Run: `.venv/bin/python bench/recordings.py [--seed N] [--recordings N]`.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.org import KINDS, Case, Org, generate_cases, generate_org  # noqa: E402
from bench.org_crm import OrgCrm  # noqa: E402
from bench.recordings_hubspot import report as hubspot_requests  # noqa: E402
from bench.recordings_salesforce import run as salesforce_requests  # noqa: E402
from integration.match_reads import read_facts  # noqa: E402
from integration.matching import OrgFacts, match  # noqa: E402

BATCH = 100


def accuracy(org: Org, cases: list[Case]) -> None:
    crm = OrgCrm(org)
    seen: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    examples: list[str] = []
    for start in range(0, len(cases), BATCH):
        batch = cases[start : start + BATCH]
        facts = read_facts(crm, [c.recording for c in batch])
        for case in batch:
            seen[case.kind] += 1
            got = match(case.recording, facts)
            if got.deal_id != case.expected:
                missed[case.kind] += 1
                if len(examples) < 10:
                    examples.append(f"  {case.recording.external_id}: expected {case.expected}, got {got.deal_id} ({got.step}: {got.reason})")
    print(f"{'kind of evidence':<24} {'recordings':>10} {'matched':>8} {'missed':>7}")
    for kind in KINDS:
        print(f"{kind:<24} {seen[kind]:>10} {seen[kind] - missed[kind]:>8} {missed[kind]:>7}")
    total, wrong = sum(seen.values()), sum(missed.values())
    share = 100 * (total - wrong) / total if total else 0.0
    print(f"{'all':<24} {total:>10} {total - wrong:>8} {wrong:>7}   accuracy {share:.2f}% (target 100%): {'met' if wrong == 0 else 'MISSED'}")
    for line in examples:
        print(line)


def reads(org: Org, cases: list[Case]) -> None:
    print(f"\n{'recordings together':<20} {'batches':>8} {'reads':>6} {'reads/recording':>16} {'largest read (ids)':>19}")
    for size in (1, BATCH):
        crm = OrgCrm(org)
        sample = cases[: BATCH * 3]
        for start in range(0, len(sample), size):
            read_facts(crm, [c.recording for c in sample[start : start + size]])
        total = sum(crm.calls.values())
        largest = max((len(asked) for _, asked in crm.asked), default=0)
        print(f"{size:<20} {len(sample) // size:>8} {total:>6} {total / len(sample):>16.3f} {largest:>19}")
        if size == BATCH:
            print("  per batch of 100: " + ", ".join(f"{name} {n / (len(sample) // size):g}" for name, n in sorted(crm.calls.items())))


def timing(org: Org, cases: list[Case], rounds: int = 5) -> None:
    crm = OrgCrm(org)
    facts: list[tuple[Case, OrgFacts]] = []
    for start in range(0, len(cases), BATCH):
        batch = cases[start : start + BATCH]
        batch_facts = read_facts(crm, [c.recording for c in batch])
        facts += [(c, batch_facts) for c in batch]
    samples: list[float] = []
    for _ in range(rounds):
        for case, batch_facts in facts:
            began = time.perf_counter_ns()
            match(case.recording, batch_facts)
            samples.append((time.perf_counter_ns() - began) / 1000)
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(f"\nmatch() per recording over {len(samples)} runs (facts of its batch of 100): median {statistics.median(samples):.1f} µs, p99 {p99:.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--recordings", type=int, default=1200)
    args = parser.parse_args()
    began = time.perf_counter()
    org = generate_org(args.seed)
    cases = generate_cases(org, args.recordings, seed=args.seed)
    open_deals = sum(1 for d in org.deals.values() if not d.closed)
    print(f"org (seed {args.seed}): {len(org.accounts)} accounts, {len(org.contacts)} contacts, {open_deals} open deals, "
          f"{len(org.deals) - open_deals} closed, {sum(map(len, org.roles.values()))} contact roles, {len(org.users)} users; "
          f"{len(cases)} recordings, generated in {time.perf_counter() - began:.1f} s\n")  # fmt: skip
    accuracy(org, cases)
    reads(org, cases)
    timing(org, cases)
    hubspot_requests(org, cases)
    salesforce_requests(org, cases)
    rotation_spread(args.seed)


def rotation_spread(seed: int, recordings: int = 1000) -> None:
    """The rotation's spread over 1,000 recordings through the real SQLite ledger (bench/rotation.py
    measures it on DynamoDB too, with latencies and contention)."""
    import tempfile

    from bench.rotation import fairness
    from integration.store.sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "rotation.db")
        try:
            fairness("rotation (SQLite ledger)", store.ledger(), recordings, seed)
        finally:
            store.close()


if __name__ == "__main__":
    main()
