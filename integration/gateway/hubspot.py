"""HubSpot adapter of the CRM port, on `hubspot-api-client` 12.x (urllib3 underneath).

Every operation goes through batch endpoints, 100 records per request. Each request passes a
client-side limiter, and `_call` retries 429s and 5xx itself (POST included: the SDK's urllib3
retry skips POST) so that every wait goes through the injected `sleep`. A 207 answer is a
success to the SDK: its `errors` are mapped to per-command outcomes here.
The SDK is imported inside methods only, to keep Lambda cold starts short.
"""
from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

from integration.commands import (
    AddCollaborators,
    AddNote,
    Command,
    Contact,
    CreateTask,
    Deal,
    LogCall,
    Outcome,
    UpdateFields,
    User,
)
from integration.config import Tenant
from integration.gateway import CommandHandler, CrmError, CrmGateway, CrmLimitReached, Finding
from integration.gateway.ratelimit import INTERVAL_HEADER, SlidingWindowLimiter

BATCH_SIZE = 100
COLLABORATORS = "hs_all_collaborator_owner_ids"
DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "deal_currency_code",
    "hubspot_owner_id",
    "dealstage",
    "pipeline",
    "hs_is_closed",
    COLLABORATORS,
)
# Calls, tasks and notes are engagements: HubSpot guards them with the contacts scopes.
REQUIRED_SCOPES = (
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.owners.read",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
)
_OBJECT_TYPES = {"deal": "deals", "contact": "contacts", "company": "companies", "task": "tasks", "call": "calls", "note": "notes"}
_TASK_PRIORITY = {"HIGH": "HIGH", "NORMAL": "MEDIUM", "MEDIUM": "MEDIUM", "LOW": "LOW"}
_MAX_BACKOFF = 30.0

T = TypeVar("T")


class HubSpotError(CrmError):
    """A HubSpot API call failed as a whole; `status` and `category` as HubSpot reported them."""

    def __init__(self, message: str, *, status: int, category: str | None = None, retryable: bool = False, retry_after: float | None = None):
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.status = status
        self.category = category


@dataclass(frozen=True)
class OAuthCredentials:
    """What refreshing an OAuth access token takes; `repr` hides the secrets."""

    refresh_token: str = field(repr=False)
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class _Failure:
    """A failed request, read once: status, HubSpot's error body and rate-limit headers.

    Status 0 is a transport failure (no HTTP answer). Its text never includes the URL,
    which for token metadata contains the token."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str]

    @classmethod
    def from_exception(cls, exc: Exception) -> "_Failure | None":
        """None for exceptions that are neither an SDK ApiException nor a urllib3 error."""
        if type(exc).__module__.startswith("urllib3."):
            return cls(0, {"message": f"HubSpot unreachable ({type(exc).__name__})"}, {})
        if not _is_api_exception(exc):
            return None
        raw = getattr(exc, "body", None) or b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        return cls(int(getattr(exc, "status", 0) or 0), body if isinstance(body, dict) else {}, getattr(exc, "headers", None) or {})

    @property
    def daily_limit(self) -> bool:
        return self.status == 429 and str(self.body.get("policyName", "")).upper() == "DAILY"

    @property
    def retryable(self) -> bool:
        return self.status in (0, 429) or self.status >= 500

    def delay(self, attempt: int) -> float:
        """Retry-After, else the server's rate-limit interval on a 429, else exponential backoff."""
        retry_after = _number(self.headers.get("Retry-After"))
        if retry_after is not None:
            return retry_after
        interval_ms = _number(self.headers.get(INTERVAL_HEADER)) if self.status == 429 else None
        if interval_ms is not None:
            return interval_ms / 1000
        return min(_MAX_BACKOFF, 2.0 ** (attempt - 1))

    def message(self) -> str:
        text = self.body.get("message") or f"HTTP {self.status}"
        category = self.body.get("category") or self.body.get("errorType")
        if not self.status:
            return str(text)
        return f"HubSpot {self.status} {category}: {text}" if category else f"HubSpot {self.status}: {text}"


