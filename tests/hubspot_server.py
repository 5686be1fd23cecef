"""A fake HubSpot API on 127.0.0.1 for tests that drive the real `hubspot-api-client`.

Point the SDK at it with `hubspot.HubSpot(access_token="t", host=server.url)`, or build the
adapter with `HubSpotGateway("t", host=server.url, sleep=..., clock=...)`:

    server.add_deal("101", amount="250000", hs_is_closed="false")
    server.respond("POST", "/crm/v3/objects/deals/batch/read", status=429,
                   headers={"Retry-After": "2"}, body=rate_limited())  # the next request only
    ...run the code under test...
    server.requests_to("POST", "/crm/v3/objects/deals/batch/update")[0].body

API (all state is public and may be mutated by a test):
- `hubspot_server` pytest fixture (import it into a test module or conftest.py), or
  `with HubSpotServer() as server:`; `server.url`.
- `server.requests`: every `Request(method, path, query, headers, body)` in order
  (lower-case header names; body parsed from JSON or form); `requests_to(method, path)`.
- `respond(method, path, status=, body=, headers=, times=1)`: canned replies, served first,
  in order, one per matching request. `route(method, path, handler)`: `handler(request)`
  answers every matching request and may delegate to `server.default(request)`.
- Portal data: `add_deal`, `add_contact`, `add_object`, `associate`, `add_owner`;
  `objects`, `associations`, `owners`, `properties`, `groups` (property groups), `scopes`,
  `association_labels` ((from, to) -> the labels API's definitions; a pair without any has no
  association type).
- Faults: `fault(method, path, kind, times=1)` with kind in `FAULTS`: applied-then-500,
  applied-then-drop, refused-500, 429, hang (> `hang_seconds`); served before canned replies.
- History: every write adds a version per property (`history`, stamped by `clock`);
  batch read answers `propertiesWithHistory` newest first; `set_property` is a person's edit.
- Load: `latency` delays every reply; `enforce_limit(requests, window)` answers 429 beyond a
  rolling limit (`rejected` counts them) and sends live X-HubSpot-RateLimit-* headers.
- Auth: `accepted_tokens` (None accepts any bearer token; otherwise others get 401),
  `issued_token` (what POST /oauth/v1/token returns; it is then accepted).
- `rate_limit_headers` sent with every reply; `rate_limited(policy)` and `error_reply()`
  build HubSpot's 429 and error bodies.

Defaults behave like HubSpot: batch read/update answer 200, or 207 with OBJECT_NOT_FOUND
errors for unknown ids (`context.ids`); batch create answers 201 echoing each input's
`objectWriteTraceId` and stores the associations, or 400 VALIDATION_ERROR for the whole batch
(nothing created) when an input repeats a value of a unique-value property (single create too); batch upsert (on a property with unique
values: updates the record holding the value, else creates it; `new` says which; 400 for
duplicate ids in one batch); search (EQ / IN / HAS_PROPERTY / GT(E) / LT(E) filters, `hs_object_id` too, ANDed in a group, groups
ORed, at most 5 groups, 6 filters a group, 18 in all and 100 IN values (else 400); 200 per page with `after`, `total`); associations v4 batch read and batch create (207 for
records that do not exist or a type the pair does not define; an existing association is kept
once), association labels; owners (paged), properties (calls carry `gamefilm_recording_id`,
unique) and groups (list, create with 409 for an existing name, archive with 204), OAuth token
refresh and token metadata; unknown paths answer 404.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import parse_qs, urlsplit

import pytest

from integration.gateway.hubspot.doctor import REQUIRED_SCOPES

TIMESTAMP = "2026-11-20T10:00:00.000Z"
OBJECT_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-27": "tasks", "0-48": "calls", "0-46": "notes"}
TYPE_IDS = {name: type_id for type_id, name in OBJECT_TYPE_IDS.items()}
# HUBSPOT_DEFINED association type id -> target object (call/note/task -> deal/contact)
ASSOCIATION_TARGETS = {206: "deals", 214: "deals", 216: "deals", 194: "contacts", 202: "contacts", 204: "contacts"}
# The labels API's plain (unlabeled) HUBSPOT_DEFINED definitions of a portal, per object pair.
DEFAULT_LABELS = {
    ("calls", "deals"): 206, ("calls", "contacts"): 194, ("tasks", "deals"): 216, ("tasks", "contacts"): 204,
    ("notes", "deals"): 214, ("contacts", "deals"): 4, ("companies", "deals"): 342, ("contacts", "companies"): 279,
}  # fmt: skip
# A portal that granted the app every scope it asks for (the doctor's list) plus `oauth`.
DEFAULT_SCOPES = ("oauth", *REQUIRED_SCOPES)


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; `headers` keys are lower-case."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # parsed JSON, a dict of form fields, or None


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without an answer


FAULTS = ("applied-then-500", "applied-then-drop", "refused-500", "429", "hang")


Handler = Callable[[Request], Reply]


class HubSpotServer:
    """The fake portal. Mutate `objects`, `associations`, `owners`, `properties` freely."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.objects: dict[str, dict[str, dict[str, str]]] = {}  # type -> id -> properties
        self.associations: dict[tuple[str, str], dict[str, list[str]]] = {}  # (from, to) -> id -> ids
        self.owners: list[dict[str, Any]] = []
        self.properties: dict[str, dict[str, dict[str, Any]]] = {
            "deals": {"hs_all_collaborator_owner_ids": _property("hs_all_collaborator_owner_ids", "enumeration", "checkbox")},
            "calls": {"gamefilm_recording_id": _property("gamefilm_recording_id", "string", "text", {"groupName": "gamefilm", "hasUniqueValue": True})},
        }
        self.association_labels: dict[tuple[str, str], list[dict[str, Any]]] = {
            pair: [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}] for pair, type_id in DEFAULT_LABELS.items()
        }
        self.groups: dict[str, dict[str, dict[str, Any]]] = {}  # type -> name -> property group
        self.scopes: list[str] = list(DEFAULT_SCOPES)
        self.pipelines: dict[str, str] = {"default": "Sales Pipeline"}  # deal pipelines: id -> label
        self.accepted_tokens: set[str] | None = None  # None: any bearer token works
        self.issued_token = "refreshed-access-token"  # what POST /oauth/v1/token hands out
        self.rate_limit_headers = {"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "189", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
        self.history: dict[tuple[str, str, str], list[dict[str, Any]]] = {}  # (type, id, property) -> versions, oldest first
        self.clock: Callable[[], float] = time.time  # stamps history versions
        self.unindexed: set[str] = set()  # record ids the search does not find yet (HubSpot's indexing lag)
        self.hang_seconds = 1.0  # how long a "hang" fault waits before answering
        self.latency = 0.0  # seconds every reply waits (a stand-in for the network and HubSpot)
        self.limit: tuple[int, float] | None = None  # (requests, window seconds) enforced with 429s
        self.rejected = 0  # requests answered 429 by the enforced limit
        self._window: list[float] = []
        self._faults: dict[tuple[str, str], list[str]] = {}
        self._queued: dict[tuple[str, str], list[Reply]] = {}
        self._routes: dict[tuple[str, str], Handler] = {}
        self._ids = itertools.count(9001)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> "HubSpotServer":
        self._httpd = _Server(("127.0.0.1", 0), _handler_class(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), name="fake-hubspot", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread:
            self._thread.join()

    def __enter__(self) -> "HubSpotServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ---- scripting ------------------------------------------------------------------

    def respond(self, method: str, path: str, *, status: int = 200, body: Any = None, headers: Mapping[str, str] | None = None, times: int = 1) -> None:
        """Queue a canned reply for the next `times` requests to exactly this method and path."""
        with self._lock:
            self._queued.setdefault((method.upper(), path), []).extend([Reply(status, body, dict(headers or {}))] * times)

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Answer every request to this method and path with `handler(request)`."""
        with self._lock:
            self._routes[(method.upper(), path)] = handler

    def fault(self, method: str, path: str, kind: str, times: int = 1) -> None:
        """Fail the next `times` requests to this method and path: `applied-then-500` and
        `applied-then-drop` (the request takes effect, then a 500 / the connection closes
        without an answer), `refused-500` (nothing applied), `429` (Retry-After: 1, nothing
        applied), `hang` (applied, answered after `hang_seconds`)."""
        assert kind in FAULTS, kind
        with self._lock:
            self._faults.setdefault((method.upper(), path), []).extend([kind] * times)

    def set_property(self, object_type: str, object_id: str, name: str, value: str, source: str = "CRM_UI") -> None:
        """A person's edit: the value changes and its history gets a version."""
        with self._lock:
            self.objects[object_type][str(object_id)][name] = value
            self._record_history(object_type, str(object_id), {name: value}, source)

    def requests_to(self, method: str | None = None, path: str | None = None) -> list[Request]:
        return [r for r in self.requests if (method is None or r.method == method.upper()) and (path is None or r.path == path)]

    def add_object(self, object_type: str, object_id: str, **properties: Any) -> None:
        self.objects.setdefault(object_type, {})[str(object_id)] = {k: str(v) for k, v in properties.items()}
        self._record_history(object_type, str(object_id), self.objects[object_type][str(object_id)], "CRM_UI")

    def add_deal(self, deal_id: str, **properties: Any) -> None:
        self.add_object("deals", deal_id, **properties)

    def add_contact(self, contact_id: str, email: str, **properties: Any) -> None:
        self.add_object("contacts", contact_id, email=email, **properties)

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Both directions, as HubSpot stores them; an existing association is kept once."""
        for (a, a_id), (b, b_id) in (((from_type, from_id), (to_type, to_id)), ((to_type, to_id), (from_type, from_id))):
            linked = self.associations.setdefault((a, b), {}).setdefault(str(a_id), [])
            if str(b_id) not in linked:
                linked.append(str(b_id))

    def add_owner(self, owner_id: str, email: str, first_name: str = "", last_name: str = "", archived: bool = False) -> None:
        self.owners.append({"id": str(owner_id), "email": email, "firstName": first_name, "lastName": last_name, "archived": archived})

    # ---- dispatch -------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        reply = self._handle(request)
        limit_headers = self._limit_headers()
        if self.latency or limit_headers:
            reply = Reply(reply.status, reply.body, {**limit_headers, **reply.headers}, reply.delay + self.latency, reply.drop)
        return reply

    def enforce_limit(self, requests: int, window: float = 10.0) -> None:
        """Answer 429 (TEN_SECONDLY_ROLLING) beyond `requests` per rolling `window`, with the
        X-HubSpot-RateLimit-* headers counting down on every reply, as HubSpot does."""
        self.limit = (requests, window)

    def _limit_headers(self) -> dict[str, str]:
        if self.limit is None:
            return {}
        with self._lock:
            used = len(self._window)
        return {"X-HubSpot-RateLimit-Max": str(self.limit[0]), "X-HubSpot-RateLimit-Remaining": str(max(0, self.limit[0] - used)),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.limit[1] * 1000))}  # fmt: skip

    def _over_limit(self) -> bool:
        """Called under the lock: counts the request in the rolling window unless it is over."""
        if self.limit is None:
            return False
        now = time.monotonic()
        self._window = [t for t in self._window if t > now - self.limit[1]]
        if len(self._window) >= self.limit[0]:
            self.rejected += 1
            return True
        self._window.append(now)
        return False

    def _handle(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            key = (request.method, request.path)
            if self._over_limit():
                return Reply(429, rate_limited())
            fault = self._faults[key].pop(0) if self._faults.get(key) else None
            if fault is None and self._queued.get(key):
                return self._queued[key].pop(0)
            handler = self._routes.get(key)
        if fault == "refused-500":
            return error_reply(500, "INTERNAL_ERROR", "Internal error, nothing was changed")
        if fault == "429":
            return Reply(429, rate_limited(), {"Retry-After": "1"})
        reply = handler(request) if handler else self.default(request)
        if fault == "applied-then-500":
            return error_reply(500, "INTERNAL_ERROR", "Internal error")
        if fault == "applied-then-drop":
            return Reply(drop=True)
        if fault == "hang":
            return Reply(reply.status, reply.body, reply.headers, delay=self.hang_seconds)
        return reply

    def _record_history(self, object_type: str, object_id: str, properties: Mapping[str, Any], source: str) -> None:
        """Each write adds a version per property, stamped strictly after the previous one."""
        for name, value in properties.items():
            versions = self.history.setdefault((object_type, object_id, name), [])
            at = self.clock()
            if versions and at <= versions[-1]["at"]:
                at = versions[-1]["at"] + 0.001
            versions.append({"value": str(value), "at": at, "sourceType": source})

    def _history_body(self, object_type: str, object_id: str, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        """HubSpot's propertiesWithHistory: newest version first."""
        return {
            name: [{"value": v["value"], "timestamp": _iso(v["at"]), "sourceType": v["sourceType"]} for v in reversed(self.history.get((object_type, object_id, name), []))]
            for name in names
        }

    def default(self, request: Request) -> Reply:
        """What the fake portal answers without scripting; route handlers may delegate here."""
        if not self._authorized(request):
            return error_reply(401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication.")
        for method, pattern, default in _DEFAULTS:
            match = re.fullmatch(pattern, request.path)
            if match and method == request.method:
                with self._lock:
                    return default(self, request, *match.groups())
        return error_reply(404, "OBJECT_NOT_FOUND", f"No route for {request.method} {request.path}")

    def _authorized(self, request: Request) -> bool:
        if request.path == "/oauth/v1/token" or self.accepted_tokens is None:
            return True
        return request.headers.get("authorization", "").removeprefix("Bearer ") in self.accepted_tokens

    # ---- default HubSpot behaviour -------------------------------------------------

    def _batch_read(self, request: Request, object_type: str) -> Reply:
        store = self.objects.get(_type(object_type), {})
        id_property = request.body.get("idProperty")
        wanted = request.body.get("properties") or []
        results, missing = [], []
        for item in request.body.get("inputs", []):
            found = _find(store, item["id"], id_property)
            if found is None:
                missing.append(item["id"])
            else:
                object_id, props = found
                record = _record(object_id, {k: props.get(k) for k in wanted} | {"hs_object_id": object_id})
                if request.body.get("propertiesWithHistory"):
                    record["propertiesWithHistory"] = self._history_body(_type(object_type), object_id, request.body["propertiesWithHistory"])
                results.append(record)
        return _batch(results, _not_found(object_type, missing))

    def _batch_update(self, request: Request, object_type: str) -> Reply:
        store = self.objects.get(_type(object_type), {})
        results, missing = [], []
        for item in request.body.get("inputs", []):
            if item["id"] not in store:
                missing.append(item["id"])
                continue
            store[item["id"]].update(item["properties"])
            self._record_history(_type(object_type), item["id"], item["properties"], "INTEGRATION")
            results.append(_record(item["id"], dict(store[item["id"]])))
        return _batch(results, _not_found(object_type, missing))

    def _batch_create(self, request: Request, object_type: str) -> Reply:
        inputs = request.body.get("inputs", [])
        taken = self._unique_taken(_type(object_type), inputs)
        if taken:
            return taken
        results = [self._create(_type(object_type), item) for item in inputs]
        return Reply(201, _batch_body(results, []))

    def _create_one(self, request: Request, object_type: str) -> Reply:
        taken = self._unique_taken(_type(object_type), [request.body])
        if taken:
            return taken
        record = self._create(_type(object_type), request.body)
        record.pop("objectWriteTraceId", None)
        return Reply(201, record)

    def _create(self, object_type: str, item: Mapping[str, Any]) -> dict[str, Any]:
        object_id = str(next(self._ids))
        self.objects.setdefault(object_type, {})[object_id] = dict(item.get("properties", {}))
        self._record_history(object_type, object_id, item.get("properties", {}), "INTEGRATION")
        for association in item.get("associations", []):
            to_type = self._association_target(object_type, association["types"][0]["associationTypeId"])
            self.associate(object_type, object_id, to_type, association["to"]["id"])
        record = _record(object_id, dict(item.get("properties", {})))
        if "objectWriteTraceId" in item:
            record["objectWriteTraceId"] = item["objectWriteTraceId"]
        return record

    def _unique_taken(self, object_type: str, inputs: list[Mapping[str, Any]]) -> Reply | None:
        """HubSpot refuses a create that repeats a value of a unique-value property (held by a
        record, or by two inputs of the batch): 400 VALIDATION_ERROR for the whole batch,
        nothing created."""
        store = self.objects.get(object_type, {})
        for name, definition in self.properties.get(object_type, {}).items():
            if not definition.get("hasUniqueValue"):
                continue
            seen = {str(p.get(name) or "").lower() for p in store.values()} - {""}
            for item in inputs:
                value = str((item.get("properties") or {}).get(name) or "").lower()
                if value and value in seen:
                    return error_reply(400, "VALIDATION_ERROR", f"Property values were not valid: {name} already has that value")
                seen.add(value)
        return None

    def _association_target(self, object_type: str, type_id: int) -> str:
        defined = [to for (source, to), labels in self.association_labels.items() if source == object_type and any(label["typeId"] == type_id for label in labels)]
        return defined[0] if defined else ASSOCIATION_TARGETS.get(type_id, "deals")

    def _batch_upsert(self, request: Request, object_type: str) -> Reply:
        store = self.objects.setdefault(_type(object_type), {})
        inputs = request.body.get("inputs", [])
        keys = [(item["idProperty"], str(item["id"])) for item in inputs]
        if len(set(keys)) < len(keys):
            return error_reply(400, "VALIDATION_ERROR", "Duplicate IDs found in batch input")
        results = []
        for item in inputs:
            definition = self.properties.get(_type(object_type), {}).get(item["idProperty"])
            if not definition or not definition.get("hasUniqueValue"):
                return error_reply(400, "VALIDATION_ERROR", f"{item['idProperty']} is not a unique identifier property for {object_type}")
            found = _find(store, str(item["id"]), item["idProperty"])
            properties = {**item.get("properties", {}), item["idProperty"]: str(item["id"])}
            if found is None:
                record = self._create(_type(object_type), {"properties": properties})
            else:
                store[found[0]].update(properties)
                self._record_history(_type(object_type), found[0], properties, "INTEGRATION")
                record = _record(found[0], dict(store[found[0]]))
            record.pop("objectWriteTraceId", None)
            record["new"] = found is None
            if "objectWriteTraceId" in item:
                record["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(record)
        return Reply(200, _batch_body(results, []))

    def _search(self, request: Request, object_type: str) -> Reply:
        store = self.objects.get(_type(object_type), {})
        groups = request.body.get("filterGroups") or [{"filters": []}]
        wanted = request.body.get("properties") or []
        too_many = len(groups) > 5 or any(len(g.get("filters", [])) > 6 for g in groups) or sum(len(g.get("filters", [])) for g in groups) > 18
        if too_many or any(len(f.get("values") or []) > 100 for g in groups for f in g.get("filters", [])):
            return error_reply(400, "VALIDATION_ERROR", "at most 5 filter groups, 6 filters a group, 18 filters in all and 100 values per IN filter")
        hits = [(i, p) for i, p in store.items() if i not in self.unindexed and any(all(_matches({**p, "hs_object_id": i}, f) for f in g.get("filters", [])) for g in groups)]
        start, limit = int(request.body.get("after") or 0), int(request.body.get("limit") or 10)
        if limit > 200:
            return error_reply(400, "VALIDATION_ERROR", "limit must be at most 200")
        page = [_record(i, {k: p.get(k) for k in wanted} | {"hs_object_id": i}) for i, p in hits[start : start + limit]]
        body: dict[str, Any] = {"total": len(hits), "results": page}
        if start + limit < len(hits):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return Reply(200, body)

    def _labels(self, request: Request, from_type: str, to_type: str) -> Reply:
        return Reply(200, {"results": self.association_labels.get((_type(from_type), _type(to_type)), [])})

    def _associations_create(self, request: Request, from_type: str, to_type: str) -> Reply:
        pair = (_type(from_type), _type(to_type))
        defined = {label["typeId"] for label in self.association_labels.get(pair, [])}
        results, errors = [], []
        for item in request.body.get("inputs", []):
            from_id, to_id = str(item["from"]["id"]), str(item["to"]["id"])
            types = [t["associationTypeId"] for t in item.get("types", [])]
            missing = [i for i, t in ((from_id, pair[0]), (to_id, pair[1])) if i not in self.objects.get(t, {})]
            if missing:
                errors.append({"status": "error", "category": "VALIDATION_ERROR", "message": f"Could not find objects {', '.join(missing)}", "context": {"fromObjectId": [from_id]}})
                continue
            if not types or any(t not in defined for t in types):
                errors.append({"status": "error", "category": "VALIDATION_ERROR", "message": f"Invalid association type for {pair[0]} to {pair[1]}", "context": {"fromObjectId": [from_id]}})
                continue
            self.associate(pair[0], from_id, pair[1], to_id)
            results.append({"fromObjectTypeId": TYPE_IDS.get(pair[0], pair[0]), "fromObjectId": int(from_id), "toObjectTypeId": TYPE_IDS.get(pair[1], pair[1]), "toObjectId": int(to_id), "labels": []})
        return Reply(207 if errors else 201, _batch_body(results, errors))

    def _associations_read(self, request: Request, from_type: str, to_type: str) -> Reply:
        links = self.associations.get((_type(from_type), _type(to_type)), {})
        results = [
            {
                "from": {"id": item["id"]},
                "to": [{"toObjectId": int(to), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 4, "label": None}]} for to in links[item["id"]]],
            }
            for item in request.body.get("inputs", [])
            if links.get(item["id"])
        ]
        absent = [item["id"] for item in request.body.get("inputs", []) if not links.get(item["id"])]
        errors = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "No associations found", "context": {"fromObjectId": absent}}] if absent else []
        return _batch(results, errors)

    def _pipelines(self, request: Request) -> Reply:
        stage = {"id": "appointmentscheduled", "label": "Appointment Scheduled", "displayOrder": 0, "metadata": {"probability": "0.2"},
                 "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP, "archived": False}  # fmt: skip
        results = [{"id": pid, "label": label, "displayOrder": n, "stages": [stage], "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP, "archived": False}
                   for n, (pid, label) in enumerate(self.pipelines.items())]  # fmt: skip
        return Reply(200, {"results": results})

    def _owners_page(self, request: Request) -> Reply:
        archived = request.query.get("archived", ["false"])[0].lower() == "true"
        limit = int(request.query.get("limit", ["100"])[0])
        start = int(request.query.get("after", ["0"])[0])
        matching = [o for o in self.owners if o["archived"] == archived]
        page = [dict(o, type="PERSON", userId=int(o["id"]) + 1, createdAt=TIMESTAMP, updatedAt=TIMESTAMP, teams=[]) for o in matching[start : start + limit]]
        body: dict[str, Any] = {"results": page}
        if start + limit < len(matching):
            body["paging"] = {"next": {"after": str(start + limit), "link": "?after=" + str(start + limit)}}
        return Reply(200, body)

    def _property_get(self, request: Request, object_type: str, name: str) -> Reply:
        found = self.properties.get(_type(object_type), {}).get(name)
        return Reply(200, found) if found else error_reply(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for object type {object_type}")

    def _properties_list(self, request: Request, object_type: str) -> Reply:
        return Reply(200, {"results": list(self.properties.get(_type(object_type), {}).values())})

    def _property_create(self, request: Request, object_type: str) -> Reply:
        existing = self.properties.setdefault(_type(object_type), {})
        name = request.body["name"]
        if name in existing:
            return error_reply(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.")
        existing[name] = _property(name, request.body["type"], request.body["fieldType"], request.body)
        return Reply(201, existing[name])

    def _group_create(self, request: Request, object_type: str) -> Reply:
        existing = self.groups.setdefault(_type(object_type), {})
        name = request.body["name"]
        if name in existing:
            return error_reply(409, "OBJECT_ALREADY_EXISTS", f"A property group named '{name}' already exists.")
        existing[name] = {"name": name, "label": request.body.get("label", ""), "displayOrder": request.body.get("displayOrder", -1), "archived": False}
        return Reply(201, existing[name])

    def _groups_list(self, request: Request, object_type: str) -> Reply:
        return Reply(200, {"results": list(self.groups.get(_type(object_type), {}).values())})

    def _group_archive(self, request: Request, object_type: str, name: str) -> Reply:
        if self.groups.get(_type(object_type), {}).pop(name, None) is None:
            return error_reply(404, "OBJECT_NOT_FOUND", f"Unable to find property group {name}")
        return Reply(204)

    def _property_archive(self, request: Request, object_type: str, name: str) -> Reply:
        if self.properties.get(_type(object_type), {}).pop(name, None) is None:
            return error_reply(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for object type {object_type}")
        return Reply(204)

    def _token(self, request: Request) -> Reply:
        if request.body.get("grant_type") != "refresh_token" or not request.body.get("refresh_token"):
            return Reply(400, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token", "correlationId": "c0ffee"})
        if self.accepted_tokens is not None:
            self.accepted_tokens.add(self.issued_token)
        return Reply(200, {"token_type": "bearer", "refresh_token": request.body["refresh_token"], "access_token": self.issued_token, "expires_in": 1800, "hub_id": 62515, "scopes": self.scopes})

    def _oauth_token_info(self, request: Request, token: str) -> Reply:
        return Reply(200, {"token": token, "user": "admin@example.com", "hub_domain": "example.com", "scopes": self.scopes, "hub_id": 62515, "app_id": 456789, "expires_in": 1700, "user_id": 123, "token_type": "access"})

    def _private_app_token_info(self, request: Request) -> Reply:
        return Reply(200, {"userId": 123, "hubId": 62515, "appId": 456789, "scopes": self.scopes})


_DEFAULTS: list[tuple[str, str, Callable[..., Reply]]] = [
    ("POST", r"/crm/v3/objects/([^/]+)/batch/read", HubSpotServer._batch_read),
    ("POST", r"/crm/v3/objects/([^/]+)/batch/update", HubSpotServer._batch_update),
    ("POST", r"/crm/v3/objects/([^/]+)/batch/create", HubSpotServer._batch_create),
    ("POST", r"/crm/v3/objects/([^/]+)/batch/upsert", HubSpotServer._batch_upsert),
    ("POST", r"/crm/v3/objects/([^/]+)/search", HubSpotServer._search),
    ("POST", r"/crm/v3/objects/([^/]+)", HubSpotServer._create_one),
    ("POST", r"/crm/v4/associations/([^/]+)/([^/]+)/batch/read", HubSpotServer._associations_read),
    ("POST", r"/crm/v4/associations/([^/]+)/([^/]+)/batch/create", HubSpotServer._associations_create),
    ("GET", r"/crm/v4/associations/([^/]+)/([^/]+)/labels", HubSpotServer._labels),
    ("GET", r"/crm/v3/owners/?", HubSpotServer._owners_page),
    ("GET", r"/crm/v3/pipelines/deals", HubSpotServer._pipelines),
    ("GET", r"/crm/v3/properties/([^/]+)/groups", HubSpotServer._groups_list),
    ("DELETE", r"/crm/v3/properties/([^/]+)/groups/([^/]+)", HubSpotServer._group_archive),
    ("DELETE", r"/crm/v3/properties/([^/]+)/([^/]+)", HubSpotServer._property_archive),
    ("GET", r"/crm/v3/properties/([^/]+)/([^/]+)", HubSpotServer._property_get),
    ("GET", r"/crm/v3/properties/([^/]+)", HubSpotServer._properties_list),
    ("POST", r"/crm/v3/properties/([^/]+)/groups", HubSpotServer._group_create),
    ("POST", r"/crm/v3/properties/([^/]+)", HubSpotServer._property_create),
    ("POST", r"/oauth/v1/token", HubSpotServer._token),
    ("GET", r"/oauth/v1/access-tokens/([^/]+)", HubSpotServer._oauth_token_info),
    ("POST", r"/oauth/v2/private-apps/get/access-token-info", HubSpotServer._private_app_token_info),
]


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connects from several worker threads (1 s SYN retry)


def _handler_class(server: HubSpotServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Request(self.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}, _parse(raw, self.headers.get("Content-Type", "")))
            reply = server.handle(request)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True
                return
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                for name, value in {**server.rate_limit_headers, **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (read timeout)
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return _Handler


def _parse(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "x-www-form-urlencoded" in content_type:
        return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    return json.loads(raw)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _type(object_type: str) -> str:
    return OBJECT_TYPE_IDS.get(object_type, object_type)


def _find(store: Mapping[str, Mapping[str, str]], key: str, id_property: str | None) -> tuple[str, Mapping[str, str]] | None:
    if not id_property or id_property == "hs_object_id":
        return (key, store[key]) if key in store else None
    return next(((i, p) for i, p in store.items() if (p.get(id_property) or "").lower() == key.lower()), None)


def _matches(properties: Mapping[str, Any], f: Mapping[str, Any]) -> bool:
    """EQ and IN on string values, compared lower-cased; HAS_PROPERTY: any non-empty value;
    GT/GTE/LT/LTE on numbers and datetimes (epoch ms or ISO 8601; an empty value never matches)."""
    if f["operator"] == "HAS_PROPERTY":
        return properties.get(f["propertyName"]) not in (None, "")
    if f["operator"] in _ORDERS:
        have, bound = _number(properties.get(f["propertyName"])), _number(f.get("value"))
        return have is not None and bound is not None and _ORDERS[f["operator"]](have, bound)
    value = str(properties.get(f["propertyName"]) or "").lower()
    if f["operator"] == "EQ":
        return value == str(f.get("value", "")).lower()
    if f["operator"] == "IN":
        return value in {str(v).lower() for v in f.get("values", [])}
    raise AssertionError(f"the fake search has no operator {f['operator']}")


_ORDERS: dict[str, Callable[[float, float], bool]] = {"GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b, "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b}


def _number(value: Any) -> float | None:
    """A number, or a datetime as epoch ms (HubSpot filters datetimes in epoch ms)."""
    text = str(value or "").strip()
    try:
        return float(text) if text.lstrip("-").replace(".", "", 1).isdigit() else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


def _record(object_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": object_id, "properties": dict(properties), "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP, "archived": False}


def _not_found(object_type: str, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    label = _type(object_type).upper().rstrip("S")
    return [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": f"Could not get some {label} objects, they may be deleted or not exist. Check that ids are valid.", "context": {"ids": ids}}]


def _batch_body(results: list[Any], errors: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": TIMESTAMP, "completedAt": TIMESTAMP}
    if errors:
        body |= {"numErrors": len(errors), "errors": errors}
    return body


def _batch(results: list[Any], errors: list[dict[str, Any]]) -> Reply:
    return Reply(207 if errors else 200, _batch_body(results, errors))


def error_reply(status: int, category: str, message: str) -> Reply:
    """HubSpot's error body: {"status": "error", "message", "correlationId", "category"}."""
    return Reply(status, {"status": "error", "message": message, "correlationId": "4f1c3b6e-0000-4000-8000-000000000000", "category": category})


def _property(name: str, type_: str, field_type: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "label": (extra or {}).get("label", name),
        "description": (extra or {}).get("description", ""),
        "groupName": (extra or {}).get("groupName", "dealinformation"),
        "type": type_,
        "fieldType": field_type,
        "options": (extra or {}).get("options", []),
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": bool((extra or {}).get("hasUniqueValue", False)),
        "hidden": False,
        "formField": False,
        "createdAt": TIMESTAMP,
        "updatedAt": TIMESTAMP,
        "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
    }


def rate_limited(policy: str = "TEN_SECONDLY_ROLLING") -> dict[str, Any]:
    """HubSpot's documented 429 body; `policy="DAILY"` for the daily allowance."""
    limit = "daily" if policy == "DAILY" else policy.lower()
    return {"status": "error", "message": f"You have reached your {limit} limit.", "errorType": "RATE_LIMIT", "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24", "policyName": policy, "requestId": "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd"}


@pytest.fixture
def hubspot_server() -> Iterator[HubSpotServer]:
    """A started fake HubSpot; stopped after the test."""
    with HubSpotServer() as server:
        yield server
