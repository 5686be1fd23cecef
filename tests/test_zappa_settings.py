"""zappa_settings.json names real handlers, fits the queue stack, and the SQS entry point works.

No zappa import (it is only in the deploy extra) and no package build: bench/package_size.py
builds and smoke-runs the real zip.
"""
import fnmatch
import importlib
import json
from pathlib import Path

import pytest

from integration import config as config_mod
from integration import queue, samples
from integration.normalize import hubspot_batch
from integration.store.sqlite import SqliteStore
from integration.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = json.loads((ROOT / "zappa_settings.json").read_text())
PRODUCTION = SETTINGS["production"]
QUEUE_STACK = json.loads((ROOT / "infra" / "queue.json").read_text())
POLICY = json.loads((ROOT / "infra" / "lambda_policy.json").read_text())
PORTAL_ID = "62515"


def _function(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _sqs_event():
    return next(e for e in PRODUCTION["events"] if "event_source" in e)


def _excluded(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in PRODUCTION["exclude"])


# --- the settings file ------------------------------------------------------------------------
def test_every_stage_names_importable_handlers():
    for stage in SETTINGS.values():
        assert callable(_function(stage.get("app_function", PRODUCTION["app_function"])))
        for event in stage.get("events", PRODUCTION["events"]):
            assert callable(_function(event["function"])), event["function"]


def test_the_app_function_is_the_lazy_wsgi_callable_and_importing_it_builds_nothing():
    from integration.app import _LazyApp

    app = _function(PRODUCTION["app_function"])
    assert isinstance(app, _LazyApp) and app._app is None


def test_sqs_batches_of_ten_go_to_the_sqs_handler_and_the_sweep_runs_every_minute():
    sqs = _sqs_event()
    assert sqs["function"] == "integration.queue.sqs_handler"
    assert sqs["event_source"]["arn"].startswith("arn:aws:sqs:")
    assert sqs["event_source"]["batch_size"] == 10
    sweep = next(e for e in PRODUCTION["events"] if e["function"] == "integration.queue.sweep_handler")
    assert sweep["expression"] == "rate(1 minute)"


def test_no_secret_values_and_no_request_logging_in_the_settings():
    env = PRODUCTION["aws_environment_variables"]
    assert not any(word in name for name in env for word in ("SECRET", "TOKEN", "PASSWORD", "PRIVATE"))
    assert env["GAMEFILM_SSM_PATH"].startswith("/gamefilm/")
    assert "environment_variables" not in PRODUCTION and "remote_env" not in PRODUCTION
    # Zappa's debug mode logs every raw event (bodies, signatures); DEBUG makes botocore log SSM answers.
    assert PRODUCTION["debug"] is False and PRODUCTION["log_level"] != "DEBUG"
    assert PRODUCTION.get("cloudwatch_data_trace", False) is False


def test_the_config_file_is_bundled_and_when_present_is_a_production_config():
    path = PRODUCTION["aws_environment_variables"]["GAMEFILM_CONFIG"]
    assert not Path(path).is_absolute() and not any(_excluded(part) for part in Path(path).parts)
    if not (ROOT / path).exists():
        pytest.skip(f"{path} is not in the repository yet (see infra/README.md for its contents)")
    cfg = config_mod.load(ROOT / path)
    assert (cfg.store.backend, cfg.worker.mode) == ("dynamodb", "sqs")


def test_the_package_leaves_out_dev_files_and_what_lambda_provides():
    for name in (".venv", ".venv-deploy", "node_modules", "tests", "bench", "var", "boto3", "botocore", "s3transfer"):
        assert _excluded(name), name
    for needed in ("integration", "handlers", "config", "zappa", "flask", "hubspot", "simple_salesforce", "durationpy"):
        assert not _excluded(needed), needed
    assert {"build", "dist"} <= set(PRODUCTION["exclude_glob"])  # stale setuptools copies of the project, top level only


# --- the queue stack and the IAM policy agree with the settings -------------------------------
def test_the_queue_stack_fits_the_function():
    params = QUEUE_STACK["Parameters"]
    assert params["VisibilityTimeoutSeconds"]["Default"] >= 6 * PRODUCTION["timeout_seconds"]
    assert params["MaxReceiveCount"]["Default"] == 5
    assert _sqs_event()["event_source"]["arn"].rsplit(":", 1)[1] == params["QueueName"]["Default"]
    resources = QUEUE_STACK["Resources"]
    assert resources["DeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    assert resources["WorkQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def test_the_policy_grants_what_the_code_calls_on_the_named_resources_only():
    assert PRODUCTION["attach_policy"] == "infra/lambda_policy.json"
    by_sid = {s["Sid"]: s for s in POLICY["Statement"]}
    assert set(by_sid["StateTable"]["Action"]) == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}
    assert any(r.endswith("/index/*") for r in by_sid["StateTable"]["Resource"])
    assert {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= set(by_sid["WorkQueue"]["Action"])
    assert by_sid["WorkQueue"]["Resource"].endswith(":" + QUEUE_STACK["Parameters"]["QueueName"]["Default"])
    assert all(r.split(":parameter", 1)[1].startswith("/gamefilm/") for r in by_sid["Secrets"]["Resource"])
    assert not any("*" == a or a.endswith(":*") for s in POLICY["Statement"] for a in s["Action"])


# --- integration.queue.sqs_handler on a real-format SQS event ----------------------------------
def _record(message_id: str, body: str) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id}==",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000",
                       "SenderId": "AROAEXAMPLE:gamefilm-production", "ApproximateFirstReceiveTimestamp": "1795000000001"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": _sqs_event()["event_source"]["arn"],
        "awsRegion": "us-east-1",
    }  # fmt: skip


