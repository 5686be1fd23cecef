"""How intake tells the worker about new events in production: their keys go to SQS (the
events themselves are in the store); the SQS-triggered Lambda (integration.queue) processes."""
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
