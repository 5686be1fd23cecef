"""Lambda cold start through Zappa's own handler: Game Film (DynamoDB, as in production) vs a bare Flask app.

Each run is a fresh Python process that does what a new Lambda container does: import Zappa's
handler (`zappa.handler`, copied to the zip root as `handler.py`), then
`LambdaHandler.lambda_handler(event, context)` with an API Gateway event: first
`GET /healthz`, then a signed HubSpot webhook `POST /hooks/hubspot` (1 event), which for Game
Film is verified, normalised and stored durably in DynamoDB (dynalite on loopback, from
node_modules/.bin/dynalite). The bare app is a Flask app with the same two routes that only
parses the body. Both run with the same `zappa_settings` module and the same libraries.

Rows: Game Film on DynamoDB (production), the same with the review loop's rule configured (its
modules are imported only when a tenant uses it), Game Film on SQLite, bare Flask; medians (and
minimums, the least disturbed by other load on the machine) over --runs fresh processes,
interleaved in a shuffled order per round. Interpreter start-up is excluded (identical for all).
Target: Game Film on DynamoDB <= 1.5x the bare app, import + both first requests.
The CPU column (the process's CPU time over the same span) is what other load on a shared
machine disturbs least; wall time also holds the waits for dynalite.

The worker mode is "none": in production the webhook also sends the key to SQS (one more boto3
client), which no loopback server here can answer.

Code comes from the working tree (PYTHONPATH) with the deploy virtualenv's libraries (which
hold zappa): --venv PATH, else .venv-deploy (created with `pip install '.[deploy]'` if absent).
--zip PATH runs the unpacked Lambda package instead, as bench/package_size.py builds it.

    python bench/cold_start.py [--runs 7] [--venv PATH | --zip PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DYNALITE = ROOT / "node_modules" / ".bin" / "dynalite"
TABLE = "gamefilm-cold"
SECRET = "cold-start-secret"
PUBLIC_URL = "https://cold.example/production"
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")

_SETTINGS = """# like the zappa_settings.py `zappa package` writes
APP_MODULE = {module!r}
APP_FUNCTION = {function!r}
EXCEPTION_HANDLER = None
DEBUG = False
LOG_LEVEL = "WARNING"
BINARY_SUPPORT = True
CONTEXT_HEADER_MAPPINGS = {{}}
DOMAIN = None
BASE_PATH = None
ENVIRONMENT_VARIABLES = {{"AWS_REGION": "us-east-1"}}
API_STAGE = "production"
PROJECT_NAME = "gamefilm"
SETTINGS_FILE = None
DJANGO_SETTINGS = None
AWS_EVENT_MAPPING = {{}}
AWS_BOT_EVENT_MAPPING = {{}}
COGNITO_TRIGGER_MAPPING = {{}}
ASYNC_RESPONSE_TABLE = ""
ADDITIONAL_TEXT_MIMETYPES = []
"""

_BARE_APP = '''"""The baseline: Flask with the same two routes, no config, no store, no verification."""
from flask import Flask, request

app = Flask("bare")


@app.get("/healthz")
def healthz():
    return {"ok": True}


@app.post("/hooks/hubspot")
def hubspot():
    return {"accepted": len(request.get_json())}
'''

_CHILD = r"""
import json, sys, time
c0, t0 = time.process_time(), time.perf_counter()
from zappa.handler import LambdaHandler
t1 = time.perf_counter()
with open(sys.argv[1]) as fh:
    get_event, post_event = json.load(fh)
first = LambdaHandler.lambda_handler(get_event, None)
t2 = time.perf_counter()
second = LambdaHandler.lambda_handler(post_event, None)
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({"import": t1 - t0, "get": t2 - t1, "post": t3 - t2, "total": t3 - t0, "cpu": c3 - c0,
                  "status": [first.get("statusCode"), second.get("statusCode")], "body": second.get("body")}))
