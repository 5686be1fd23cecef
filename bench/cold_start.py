"""Cold-start costs, each measured in a fresh Python process (median of --runs, default 7).

- `import integration.app`: what Zappa's handler pays before the first event (SDKs are lazy);
- building the app through the lazy WSGI callable and serving the first GET /healthz
  (config read + SQLite store + Flask app + blueprints), as the first API Gateway request does;
- the SDKs' own import times for comparison, and creating a DynamoDB client (what the
  first request pays on Lambda, where the store is DynamoDB).

Each row times only its own step with perf_counter inside the child, so interpreter start-up
is excluded (and shown on its own row).

    python bench/cold_start.py [--runs 7]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_TIMED = """
import json, sys, time
{setup}
t = time.perf_counter()
{code}
elapsed = time.perf_counter() - t
sdks = [m for m in ("hubspot", "simple_salesforce", "boto3", "botocore", "zeep") if m in sys.modules]
print(json.dumps({{"s": elapsed, "sdks": sdks}}))
"""

# The import is untimed set-up here: only building the app and the request are timed.
_FIRST_SETUP = "import integration.app\nfrom werkzeug.test import Client"
_FIRST_REQUEST = 'response = Client(integration.app.app).get("/healthz")\nassert response.status_code == 200, response.status_code'

CASES: list[tuple[str, str, str]] = [  # (row, timed code, untimed set-up or "startup")
    ("python start-up (python -c pass)", "", "startup"),
    ("import integration.app", "import integration.app", ""),
    ("build app + first GET /healthz", _FIRST_REQUEST, _FIRST_SETUP),
    ("import hubspot", "import hubspot", ""),
    ("from hubspot import HubSpot", "from hubspot import HubSpot", ""),
    ("import simple_salesforce", "import simple_salesforce", ""),
    ("import boto3", "import boto3", ""),
    ("import boto3 + dynamodb client", "import boto3; boto3.client('dynamodb', region_name='us-east-1')", ""),
]


def run_once(code: str, setup: str, env: dict[str, str]) -> tuple[float, list[str]]:
    if setup == "startup":
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        return time.perf_counter() - started, []
    script = _TIMED.format(setup=setup, code=code)
    done = subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["s"], result["sdks"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gamefilm-cold-") as tmp:
        config = Path(tmp) / "cold.toml"
        config.write_text(
            f'[store]\nbackend = "sqlite"\npath = "{tmp}/cold.db"\n[worker]\nmode = "none"\n'
            '[[tenants]]\nid = "cold-hubspot"\ncrm = "hubspot"\nportal_id = "1"\ndry_run = true\nclient_secret_env = "COLD_SECRET"\n'
        )
        env = {**os.environ, "GAMEFILM_CONFIG": str(config), "COLD_SECRET": "x", "GAMEFILM_LOG_LEVEL": "WARNING",
               "PYTHONPATH": str(ROOT), "AWS_ACCESS_KEY_ID": "cold", "AWS_SECRET_ACCESS_KEY": "cold"}  # fmt: skip
        env.pop("GAMEFILM_SSM_PATH", None)
        print(f"cold start, fresh process per run, median of {args.runs} ({sys.executable}, Python {sys.version.split()[0]})")
        print(f"{'step':36} {'median ms':>10} {'min ms':>8} {'max ms':>8}  SDK modules loaded")
        for name, code, setup in CASES:
            times, sdks = [], []
            for _ in range(args.runs):
                elapsed, sdks = run_once(code, setup, env)
                times.append(elapsed * 1000)
            loaded = ", ".join(sdks) if setup != "startup" else ""
            print(f"{name:36} {statistics.median(times):10.1f} {min(times):8.1f} {max(times):8.1f}  {loaded}")


if __name__ == "__main__":
    main()
