"""CRM API requests per operation for 1, 100 and 1,000 records, on both adapters, against
one request per record. Target (issues #3, #7): at 1,000 records, at least 100x fewer requests
than one-per-record for updates, collaborators and task creation.

Run: `.venv/bin/python bench/api_calls.py` (or `make bench`).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import api_calls_hubspot  # noqa: E402
import api_calls_salesforce  # noqa: E402

TARGET_OPS = ("update_fields", "add_collaborators", "create_tasks")


def main() -> None:
    rows = api_calls_salesforce.measure() + api_calls_hubspot.measure()
    print(f"{'crm':<11} {'operation':<18} {'records':>8} {'requests':>9} {'one/record':>11} {'fewer':>8}")
    for r in rows:
        print(f"{r['crm']:<11} {r['op']:<18} {r['records']:>8} {r['requests']:>9} {r['one_per_record']:>11} {r['one_per_record'] / r['requests']:>7.3g}x")
    at_1000 = [r for r in rows if r["records"] == 1000 and r["op"] in TARGET_OPS]
    worst = min(at_1000, key=lambda r: r["one_per_record"] / r["requests"])
    ratio = worst["one_per_record"] / worst["requests"]
    print(f"\nworst at 1,000 records for {', '.join(TARGET_OPS)}: {worst['crm']} {worst['op']} "
          f"{ratio:.0f}x fewer (target >= 100x): {'met' if ratio >= 100 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
