"""Size of the Lambda package against Lambda's limits, and a smoke run of the built zip.

Builds the zip the way `make package` does: a separate virtualenv with the runtime
dependencies only (`pip install '.[deploy]'`), activated, `zappa package production`, then
`infra/lambda_package.py` prunes what the Lambda path never imports. That takes a minute or
more; `--zip PATH` measures an existing zip instead, `--venv PATH` reuses a deploy virtualenv
(e.g. .venv-deploy). Target: zipped <= 15 MiB.

Then it unpacks the zip and, in a fresh `python -S` process whose path is only the package
plus the libraries the Lambda Python runtime provides (boto3, botocore, s3transfer, jmespath,
dateutil, six, urllib3), calls Zappa's `handler.lambda_handler` with an API Gateway
`GET /healthz` event, a signed HubSpot webhook (API Gateway `POST /hooks/hubspot`), the
scheduled sweep (which runs the rule through the real HubSpot SDK against the loopback fake
HubSpot of tests/hubspot_server.py), an SQS event, and builds a Salesforce client
(simple-salesforce imports the zeep placeholder), on a SQLite config in a temp dir.

    python bench/package_size.py [--zip PATH | --venv PATH] [--stage production] [--no-smoke]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1024 * 1024
TARGET = 15 * MB
ZIPPED_LIMIT = 50 * MB  # direct upload; larger zips must go through S3
UNZIPPED_LIMIT = 250 * MB  # function code plus all layers
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")


def build(stage: str, work: Path, venv: Path | None) -> tuple[Path, Path]:
    if venv is None:
        venv = work / "venv"
    if not (venv / "bin" / "python").exists():
        _run([sys.executable, "-m", "venv", str(venv)])
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", ".[deploy]"], cwd=ROOT)
    out = work / "gamefilm-lambda.zip"
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONHOME", None)
    _run([str(venv / "bin" / "zappa"), "package", stage, "-o", str(out)], cwd=ROOT, env=env)
    before = out.stat().st_size
    _run([sys.executable, str(ROOT / "infra" / "lambda_package.py"), str(out)])
    print(f"  zappa's zip {before / MB:.1f} MiB -> pruned {out.stat().st_size / MB:.1f} MiB")
    return out, venv


def _run(cmd: list[str], **kw) -> None:
    started = time.perf_counter()
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)
    print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)


def measure(zip_path: Path) -> dict:
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # unzipped, zipped, files
    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
    for info in infos:
        top = info.filename.split("/", 1)[0]
        if top.endswith((".dist-info", ".egg-info")):
            top = "(package metadata: *.dist-info)"
        elif top.endswith(".libs"):  # auditwheel's vendored shared libraries belong to their package
            top = top.removesuffix(".libs").lstrip("_")
        g = groups[top]
        g[0] += info.file_size
        g[1] += info.compress_size
        g[2] += 1
    return {
        "zipped": zip_path.stat().st_size,
        "unzipped": sum(i.file_size for i in infos),
        "files": len(infos),
        "groups": sorted(groups.items(), key=lambda kv: kv[1][0], reverse=True),
    }


def report(zip_path: Path, m: dict) -> None:
    print(f"\npackage: {zip_path}")
    print(f"  zipped   {m['zipped'] / MB:7.1f} MiB  (target {TARGET // MB} MiB: {'MET' if m['zipped'] <= TARGET else 'MISSED'}; "
          f"limit {ZIPPED_LIMIT // MB} MiB direct upload: "
          f"{'OK' if m['zipped'] < ZIPPED_LIMIT else 'TOO BIG: upload through S3 or use slim_handler'})")
    print(f"  unzipped {m['unzipped'] / MB:7.1f} MB   (limit {UNZIPPED_LIMIT // MB} MB with layers: "
          f"{'OK' if m['unzipped'] < UNZIPPED_LIMIT else 'TOO BIG'})")
    print(f"  files    {m['files']:7d}")
    print("\n  top 10 top-level entries by unzipped size")
    print(f"  {'entry':34} {'unzipped MB':>11} {'zipped MB':>10} {'files':>6}")
    for name, (unzipped, zipped, files) in m["groups"][:10]:
        print(f"  {name:34} {unzipped / MB:11.1f} {zipped / MB:10.1f} {files:6d}")
    ours = [g for g in m["groups"] if g[0] in ("integration", "handlers", "config")]
    if ours:
        print("  ours: " + ", ".join(f"{n} {u / 1024:.0f} KB" for n, (u, _, _) in ours))
    leaked = [n for n, _ in m["groups"] if n in ("tests", "bench", "node_modules", "var", ".venv", "boto3", "botocore",
                                                  "build", "lxml", "yaml", "packaging", "pip", "setuptools")]  # fmt: skip
    print(f"  excluded as intended: {'yes' if not leaked else 'NO, found ' + ', '.join(leaked)}")


_SMOKE = r"""
import json, sys, time
t0 = time.perf_counter()
import handler  # Zappa's handler.py at the zip root, as Lambda loads it
t1 = time.perf_counter()
api = {"resource": "/{proxy+}", "path": "/healthz", "httpMethod": "GET", "headers": {"Host": "x.execute-api.us-east-1.amazonaws.com"},
       "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": {"proxy": "healthz"},
       "stageVariables": None, "requestContext": {"stage": "production", "path": "/production/healthz", "identity": {"sourceIp": "127.0.0.1"},
       "httpMethod": "GET", "requestId": "r1", "resourcePath": "/{proxy+}"}, "body": None, "isBase64Encoded": False}