"""


def _api_event(method: str, path: str, headers: dict[str, str], body: str | None) -> dict:
    return {"resource": "/{proxy+}", "path": path, "httpMethod": method,
            "headers": {"Host": "cold.execute-api.us-east-1.amazonaws.com", **headers}, "multiValueHeaders": {},
            "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": {"proxy": path.lstrip("/")},
            "stageVariables": None, "requestContext": {"stage": "production", "path": f"/production{path}", "httpMethod": method,
            "identity": {"sourceIp": "127.0.0.1"}, "requestId": "cold", "resourcePath": "/{proxy+}"},
            "body": body, "isBase64Encoded": False}  # fmt: skip


def _events(work: Path) -> Path:
    from integration import samples

    body = json.dumps(samples.hubspot_events("62515", ["9001"], "250000")).encode()
    headers = samples.hubspot_headers(SECRET, f"{PUBLIC_URL}/hooks/hubspot", body, timestamp_ms=int(time.time() * 1000) + 3_000_000)
    path = work / "events.json"
    path.write_text(json.dumps([_api_event("GET", "/healthz", {}, None), _api_event("POST", "/hooks/hubspot", headers, body.decode())]))
    return path


def _config(work: Path, name: str, store: str, extra_rules: str = "") -> Path:
    path = work / f"{name}.toml"
    path.write_text(
        f"{store}\n[worker]\nmode = \"none\"\n[intake]\npublic_base_url = \"{PUBLIC_URL}\"\nsignature_tolerance_seconds = 3600\n"
        '[[tenants]]\nid = "cold-hubspot"\ncrm = "hubspot"\nportal_id = "62515"\ndry_run = true\nclient_secret_env = "COLD_SECRET"\n'
        '[tenants.rules.note_on_change]\nproperties = ["amount"]\n' + extra_rules
    )
    return path


def _task_dir(work: Path, name: str, module: str, function: str) -> Path:
    task = work / name
    task.mkdir()
    (task / "zappa_settings.py").write_text(_SETTINGS.format(module=module, function=function))
    if module == "bare_app":
        (task / "bare_app.py").write_text(_BARE_APP)
    return task


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_dynalite() -> tuple[subprocess.Popen, str]:
    if not DYNALITE.exists():
        raise SystemExit(f"{DYNALITE} is missing: run `npm ci` (or `make test`) first")
    port = _free_port()
    proc = subprocess.Popen([str(DYNALITE), "--host", "127.0.0.1", "--port", str(port), "--createTableMs", "0"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 20
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("dynalite did not start")


def _deploy_venv(explicit: Path | None) -> Path:
    venv = explicit or ROOT / ".venv-deploy"
    if not (venv / "bin" / "python").exists():
        print(f"creating {venv} (pip install '.[deploy]') ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", ".[deploy]"], cwd=ROOT, check=True)
    return venv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--venv", type=Path, help="deploy virtualenv with zappa (default .venv-deploy)")
    parser.add_argument("--zip", type=Path, help="run the unpacked Lambda package (its libraries) instead of the tree")
    args = parser.parse_args()
    venv = _deploy_venv(args.venv.resolve() if args.venv else None)
    python = str(venv / "bin" / "python")
    dynalite, endpoint = _start_dynalite()
    try:
        with tempfile.TemporaryDirectory(prefix="gamefilm-cold-") as tmp:
            work = Path(tmp)
            from integration.config import StoreConfig
            from integration.store.dynamodb import DynamoStore

            os.environ.setdefault("AWS_ACCESS_KEY_ID", "cold")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cold")
            DynamoStore.from_config(StoreConfig(backend="dynamodb", table=TABLE, region="us-east-1", endpoint_url=endpoint)).create_table()
            if args.zip:
                code = work / "package"
                with zipfile.ZipFile(args.zip) as zf:
                    zf.extractall(code)
                runtime = work / "runtime"
                runtime.mkdir()
                site = next(venv.glob("lib/python3.*/site-packages"))
                for name in RUNTIME_PROVIDED:
                    if (site / name).exists():
                        (runtime / name).symlink_to(site / name)
                search = [str(code), str(runtime)]
                flags = ["-S", "-B"]  # -B: /var/task is read-only, no bytecode is cached between cold starts
            else:
                search, flags = [str(ROOT)], []
            dynamo = f'[store]\nbackend = "dynamodb"\ntable = "{TABLE}"\nregion = "us-east-1"\nendpoint_url = "{endpoint}"'
            cases = {
                "Game Film, DynamoDB (production)": (_task_dir(work, "dynamodb", "integration.app", "app"), _config(work, "dynamodb", dynamo)),
                "  + the review loop (game_film rule)": (_task_dir(work, "dynamodb-review", "integration.app", "app"),
                                                         _config(work, "dynamodb-review", dynamo, "[tenants.rules.game_film]\n")),
                "Game Film, SQLite": (_task_dir(work, "sqlite", "integration.app", "app"),
                                      _config(work, "sqlite", f'[store]\nbackend = "sqlite"\npath = "{work}/cold.db"')),
                "bare Flask app": (_task_dir(work, "bare", "bare_app", "app"), None),
            }  # fmt: skip
            events = _events(work)
            results: dict[str, list[dict]] = {name: [] for name in cases}
            order = list(cases)
            shuffle = random.Random(7).shuffle
            for _ in range(args.runs):
                shuffle(order)  # interleaved, in a new order each round: drift and position hit every row alike
                for name in order:
                    task, config = cases[name]
                    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join([str(task), *search]),
                           "COLD_SECRET": SECRET, "GAMEFILM_LOG_LEVEL": "WARNING", "AWS_ACCESS_KEY_ID": "cold",
                           "AWS_SECRET_ACCESS_KEY": "cold", "AWS_DEFAULT_REGION": "us-east-1", "HOME": tmp}  # fmt: skip
                    if config is not None:
                        env["GAMEFILM_CONFIG"] = str(config)
                    done = subprocess.run([python, *flags, "-c", _CHILD, str(events)], cwd=task, env=env, capture_output=True, text=True)
                    if done.returncode != 0:
                        raise SystemExit(f"{name} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                    if result["status"] != [200, 200]:
                        raise SystemExit(f"{name}: HTTP {result['status']} {result['body']}")
                    results[name].append(result)
    finally:
        dynalite.terminate()
        dynalite.wait(10)
    source = f"unpacked {args.zip}" if args.zip else "working tree"
    print(f"cold start through zappa.handler.LambdaHandler, fresh process per run, median of {args.runs} ({source}, {python})")
    print(f"{'configuration':34} {'import ms':>9} {'GET ms':>7} {'POST ms':>8} {'total ms':>9} {'vs bare':>8} {'min total':>10} {'vs bare':>8}"
          f" {'CPU ms':>7} {'vs bare':>8}")
    bare = statistics.median(r["total"] for r in results["bare Flask app"])
    bare_min = min(r["total"] for r in results["bare Flask app"])
    bare_cpu = statistics.median(r["cpu"] for r in results["bare Flask app"])
    for name, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) * 1000 for k in ("import", "get", "post", "total", "cpu")}
        low = min(r["total"] for r in rows)
        print(f"{name:34} {med['import']:9.0f} {med['get']:7.0f} {med['post']:8.0f} {med['total']:9.0f} "
              f"{med['total'] / 1000 / bare:7.2f}x {low * 1000:10.0f} {low / bare_min:7.2f}x {med['cpu']:7.0f} {med['cpu'] / 1000 / bare_cpu:7.2f}x")
    ratio = statistics.median(r["total"] for r in results["Game Film, DynamoDB (production)"]) / bare
    print(f"target: DynamoDB configuration <= 1.5x the bare app (medians): {'MET' if ratio <= 1.5 else 'MISSED'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
