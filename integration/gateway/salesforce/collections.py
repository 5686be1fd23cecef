"""sObject Collections writes: 200 records per API call, `allOrNone: false`, one result per record.

A failure never hides what earlier calls wrote, and never blurs what later ones did not:
the records of the call that failed carry its error (ambiguous if Salesforce may have applied
it), the records after it are "not sent" (safe to send again). Only when the failure covers
the whole batch (the first call failed, and nothing else can be mistaken for written) does
`save` raise, so callers can tell org-wide conditions (no teams, limit reached) apart.
"""
from __future__ import annotations

from typing import Any

from integration.gateway import CrmError
from integration.gateway.salesforce.mapping import Saved, saved_from
from integration.gateway.salesforce.transport import SalesforceTransport

COLLECTION_SIZE = 200  # sObject Collections maximum per request
NOT_SENT = "NOT_SENT"


def save(transport: SalesforceTransport, method: str, records: list[dict[str, Any]], *, path: str = "composite/sobjects", idempotent: bool) -> list[Saved]:
    """Send `records` to `path` in collections of 200; results in order.

    `idempotent`: the request may be resent after an ambiguous failure (updates, team
    members, upserts on an external id); creates are not (their records come back ambiguous).
    """
    results: list[Saved] = []
    for start in range(0, len(records), COLLECTION_SIZE):
        chunk = records[start : start + COLLECTION_SIZE]
        body = {"allOrNone": False, "records": chunk}
        try:
            response = transport.call(path, lambda sf: sf.restful(path, method=method, json=body), idempotent=idempotent)
            if not isinstance(response, list) or len(response) != len(chunk):
                # Unknown what was written: ambiguous, so creates are looked up, not resent.
                raise CrmError(f"Salesforce answered {len(response or [])} results for {len(chunk)} records", ambiguous=True)
        except CrmError as exc:
            if start == 0 and (not exc.ambiguous or len(chunk) == len(records)):
                raise
            code = getattr(exc, "code", "ERROR")
            failed = Saved(id=None, code=code, error=str(exc), retryable=exc.retryable, ambiguous=exc.ambiguous)
            unsent = Saved(id=None, code=NOT_SENT, error=f"not sent: an earlier request of the batch failed ({exc})", retryable=True)
            return results + [failed] * len(chunk) + [unsent] * (len(records) - start - len(chunk))
        results.extend(saved_from(r) for r in response)
    return results


CREATE_ONLY_FIELDS = ("TaskSubtype",)  # settable on create, never on update (Task object reference)
_REFUSED_FIELD_CODES = frozenset({"INVALID_FIELD_FOR_INSERT_UPDATE", "INVALID_FIELD"})


def upsert(transport: SalesforceTransport, records: list[dict[str, Any]], *, path: str) -> list[Saved]:
    """A collections upsert (idempotent). A record that carries a create-only field and finds
    its record already there (a resend after a lost answer) is refused for that field alone:
    it is sent once more without it (the record has it from its create)."""
    saved = save(transport, "PATCH", records, path=path, idempotent=True)
    again = [i for i, s in enumerate(saved) if s.code in _REFUSED_FIELD_CODES and any(f in (s.error or "") for f in CREATE_ONLY_FIELDS if f in records[i])]
    if again:
        trimmed = [{k: v for k, v in records[i].items() if k not in CREATE_ONLY_FIELDS} for i in again]
        for i, result in zip(again, save(transport, "PATCH", trimmed, path=path, idempotent=True)):
            saved[i] = result
    return saved
