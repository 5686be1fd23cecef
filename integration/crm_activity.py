"""Which recording-related object a Salesforce notification is about. Pure.

A Salesforce call is a Task with `TaskSubtype = 'Call'`, so a Task notification carrying it is
a call activity
(`CALL_OBJECT`: the worker reads the call and its recording URL); any other Task is a task
(`TASK_OBJECT`: e.g. a review task completed). The outbound message or Flow must include
`TaskSubtype` for this to work; without it a Task is taken for a plain task.
HubSpot needs no such rule: generic webhooks name calls (0-48) and tasks (0-27) by objectTypeId.
"""
from __future__ import annotations

from typing import Any, Mapping

from integration.recordings import CALL_OBJECT, TASK_OBJECT


def salesforce_object_type(sobject: str, values: Mapping[str, Any]) -> str:
    """The Event.object_type of a notification about `sobject` with field `values`."""
    kind = sobject.lower()
    if kind != "task":
        return kind
    subtype = values.get("TaskSubtype")
    return CALL_OBJECT if isinstance(subtype, str) and subtype.strip().lower() == "call" else TASK_OBJECT
