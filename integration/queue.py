"""Production dispatch: intake sends new event keys to SQS; an SQS-triggered Lambda processes.

The queue carries only keys (the events themselves are in DynamoDB), and the consumer
reports failures per record (`batchItemFailures`) so one bad event never fails its batch.
Events that failed and wait for a retry are picked up by the scheduled sweep instead.
"""
from __future__ import annotations

import json
from typing import Any, Sequence


class SqsNotifier:
    def __init__(self, queue_url: str, client: Any = None):
        if not queue_url:
            raise ValueError("worker.mode = 'sqs' needs worker.queue_url or GAMEFILM_QUEUE_URL")
        self.queue_url = queue_url
        self._client = client

    def __call__(self, keys: Sequence[str]) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        for start in range(0, len(keys), 10):  # SendMessageBatch takes at most 10 entries
            chunk = keys[start : start + 10]
            self._client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "MessageBody": json.dumps({"key": k})} for i, k in enumerate(chunk)],
            )


_services: Any = None


def _worker() -> Any:
    """Services built once per Lambda container (config, store client, CRM adapters)."""
    global _services
    if _services is None:
        from integration.app import build_services

        _services = build_services({"worker_mode": "none"})
    return _services.worker


def sqs_handler(event: dict, context: Any) -> dict:
    """Lambda entry point for the SQS event source (see zappa_settings.json).

    Events that fail inside the worker are rescheduled in the store (the sweep retries
    them), so only a record that cannot be read, or whose processing raised, is handed back
    to SQS, and from there to the dead-letter queue after its receive limit.
    """
    keys: dict[str, str] = {}
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        try:
            keys[record["messageId"]] = json.loads(record["body"])["key"]
        except (KeyError, TypeError, ValueError):
            failures.append({"itemIdentifier": record.get("messageId", "")})
    worker = _worker()
    try:
        worker.process(list(keys.values()))
    except Exception:
        for message_id, key in keys.items():  # find the culprit(s) one by one
            try:
                worker.process([key])
            except Exception:
                failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def sweep_handler(event: dict, context: Any) -> dict:
    """Scheduled (every minute): process due retries and events whose worker died."""
    report = _worker().run_due()
    return {"done": len(report.done), "retrying": len(report.retrying), "dead": len(report.dead)}
