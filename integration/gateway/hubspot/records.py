"""The batch endpoints every HubSpot operation is built from, 100 records per request:
objects batch read/update/create and associations v4 batch read (with its paging)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from integration.gateway.hubspot.mapping import chunks, errors_by_key, unique
from integration.gateway.hubspot.transport import Transport

Link = tuple[str, int]  # (record id, HUBSPOT_DEFINED association type id)


class Records:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def read(self, object_type: str, ids: Sequence[str], properties: Iterable[str], *, id_property: str | None = None, history: Sequence[str] = ()) -> list[Any]:
        """Batch read; ids HubSpot does not find come back as 207 errors and are left out."""
        from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

        records: list[Any] = []
        for chunk in chunks(ids):
            body = BatchReadInputSimplePublicObjectId(
                properties=list(properties), inputs=[SimplePublicObjectId(id=i) for i in chunk], id_property=id_property, properties_with_history=list(history)
            )
            records.extend(self.transport.sdk("crm.objects.batch_api", "read", object_type, body).results or [])
        return records

    def update(self, object_type: str, changes: Mapping[str, Mapping[str, str]]) -> dict[str, str | None]:
        """Batch update ≤100 records (idempotent: resent on ambiguous failures); answers
        record id -> None (ok) or HubSpot's error message."""
        from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput

        if not changes:
            return {}
        body = BatchInputSimplePublicObjectBatchInput(inputs=[SimplePublicObjectBatchInput(id=i, properties=dict(p)) for i, p in changes.items()])
        response = self.transport.sdk("crm.objects.batch_api", "update", object_type, body)
        done = {r.id for r in response.results or []}
        errors = errors_by_key(response, list(changes))
        return {i: errors.get(i) or (None if i in done else "HubSpot returned no result for this record") for i in changes}

    def create(self, object_type: str, inputs: Sequence[tuple[Mapping[str, str], Sequence[Link]]]) -> Any:
        """Batch create ≤100 records with their associations, input i traced as str(i).
        Never resent after an ambiguous failure: the HubSpotError then says `ambiguous`."""
        from hubspot.crm.objects import (
            AssociationSpec,
            BatchInputSimplePublicObjectBatchInputForCreate,
            PublicAssociationsForObject,
            PublicObjectId,
            SimplePublicObjectBatchInputForCreate,
        )

        batch = []
        for trace_id, (properties, links) in enumerate(inputs):
            associations = [
                PublicAssociationsForObject(to=PublicObjectId(id=to), types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)])
                for to, type_id in links
            ]
            batch.append(SimplePublicObjectBatchInputForCreate(properties=dict(properties), associations=associations, object_write_trace_id=str(trace_id)))
        body = BatchInputSimplePublicObjectBatchInputForCreate(inputs=batch)
        return self.transport.sdk("crm.objects.batch_api", "create", object_type, body, idempotent=False)

    def associated_ids(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """from id -> associated ids, every page: ids with more pages are asked again with `after`."""
        from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest, PublicFetchAssociationsBatchRequest

        found: dict[str, list[str]] = {i: [] for i in ids}
        pending: list[tuple[str, str | None]] = [(i, None) for i in unique(ids)]
        while pending:
            chunk, pending = pending[:100], pending[100:]
            body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=i, after=after) for i, after in chunk])
            response = self.transport.sdk("crm.associations.v4.batch_api", "get_page", from_type, to_type, body)
            for result in response.results or []:
                from_id = str(result._from.id)
                found[from_id] = unique([*found.get(from_id, []), *(str(t.to_object_id) for t in result.to or [])])
                after = result.paging.next.after if result.paging and result.paging.next else None
                if after:
                    pending.append((from_id, str(after)))
        return found