class HubSpotGateway(CrmGateway):
    """The CRM port on one HubSpot portal, through a private app token or OAuth."""

    crm = "hubspot"

    def __init__(
        self,
        access_token: str | None,
        *,
        host: str | None = None,
        oauth: OAuthCredentials | None = None,
        rate_limit_per_10s: int = 100,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not access_token and oauth is None:
            raise CrmError("HubSpot needs an access token or OAuth refresh credentials")
        self._access_token = access_token
        self._host = host
        self._oauth = oauth
        self._max_retries = max_retries
        self._sleep = sleep
        self._wall_clock = wall_clock
        self.limiter = SlidingWindowLimiter(rate_limit_per_10s, 10.0, clock=clock, sleep=sleep)
        self._client: Any = None
        self._apis: dict[str, Any] = {}

    @classmethod
    def from_tenant(cls, tenant: Tenant, environ: Mapping[str, str] | None = None, **options: Any) -> "HubSpotGateway":
        """Build from config; secrets come from the environment variables the tenant names."""
        oauth = None
        if tenant.refresh_token_env:
            envs = (tenant.refresh_token_env, tenant.client_id_env, tenant.client_secret_env)
            refresh_token, client_id, client_secret = (tenant.secret(env, environ) for env in envs)
            if not (refresh_token and client_id and client_secret):
                names = ", ".join(str(env) for env in envs)
                raise CrmError(f"tenant {tenant.id}: OAuth needs the environment variables {names} set")
            oauth = OAuthCredentials(refresh_token, client_id, client_secret)
        token = tenant.secret(tenant.access_token_env, environ)
        if not token and oauth is None:
            raise CrmError(f"tenant {tenant.id}: environment variable {tenant.access_token_env} is not set")
        return cls(token, host=tenant.api_base_url, oauth=oauth, rate_limit_per_10s=tenant.rate_limit_per_10s, **options)

    def close(self) -> None:
        """Drop pooled connections (tests and short-lived CLI runs)."""
        for api in self._apis.values():
            api.api_client.rest_client.pool_manager.clear()
        self._apis.clear()

    # ---- reads -------------------------------------------------------------------------

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        records = self._read_objects("deals", _unique(ids), DEAL_PROPERTIES)
        return {r.id: deal_from_properties(r.id, r.properties or {}) for r in records}

    def read_users(self, ids: Sequence[str]) -> dict[str, User]:
        """Owners by id: list active owners, then archived ones only if some are still missing."""
        wanted = set(_unique(ids))
        users: dict[str, User] = {}
        for archived in (False, True):
            if not wanted - users.keys():
                break
            for owner in self._owners(archived):
                if str(owner.id) in wanted:
                    users[str(owner.id)] = _user(owner)
        return users

    def read_pipelines(self) -> dict[str, str]:
        """Deal pipelines by id (for the doctor: threshold tiers scoped to unknown pipelines)."""
        page = self._sdk("crm.pipelines.pipelines_api", "get_all", "deals")
        return {p.id: p.label for p in page.results or []}

    def find_contacts(self, emails: Sequence[str]) -> dict[str, Contact]:
        wanted = _unique(e.strip().lower() for e in emails if e and e.strip())
        records = self._read_objects("contacts", wanted, ("email", "firstname", "lastname"), id_property="email")
        wanted_set = set(wanted)
        contacts = {}
        for r in records:
            props = r.properties or {}
            email = (props.get("email") or "").lower()
            if email in wanted_set:
                name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p) or None
                contacts[email] = Contact(id=r.id, email=email, name=name)
        return contacts

    def open_deals_for_contacts(self, contact_ids: Sequence[str]) -> dict[str, list[Deal]]:
        deal_ids_by_contact = self._associated_ids("contacts", "deals", _unique(contact_ids))
        deals = self.read_deals([d for ids in deal_ids_by_contact.values() for d in ids])
        return {
            contact: [deals[d] for d in ids if d in deals and not deals[d].closed]
            for contact, ids in deal_ids_by_contact.items()
        }

    # ---- writes ------------------------------------------------------------------------

    def handlers(self) -> Mapping[type[Command], CommandHandler[Any]]:
        return {
            UpdateFields: CommandHandler(self.update_fields),
            AddCollaborators: CommandHandler(self.add_collaborators),
            CreateTask: CommandHandler(self.create_tasks),
            LogCall: CommandHandler(self.log_calls),
            AddNote: CommandHandler(self.add_notes),
        }

    def update_fields(self, commands: Sequence[UpdateFields]) -> list[Outcome]:
        return _in_chunks(commands, self._update_fields_chunk)

    def add_collaborators(self, commands: Sequence[AddCollaborators]) -> list[Outcome]:
        return _in_chunks(commands, self._add_collaborators_chunk)

    def create_tasks(self, commands: Sequence[CreateTask]) -> list[Outcome]:
        from hubspot.crm.association_type import AssociationType

        def inputs(command: CreateTask) -> tuple[dict[str, str], list[tuple[str, int]]]:
            properties = {
                "hs_timestamp": str(_due_ms(command.due)),
                "hs_task_subject": command.subject,
                "hs_task_body": _html(command.body),
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": _TASK_PRIORITY.get(command.priority.upper(), "MEDIUM"),
                "hs_task_type": "TODO",
                "hubspot_owner_id": command.owner_id,
            }
            links = [(command.record_id, AssociationType.TASK_TO_DEAL)]
            if command.contact_id:
                links.append((command.contact_id, AssociationType.TASK_TO_CONTACT))
            return properties, links

        return _in_chunks(commands, lambda chunk: self._create_chunk("tasks", chunk, inputs))

    def log_calls(self, commands: Sequence[LogCall]) -> list[Outcome]:
        from hubspot.crm.association_type import AssociationType

        def inputs(command: LogCall) -> tuple[dict[str, str], list[tuple[str, int]]]:
            properties = {
                "hs_timestamp": str(command.occurred_at_ms),
                "hs_call_title": command.title,
                "hs_call_body": _html(command.body),
                "hs_call_status": "COMPLETED",
                "hs_call_recording_url": command.recording_url,
            }
            if command.duration_ms is not None:
                properties["hs_call_duration"] = str(command.duration_ms)
            if command.owner_id:
                properties["hubspot_owner_id"] = command.owner_id
            return properties, [(command.record_id, AssociationType.CALL_TO_DEAL)]

        return _in_chunks(commands, lambda chunk: self._create_chunk("calls", chunk, inputs))

    def add_notes(self, commands: Sequence[AddNote]) -> list[Outcome]:
        from hubspot.crm.association_type import AssociationType

        def inputs(command: AddNote) -> tuple[dict[str, str], list[tuple[str, int]]]:
            properties = {"hs_timestamp": str(int(self._wall_clock() * 1000)), "hs_note_body": _html(command.body)}
            return properties, [(command.record_id, AssociationType.NOTE_TO_DEAL)]

        return _in_chunks(commands, lambda chunk: self._create_chunk("notes", chunk, inputs))

    # ---- doctor ------------------------------------------------------------------------

    def check(self) -> list[Finding]:
        """Two or three requests: (OAuth refresh,) token metadata for scopes, the collaborators property."""
        try:
            scopes = self._token_scopes()
        except HubSpotError as exc:
            if exc.status not in (400, 401, 403):
                return [Finding("token", False, f"Could not verify the HubSpot token ({exc}): run the check again in a few minutes.")]
            hint = "reconnect the app in HubSpot (OAuth)" if self._oauth else "configure a current private app access token"
            return [Finding("token", False, f"HubSpot rejected the credentials ({exc}): {hint}.")]
        findings = [Finding("token", True, "The HubSpot access token works.")]
        missing = [s for s in REQUIRED_SCOPES if s not in scopes]
        findings.append(
            Finding("scopes", False, f"Add the scopes {', '.join(missing)} to the HubSpot app, then reinstall or rotate the token.")
            if missing
            else Finding("scopes", True, "The HubSpot app has every scope Game Film needs.")
        )
        findings.append(self._check_collaborators_property())
        return findings

    def _token_scopes(self) -> set[str]:
        """OAuth: refreshing first also proves the refresh token works. Private apps: v2 token info."""
        if self._oauth:
            self._refresh_access_token()
            info = self._sdk("oauth.access_tokens_api", "get", self._access_token)
            return set(info.scopes or [])
        info = self._call(self._private_app_token_info)
        return set(info.get("scopes") or []) if isinstance(info, dict) else set()

    def _private_app_token_info(self) -> tuple[Any, int, Any]:
        """Scopes of a private app token: not wrapped by the SDK, so sent through its ApiClient."""
        api_client = self._api("crm.objects.batch_api").api_client
        return api_client.call_api(
            "/oauth/v2/private-apps/get/access-token-info",
            "POST",
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body={"tokenKey": self._access_token},
            response_types_map={200: "object"},
            auth_settings=["oauth2"],
            _return_http_data_only=False,
        )

    def _check_collaborators_property(self) -> Finding:
        try:
            self._sdk("crm.properties.core_api", "get_by_name", "deals", COLLABORATORS)
        except HubSpotError as exc:
            if exc.status == 404:
                return Finding("collaborators", False, f"Turn on deal collaborators in HubSpot (Settings > Objects > Deals) so the {COLLABORATORS} property exists.")
            return Finding("collaborators", False, f"Could not read the deal property {COLLABORATORS} ({exc}): grant crm.schemas.deals.read.")
        return Finding("collaborators", True, f"The deal property {COLLABORATORS} is readable: leaders can be added as collaborators.")

    # ---- batch helpers -----------------------------------------------------------------

    def _read_objects(self, object_type: str, ids: list[str], properties: Iterable[str], id_property: str | None = None) -> list[Any]:
        """Batch read; ids HubSpot does not find come back as 207 errors and are left out."""
        from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

        records: list[Any] = []
        for chunk in _chunks(ids):
            body = BatchReadInputSimplePublicObjectId(
                properties=list(properties), inputs=[SimplePublicObjectId(id=i) for i in chunk], id_property=id_property, properties_with_history=[]
            )
            records.extend(self._sdk("crm.objects.batch_api", "read", object_type, body).results or [])
        return records

    def _update(self, object_type: str, changes: Mapping[str, Mapping[str, str]]) -> dict[str, str | None]:
        """Batch update ≤100 records; answers record id -> None (ok) or HubSpot's error message."""
        from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput

        if not changes:
            return {}
        body = BatchInputSimplePublicObjectBatchInput(inputs=[SimplePublicObjectBatchInput(id=i, properties=dict(p)) for i, p in changes.items()])
        response = self._sdk("crm.objects.batch_api", "update", object_type, body)
        done = {r.id for r in response.results or []}
        errors = _errors_by_key(response, list(changes))
        return {i: errors.get(i) or (None if i in done else "HubSpot returned no result for this record") for i in changes}

    def _update_fields_chunk(self, commands: Sequence[UpdateFields]) -> list[Outcome]:
        """Commands on the same record merge into one input: batch inputs must have unique ids."""
        types = [_OBJECT_TYPES.get(c.object_type.lower(), c.object_type) for c in commands]
        by_type: dict[str, dict[str, dict[str, str]]] = {}
        for object_type, c in zip(types, commands):
            by_type.setdefault(object_type, {}).setdefault(c.record_id, {}).update({k: _property_value(v) for k, v in c.fields.items()})
        results = {(t, i): error for t, changes in by_type.items() for i, error in self._update(t, changes).items()}
        return [_outcome(c, c.record_id, results[(t, c.record_id)]) for t, c in zip(types, commands)]

    def _add_collaborators_chunk(self, commands: Sequence[AddCollaborators]) -> list[Outcome]:
        """Read current collaborators once, merge (keep existing, no duplicates), write changed deals only."""
        records = self._read_objects("deals", _unique(c.record_id for c in commands), (COLLABORATORS,))
        current = {r.id: _split_ids((r.properties or {}).get(COLLABORATORS)) for r in records}
        merged = {deal_id: list(ids) for deal_id, ids in current.items()}
        for c in commands:
            if c.record_id in merged:
                merged[c.record_id].extend(u for u in c.user_ids if u not in merged[c.record_id])
        changes = {d: {COLLABORATORS: ";".join(ids)} for d, ids in merged.items() if ids != current[d]}
        results = self._update("deals", changes)
        outcomes = []
        for c in commands:
            if c.record_id not in current:
                outcomes.append(Outcome(key=c.key, ok=False, error=f"deal {c.record_id} not found in HubSpot"))
            elif c.record_id in results:
                outcomes.append(_outcome(c, c.record_id, results[c.record_id], {"collaborators": merged[c.record_id]}))
            else:
                outcomes.append(Outcome(key=c.key, ok=True, crm_id=c.record_id, detail={"unchanged": True}))
        return outcomes

    def _create_chunk(self, object_type: str, commands: Sequence[Command], inputs: Callable[[Any], tuple[dict[str, str], list[tuple[str, int]]]]) -> list[Outcome]:
        """Batch create with associations in the body; results are matched by objectWriteTraceId."""
        from hubspot.crm.objects import (
            AssociationSpec,
            BatchInputSimplePublicObjectBatchInputForCreate,
            PublicAssociationsForObject,
            PublicObjectId,
            SimplePublicObjectBatchInputForCreate,
        )

        batch = []
        for trace_id, command in enumerate(commands):
            properties, links = inputs(command)
            associations = [
                PublicAssociationsForObject(to=PublicObjectId(id=to), types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)])
                for to, type_id in links
            ]
            batch.append(SimplePublicObjectBatchInputForCreate(properties=properties, associations=associations, object_write_trace_id=str(trace_id)))
        response = self._sdk("crm.objects.batch_api", "create", object_type, BatchInputSimplePublicObjectBatchInputForCreate(inputs=batch))
        trace_ids = [str(i) for i in range(len(commands))]
        errors = _errors_by_key(response, trace_ids)
        created = _created_ids(response.results or [], [t for t in trace_ids if t not in errors])
        return [
            _outcome(c, created.get(t), errors.get(t) or (None if t in created else "HubSpot returned no result for this record"))
            for t, c in zip(trace_ids, commands)
        ]

    def _associated_ids(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest, PublicFetchAssociationsBatchRequest

        found: dict[str, list[str]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in chunk])
            response = self._sdk("crm.associations.v4.batch_api", "get_page", from_type, to_type, body)
            for result in response.results or []:
                found[str(result._from.id)] = _unique(str(t.to_object_id) for t in result.to or [])
        return found

    def _owners(self, archived: bool) -> Iterator[Any]:
        flag = "true" if archived else "false"  # the SDK would send Python's "False"
        after = None
        while True:
            page = self._sdk("crm.owners.owners_api", "get_page", limit=500, archived=flag, **({"after": after} if after else {}))
            yield from page.results or []
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return

    # ---- transport ---------------------------------------------------------------------

    def _sdk(self, api_path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `<api>.<method>_with_http_info` (for the headers) through limiter and retries."""
        return self._call(lambda: getattr(self._api(api_path), f"{method}_with_http_info")(*args, **kwargs))

    def _call(self, send: Callable[[], tuple[T, int, Any]], *, may_refresh: bool = True) -> T:
        """One request: limiter first; 401 refreshes an OAuth token once; 429/5xx retried."""
        attempt = 0
        refreshed = False
        while True:
            self.limiter.acquire()
            try:
                data, _status, headers = send()
            except Exception as exc:  # each SDK package has its own ApiException class
                failure = _Failure.from_exception(exc)
                if failure is None:
                    raise
                self.limiter.observe(failure.headers)
                if failure.status == 401 and self._oauth and may_refresh and not refreshed:
                    self._refresh_access_token()
                    refreshed = True
                    continue
                if failure.daily_limit:
                    raise CrmLimitReached(self._redact(failure.message())) from None
                if failure.retryable and attempt < self._max_retries:
                    attempt += 1
                    self._sleep(failure.delay(attempt))
                    continue
                raise HubSpotError(
                    self._redact(failure.message()),
                    status=failure.status,
                    category=failure.body.get("category"),
                    retryable=failure.retryable,
                    retry_after=failure.delay(attempt + 1) if failure.retryable else None,
                ) from None
            self.limiter.observe(headers)
            return data

    def _refresh_access_token(self) -> None:
        """POST /oauth/v1/token with grant_type=refresh_token; later calls use the new token."""
        assert self._oauth is not None
        oauth = self._oauth
        try:
            token = self._call(
                lambda: self._api("oauth.tokens_api").create_with_http_info(
                    grant_type="refresh_token",
                    refresh_token=oauth.refresh_token,
                    client_id=oauth.client_id,
                    client_secret=oauth.client_secret,
                ),
                may_refresh=False,
            )
        except HubSpotError as exc:
            raise HubSpotError(f"HubSpot refused to refresh the OAuth token, reconnect the app: {exc}", status=exc.status, category=exc.category) from None
        self.close()
        self._client = None
        self._access_token = token.access_token

    def _api(self, path: str) -> Any:
        """SDK API objects, cached so their urllib3 pools keep connections between calls."""
        if path not in self._apis:
            self._apis[path] = reduce(getattr, path.split("."), self._sdk_client())
        return self._apis[path]

    def _sdk_client(self) -> Any:
        if self._client is None:
            import hubspot
            import urllib3

            # No urllib3 retries: `_call` retries with the injected sleep, and urllib3 would
            # log retried URLs (the token metadata URL contains the token).
            retry = urllib3.Retry(total=0, read=False, redirect=0, respect_retry_after_header=False)
            options = {"host": self._host} if self._host else {}
            self._client = hubspot.HubSpot(access_token=self._access_token, retry=retry, **options)
        return self._client

    def _redact(self, text: str) -> str:
        secrets = [self._access_token] + ([self._oauth.refresh_token, self._oauth.client_secret] if self._oauth else [])
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


# ---- pure helpers ----------------------------------------------------------------------


def _is_api_exception(exc: Exception) -> bool:
    return any(c.__name__ == "ApiException" and c.__module__.startswith("hubspot.") for c in type(exc).__mro__)


def _in_chunks(commands: Sequence[Any], run: Callable[[Sequence[Any]], list[Outcome]]) -> list[Outcome]:
    """Run a write per chunk of 100. A failing chunk raises only if nothing was written yet;
    otherwise it and the chunks after it become failed outcomes, so done work is reported."""
    outcomes: list[Outcome] = []
    for start in range(0, len(commands), BATCH_SIZE):
        try:
            outcomes.extend(run(commands[start : start + BATCH_SIZE]))
        except CrmError as exc:
            if not outcomes:
                raise
            outcomes.extend(Outcome(key=c.key, ok=False, error=str(exc), retryable=exc.retryable) for c in commands[start:])
            break
    return outcomes


def _errors_by_key(response: Any, keys: Sequence[str]) -> dict[str, str]:
    """207 errors -> input key (record id or objectWriteTraceId) -> message.

    HubSpot names the failed inputs in `context` (`ids`, `objectWriteTraceId`, ...); an
    error naming none of our keys is charged to every input without a result."""
    errors: dict[str, str] = {}
    wanted = set(keys)
    unattributed: list[str] = []
    for error in getattr(response, "errors", None) or []:
        message = f"{error.category}: {error.message}" if error.category else str(error.message)
        named = {str(v) for values in (error.context or {}).values() for v in values} | ({str(error.id)} if error.id else set())
        hits = named & wanted
        for key in hits:
            errors[key] = message
        if not hits:
            unattributed.append(message)
    if unattributed:
        ok = {str(getattr(r, "id", "")) for r in response.results or []} | {str(getattr(r, "object_write_trace_id", "")) for r in response.results or []}
        for key in keys:
            if key not in ok and key not in errors:
                errors[key] = "; ".join(unattributed)
    return errors


def _created_ids(results: Sequence[Any], trace_ids: Sequence[str]) -> dict[str, str]:
    """Trace id -> new record id; results without a trace id fill the remaining inputs in order."""
    created = {str(r.object_write_trace_id): str(r.id) for r in results if r.object_write_trace_id in trace_ids}
    untraced = iter(str(r.id) for r in results if r.object_write_trace_id not in trace_ids)
    for trace_id in trace_ids:
        if trace_id not in created:
            record_id = next(untraced, None)
            if record_id is None:
                break
            created[trace_id] = record_id
    return created


def _outcome(command: Command, crm_id: str | None, error: str | None, detail: Mapping[str, Any] | None = None) -> Outcome:
    if error:
        return Outcome(key=command.key, ok=False, crm_id=crm_id, error=error)
    return Outcome(key=command.key, ok=True, crm_id=crm_id, detail=detail or {})


def deal_from_properties(deal_id: str, p: Mapping[str, Any]) -> Deal:
    """A deal from HubSpot property values (the API's, or a webhook's in a dry run)."""
    return Deal(
        id=str(deal_id),
        amount=_decimal(p.get("amount")),
        currency=p.get("deal_currency_code") or None,
        owner_id=p.get("hubspot_owner_id") or None,
        stage=p.get("dealstage") or None,
        pipeline=p.get("pipeline") or None,
        closed=str(p.get("hs_is_closed") or "").lower() == "true",
        name=p.get("dealname") or None,
        collaborators=frozenset(_split_ids(p.get(COLLABORATORS))),
        fields=dict(p),
    )


def _user(owner: Any) -> User:
    name = " ".join(n for n in (owner.first_name, owner.last_name) if n) or None
    return User(id=str(owner.id), name=name, email=owner.email, active=not owner.archived)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _split_ids(value: str | None) -> list[str]:
    return _unique(v.strip() for v in (value or "").split(";") if v.strip())


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), BATCH_SIZE):
        yield items[start : start + BATCH_SIZE]


def _due_ms(due: date) -> int:
    """Noon UTC on the due date, so the task shows on that calendar day in UTC-11..UTC+11."""
    return int(datetime(due.year, due.month, due.day, 12, tzinfo=timezone.utc).timestamp() * 1000)


def _html(text: str) -> str:
    """Task, call and note bodies are rich text in HubSpot: escape, keep line breaks."""
    return html.escape(text).replace("\n", "<br>")


def _property_value(value: Any) -> str:
    """HubSpot property values are strings; dates as YYYY-MM-DD, datetimes as epoch ms."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return str(int(moment.timestamp() * 1000))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
