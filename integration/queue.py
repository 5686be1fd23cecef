"""The Lambda side of production dispatch: the SQS consumer and the scheduled sweep.

Intake sends new event keys to SQS (integration.notify); the queue carries only keys (the
events themselves are in DynamoDB), and the consumer reports failures per record
(`batchItemFailures`) so one bad event never fails its batch. Events that failed and wait for
a retry are picked up by the scheduled sweep instead.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from integration.events import PROCESSING
from integration.settle import BatchReport

log = logging.getLogger(__name__)


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

    Events that fail inside the worker are settled in the store (retried with backoff by the
    sweep, dead after max_attempts), so their messages succeed. Exactly these messages are
    handed back to SQS (and from there to the dead-letter queue after the receive limit): a
    body that names no key, a key the store does not have, and a key whose processing raised
    or was left unsettled (a store failure, an event that cannot be read).
    """
    keys: dict[str, str] = {}
    failures: list[str] = []
    for record in event.get("Records", []):
        try:
            keys[record["messageId"]] = str(json.loads(record["body"])["key"])
        except (KeyError, TypeError, ValueError):
            failures.append(record.get("messageId", ""))
    if keys:
        try:
            bad = _process(_worker(), list(dict.fromkeys(keys.values())))
        except Exception:  # no worker at all (config, store client): every message comes back
            log.exception("SQS batch: the worker could not be built")
            bad = set(keys.values())
        failures.extend(message_id for message_id, key in keys.items() if key in bad)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def _process(worker: Any, keys: list[str]) -> set[str]:
    """Keys whose message failed. The batch goes in one `process` call; if that raises, each
    key is tried alone so only the culprit(s) come back."""
    try:
        return set(worker.process(keys).missing)
    except Exception:
        log.warning("SQS batch of %d failed as a whole; processing its keys one by one", len(keys))
    bad: set[str] = set()
    for key in keys:
        try:
            bad.update(worker.process([key]).missing)
        except Exception as exc:
            log.warning("SQS record for event %s failed: %s", key, type(exc).__name__)
            bad.add(key)
    for key in set(keys) - bad:  # claimed by the failed batch call and never settled
        stored = _quietly(worker.store.get_event, key)
        if stored is None or stored.status == PROCESSING:
            bad.add(key)
    return bad


def _quietly(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:
        return None


SWEEP_BATCHES = 20  # batches per run at most; the next run (a minute later) goes on
SWEEP_RESERVE_MS = 30_000  # stop taking batches when the Lambda has less time left than this


def sweep_handler(event: dict, context: Any) -> dict:
    """Scheduled (every minute): process due retries and events whose worker died, batch
    after batch while any are due and the invocation has time. Each event is settled on its
    own: a poison event counts attempts and ends dead."""
    worker = _worker()
    try:
        worker.insert_ticks()  # this hour's clock events; their keys make them once per hour
    except Exception:
        log.exception("adding the hourly events failed")
    total = BatchReport()
    for _ in range(SWEEP_BATCHES):
        report = worker.run_due()
        total.merge(report)
        if not (report.done or report.ignored or report.failed):
            break
        if context is not None and context.get_remaining_time_in_millis() < SWEEP_RESERVE_MS:
            break
    return {"done": len(total.done), "retrying": len(total.retrying), "dead": len(total.dead)}