@pytest.fixture
def lambda_env(tmp_path, monkeypatch):
    """GAMEFILM_CONFIG pointing at a SQLite, dry-run config, as the Lambda environment would."""
    db = tmp_path / "gamefilm.db"
    path = tmp_path / "gamefilm.toml"
    path.write_text(
        f'[store]\nbackend = "sqlite"\npath = "{db}"\n[worker]\nmode = "none"\n'
        f'[[tenants]]\nid = "acme-hubspot"\ncrm = "hubspot"\nportal_id = "{PORTAL_ID}"\ndry_run = true\n'
        'client_secret_env = "LAMBDA_TEST_HS_SECRET"\n'
        '[tenants.rules.note_on_change]\nproperties = ["amount"]\n'
    )
    monkeypatch.setenv("GAMEFILM_CONFIG", str(path))
    monkeypatch.setenv("LAMBDA_TEST_HS_SECRET", "lambda-test-secret")
    monkeypatch.delenv("GAMEFILM_SSM_PATH", raising=False)
    monkeypatch.setattr(queue, "_services", None)  # a fresh "container" per test
    store = SqliteStore(db)
    yield config_mod.load(path), store
    store.close()


def _stored_keys(cfg, store, deal_ids, amount="150000"):
    events = hubspot_batch(samples.hubspot_events(PORTAL_ID, deal_ids, amount, occurred_at_ms=1_795_000_000_000), cfg).events
    assert all(store.add_events(events, now=1_795_000_000.0))
    return [e.key for e in events]


def test_a_stored_event_named_by_an_sqs_record_is_processed(lambda_env):
    cfg, store = lambda_env
    (key,) = _stored_keys(cfg, store, ["5001"])
    result = queue.sqs_handler({"Records": [_record("m-1", json.dumps({"key": key}))]}, None)
    assert result == {"batchItemFailures": []}
    assert store.get_event(key).status == "done"
    (action,) = store.list_actions(event_key=key)
    assert (action.op, action.rule, action.dry_run, action.status) == ("AddNote", "note_on_change", True, "done")


def test_a_done_key_is_skipped_and_a_key_not_stored_fails_its_message_only(lambda_env):
    cfg, store = lambda_env
    (key,) = _stored_keys(cfg, store, ["5002"])
    records = [_record("m-1", json.dumps({"key": key})), _record("m-2", json.dumps({"key": "hubspot#1#2#3#4#5"}))]
    assert queue.sqs_handler({"Records": records}, None) == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert queue.sqs_handler({"Records": records[:1]}, None) == {"batchItemFailures": []}  # redelivered
    assert len(store.list_actions(event_key=key)) == 1


def test_only_the_record_whose_processing_raises_is_handed_back_to_sqs(lambda_env, monkeypatch):
    cfg, store = lambda_env
    good, poison = _stored_keys(cfg, store, ["5003", "5004"])
    process = Worker.process

    def failing_on_poison(self, keys):
        if poison in keys:
            raise RuntimeError("store unavailable for this key")
        return process(self, keys)

    monkeypatch.setattr(Worker, "process", failing_on_poison)
    records = [_record("m-good", json.dumps({"key": good})), _record("m-poison", json.dumps({"key": poison}))]
    assert queue.sqs_handler({"Records": records}, None) == {"batchItemFailures": [{"itemIdentifier": "m-poison"}]}
    assert store.get_event(good).status == "done"
    assert store.get_event(poison).status == "pending"


def test_a_malformed_message_is_reported_alone(lambda_env):
    cfg, store = lambda_env
    (key,) = _stored_keys(cfg, store, ["5005"])
    records = [_record("m-good", json.dumps({"key": key})), _record("m-bad", "not json")]
    assert queue.sqs_handler({"Records": records}, None) == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
