"""HubSpot association type ids, read from the portal instead of hard-coded.

`GET /crm/v4/associations/{from}/{to}/labels` lists the types defined from one object type to
another; the unlabeled HUBSPOT_DEFINED one is the plain association (calls -> deals: 206 on
today's portals). Read once per object pair per gateway (one request each), thread-safe.
A pair HubSpot defines no type for (or refuses with a 4xx) is remembered as unsupported:
callers then fall back (a review task names its call in the body instead).
"""
from __future__ import annotations

import threading
from typing import Any

from integration.gateway import CrmError
from integration.gateway.hubspot.transport import HubSpotError, Transport


class AssociationTypes:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._ids: dict[tuple[str, str], int | None] = {}
        self._lock = threading.Lock()

    def find(self, from_type: str, to_type: str) -> int | None:
        """The plain association type id from one object type to another; None if HubSpot has none.
        Raises HubSpotError when the labels cannot be read (nothing is remembered then)."""
        key = (from_type, to_type)
        with self._lock:
            if key in self._ids:
                return self._ids[key]
        try:
            page = self.transport.sdk("crm.associations.v4.schema.definitions_api", "get_all", from_type, to_type)
            type_id = plain_type(page.results or [])
        except HubSpotError as exc:
            if not 400 <= exc.status < 500 or exc.status in (401, 403, 429):
                raise
            type_id = None
        with self._lock:
            self._ids[key] = type_id
        return type_id

    def require(self, from_type: str, to_type: str) -> int:
        type_id = self.find(from_type, to_type)
        if type_id is None:
            raise CrmError(f"HubSpot defines no association from {from_type} to {to_type} on this portal")
        return type_id


def plain_type(labels: list[Any]) -> int | None:
    """The unlabeled HUBSPOT_DEFINED type, else the first HUBSPOT_DEFINED one (never a
    label a person or another app defined)."""
    defined = [label for label in labels if label.category == "HUBSPOT_DEFINED"]
    for label in defined:
        if not label.label:
            return int(label.type_id)
    return int(defined[0].type_id) if defined else None
