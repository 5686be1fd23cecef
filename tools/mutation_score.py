"""Print mutmut's kill rate per module from mutants/*.meta (run after `mutmut run`).

Score = killed / (killed + survived) over mutants that some test reaches ("no tests" is
coverage, not test strength, and is shown apart). Timeouts count as killed, as mutmut does.
Survivors not explained in tests/MUTANTS.md (by mutant name) are listed after the table.
Exit 1 if a module is under the threshold, so `make mutation` fails visibly.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

THRESHOLD = 0.90


def main(root: Path = Path("mutants"), explained: Path = Path("tests/MUTANTS.md")) -> int:
    worst = 1.0
    known = set(re.findall(r"[\w.ǁ]+__mutmut_\d+", explained.read_text() if explained.exists() else ""))
    unexplained: list[str] = []
    print(f"{'module':34} {'killed':>6} {'survived':>8} {'no tests':>8} {'score':>6}")
    for meta in sorted(root.rglob("*.py.meta")):
        counts: Counter[str] = Counter()
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            counts[status_by_exit_code[code]] += 1
            if status_by_exit_code[code] == "survived" and name not in known:
                unexplained.append(name)
        killed = counts["killed"] + counts["timeout"]
        covered = killed + counts["survived"]
        score = killed / covered if covered else 1.0
        worst = min(worst, score)
        name = str(meta.relative_to(root))[: -len(".meta")]
        print(f"{name:34} {killed:6} {counts['survived']:8} {counts['no tests']:8} {score:6.1%}")
    if unexplained:
        print(f"\n{len(unexplained)} survivors not in {explained} (see each with `mutmut show NAME`):")
        print("\n".join(f"  {name}" for name in unexplained))
    return 0 if worst >= THRESHOLD else 1


if __name__ == "__main__":
    sys.exit(main())