first = handler.lambda_handler(api, None)
t2 = time.perf_counter()
from integration import samples  # from the zip
body = json.dumps(samples.hubspot_events("62515", ["9001"], "250000")).encode()
headers = samples.hubspot_headers("smoke-secret", "https://smoke.example/production/hooks/hubspot", body)
hook = dict(api, path="/hooks/hubspot", httpMethod="POST", body=body.decode(), pathParameters={"proxy": "hooks/hubspot"},
            headers={**api["headers"], **headers}, requestContext=dict(api["requestContext"], httpMethod="POST", path="/production/hooks/hubspot"))
webhook = handler.lambda_handler(hook, None)
sweep = handler.lambda_handler({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-22T10:00:00Z",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/gamefilm-production-integration.queue.sweep_handler"], "detail": {}}, None)
from simple_salesforce import Salesforce
sf = Salesforce(instance_url="https://acme.my.salesforce.com", session_id="00D!smoke")
import zeep
arn = sys.argv[1]
sqs = handler.lambda_handler({"Records": [{"messageId": "m1", "receiptHandle": "h", "body": json.dumps({"key": "hubspot#1#2#3#4#5"}),
    "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
    "eventSourceARN": arn, "awsRegion": "us-east-1"}]}, None)
print(json.dumps({"import_handler_s": t1 - t0, "first_healthz_s": t2 - t1, "healthz_status": first.get("statusCode"),
                  "webhook": [webhook.get("statusCode"), webhook.get("body")], "sweep": sweep, "sqs": sqs,
                  "salesforce_client": type(sf).__name__, "zeep_from": zeep.__file__, "boto3_from": sys.modules["boto3"].__file__,
                  "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def smoke(zip_path: Path, venv: Path | None, stage: str) -> None:
    settings = json.loads((ROOT / "zappa_settings.json").read_text())[stage]
    arn = next(e["event_source"]["arn"] for e in settings["events"] if "event_source" in e)
    with tempfile.TemporaryDirectory(prefix="gamefilm-smoke-") as tmp:
        task, runtime = Path(tmp) / "task", Path(tmp) / "runtime"
        runtime.mkdir()
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(task)
        site = next((venv or Path(sys.prefix)).glob("lib/python3.*/site-packages"))
        for name in RUNTIME_PROVIDED:  # stand-in for /var/runtime
            if (site / name).exists():
                (runtime / name).symlink_to(site / name)
        from tests.hubspot_server import HubSpotServer

        config = Path(tmp) / "smoke.toml"
        with HubSpotServer() as hubspot:
            hubspot.add_deal("9001", amount="250000", hs_is_closed="false")
            config.write_text(
                f'[store]\nbackend = "sqlite"\npath = "{tmp}/smoke.db"\n[worker]\nmode = "none"\n'
                '[intake]\npublic_base_url = "https://smoke.example/production"\n'
                '[[tenants]]\nid = "smoke"\ncrm = "hubspot"\nportal_id = "62515"\ndry_run = false\nclient_secret_env = "SMOKE_SECRET"\n'
                f'access_token_env = "SMOKE_TOKEN"\napi_base_url = "{hubspot.url}"\n'
                '[tenants.rules.note_on_change]\nproperties = ["amount"]\n'
            )
            env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{task}{os.pathsep}{runtime}", "GAMEFILM_CONFIG": str(config),
                   "SMOKE_SECRET": "smoke-secret", "SMOKE_TOKEN": "pat-na1-smoke", "AWS_DEFAULT_REGION": "us-east-1",
                   "GAMEFILM_LOG_LEVEL": "WARNING"}  # fmt: skip
            python = str((venv / "bin" / "python") if venv else sys.executable)
            done = subprocess.run([python, "-S", "-B", "-c", _SMOKE, arn], cwd=task, env=env, capture_output=True, text=True)
            writes = [f"{r.method} {r.path}" for r in hubspot.requests if r.method != "GET"]
        if done.returncode != 0:
            print("\nsmoke run FAILED:\n" + done.stdout[-3000:] + done.stderr[-3000:])
            raise SystemExit(1)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print("\nsmoke run of the unpacked zip (python -S -B: package + runtime-provided libraries only, read-only like /var/task):")
        print(f"  import handler.py          {result['import_handler_s'] * 1000:6.0f} ms")
        print(f"  first GET /healthz         {result['first_healthz_s'] * 1000:6.0f} ms  -> HTTP {result['healthz_status']}")
        print(f"  signed HubSpot webhook     -> HTTP {result['webhook'][0]} {result['webhook'][1].strip()}")
        print(f"  scheduled sweep            -> {result['sweep']}")
        print(f"  HubSpot calls by the rule  -> {', '.join(writes) or 'NONE'}")
        print(f"  SQS record (unknown key)   -> {result['sqs']}")
        print(f"  Salesforce client          -> {result['salesforce_client']}; zeep from {result['zeep_from'].replace(str(task), '<task>')}")
        print(f"  boto3 came from            {result['boto3_from'].replace(str(runtime), '<runtime>')}")
        absent = [m for m in ("lxml", "yaml", "packaging", "attr", "isodate") if m in result["loaded"]]
        print(f"  pruned libraries imported  {absent or 'none'}")
        if result["webhook"][0] != 200 or result["sweep"].get("done") != 1 or not writes or absent:
            print("smoke run FAILED: the webhook, the rule's HubSpot write or the pruning did not behave")
            raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, help="measure this zip instead of building one")
    parser.add_argument("--venv", type=Path, help="reuse this deploy virtualenv (runtime deps + zappa only)")
    parser.add_argument("--stage", default="production")
    parser.add_argument("--no-smoke", action="store_true", help="skip running the unpacked zip")
    parser.add_argument("--keep", type=Path, help="copy the built zip here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gamefilm-package-") as work:
        venv = args.venv.resolve() if args.venv else None
        if args.zip:
            zip_path = args.zip.resolve()
        else:
            zip_path, venv = build(args.stage, Path(work), venv)
        report(zip_path, measure(zip_path))
        if args.keep and not args.zip:
            args.keep.write_bytes(zip_path.read_bytes())
        if not args.no_smoke:
            smoke(zip_path, venv, args.stage)


if __name__ == "__main__":
    main()
