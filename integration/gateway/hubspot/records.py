"""The batch endpoints every HubSpot operation is built from, 100 records per request:
objects batch read/update/create/upsert, associations v4 batch read (with its paging) and
batch create, and the CRM search (paced apart: HubSpot allows it only a few requests a second)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from integration.gateway.hubspot.mapping import BATCH_SIZE, chunks, errors_by_key, unique
from integration.gateway.hubspot.transport import Transport
from integration.gateway.ratelimit import SlidingWindowLimiter

Link = tuple[str, int]  # (record id, HUBSPOT_DEFINED association type id)
SEARCH_PAGE = 200  # the search API's largest page
IN_VALUES = 100  # values per IN filter, kept at the batch size
SEARCH_GROUPS = 5  # filter groups per search (ORed): 500 values per search request


class Records:
    def __init__(self, transport: Transport, search_limiter: SlidingWindowLimiter | None = None) -> None:
        self.transport = transport
        self.search_limiter = search_limiter

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

    def upsert(self, object_type: str, id_property: str, inputs: Mapping[str, Mapping[str, str]]) -> Any:
        """Batch upsert <=100 records on a unique-value property: unique value -> properties,
        each input traced by its unique value. Idempotent, so resent after ambiguous failures."""
        from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputUpsert, SimplePublicObjectBatchInputUpsert

        body = BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[SimplePublicObjectBatchInputUpsert(id=key, id_property=id_property, properties=dict(p), object_write_trace_id=key) for key, p in inputs.items()]
        )
        return self.transport.sdk("crm.objects.batch_api", "upsert", object_type, body)

    def associate(self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str]], type_id: int) -> dict[str, str]:
        """Associations v4 batch create, 100 pairs per request: (from id, to id) with one
        HUBSPOT_DEFINED type. Creating an existing association changes nothing, so it is
        resent after ambiguous failures. Answers from id -> HubSpot's error for the pairs it refused."""
        from hubspot.crm.associations.v4 import AssociationSpec, BatchInputPublicAssociationMultiPost, PublicAssociationMultiPost, PublicObjectId

        errors: dict[str, str] = {}
        spec = [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)]
        for chunk in chunks(unique_pairs(pairs), BATCH_SIZE):
            body = BatchInputPublicAssociationMultiPost(inputs=[PublicAssociationMultiPost(_from=PublicObjectId(id=f), to=PublicObjectId(id=t), types=spec) for f, t in chunk])
            response = self.transport.sdk("crm.associations.v4.batch_api", "create", from_type, to_type, body)
            done = {str(r.from_object_id) for r in response.results or []}
            errors.update({k: v for k, v in errors_by_key(response, [f for f, _ in chunk]).items() if k not in done or k in _named(response)})
        return errors

    def search(self, object_type: str, filters: Sequence[Mapping[str, Any]], properties: Iterable[str]) -> list[Any]:
        """Every record matching all `filters` (one filter group), 200 per page."""
        return self._search(object_type, [filters], properties)

    def search_in(
        self, object_type: str, property_name: str, values: Sequence[str], properties: Iterable[str], narrow: Sequence[Sequence[Mapping[str, Any]]] = ()
    ) -> list[Any]:
        """Every record whose `property_name` is one of `values`: IN filters of 100 values, five
        groups (ORed) per search, so 500 values and ceil(hits / 200) pages per search.

        `narrow`: alternative filter sets (ORed) a record must also match. Each chunk of 100
        values narrowed takes one group per alternative, so the first chunks of a search are
        narrowed as far as the five groups allow and the rest are not (values whose records
        must come back whatever they hold go last): fewer hits, never more searches."""
        records: list[Any] = []
        for chunk in chunks(unique(values), IN_VALUES * SEARCH_GROUPS):
            parts = list(chunks(chunk, IN_VALUES))
            narrowed = _narrowable(len(parts), len(narrow))
            groups: list[list[Mapping[str, Any]]] = []
            for n, part in enumerate(parts):
                values_in = {"property_name": property_name, "operator": "IN", "values": list(part)}
                groups.extend([[values_in, *alternative] for alternative in narrow] if n < narrowed else [[values_in]])
            records.extend(self._search(object_type, groups, properties))
        return records

    def _search(self, object_type: str, groups: Sequence[Sequence[Mapping[str, Any]]], properties: Iterable[str]) -> list[Any]:
        from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

        filter_groups = [FilterGroup(filters=[Filter(**f) for f in filters]) for filters in groups]
        records: list[Any] = []
        after: str | None = None
        while True:
            request = PublicObjectSearchRequest(filter_groups=filter_groups, properties=list(properties), limit=SEARCH_PAGE, after=after)
            slot = self.search_limiter.acquire() if self.search_limiter else 0.0
            try:
                page = self.transport.sdk("crm.objects.search_api", "do_search", object_type, request)
            finally:
                if self.search_limiter:
                    self.search_limiter.answered(slot)
            records.extend(page.results or [])
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return records


def unique_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((str(f), str(t)) for f, t in pairs))


def _named(response: Any) -> set[str]:
    """Ids the 207 errors name in their context."""
    return {str(v) for e in getattr(response, "errors", None) or [] for values in (e.context or {}).values() for v in values}


def _narrowable(parts: int, alternatives: int) -> int:
    """How many of a search's `parts` (IN chunks) can take one group per alternative while the
    search keeps within HubSpot's five groups (each narrowed part adds `alternatives - 1`)."""
    if alternatives <= 1:
        return parts if alternatives else 0
    return min(parts, (SEARCH_GROUPS - parts) // (alternatives - 1))
