"""One validated TOML config file: tenants (CRM connections), store, worker, intake.

Secrets are never in the file: each tenant names the environment variables that hold them.
A bad file fails at start with one sentence per problem: the file, the key path (tenants by
id) and the reason or a suggestion (`ConfigError`). Relative paths in the file (the SQLite
store) resolve against the file's directory, so the server finds the same database whichever
directory it is started from.
Rule settings live under `[tenants.rules.<rule name>]` and are validated by each rule's own
schema (see `integration.rules`), so adding a rule never touches this module.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from integration import config_errors

# The model lives in config_model; every name is also reachable from here, as before.
from integration.config_model import (  # noqa: F401
    HUBSPOT,
    SALESFORCE,
    Config,
    ConfigError,
    IntakeConfig,
    StoreConfig,
    Tenant,
    WorkerConfig,
)


def _http_url(value: str) -> None:
    """http(s)://host[...]: checked with urlsplit, not marshmallow's URL regex (~70 ms to compile on a cold start)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValidationError("must be an http(s):// URL with a host, e.g. https://acme.my.salesforce.com")


_ENV_NAME = validate.Regexp(r"^[A-Z_][A-Z0-9_]*$", error="must be an environment variable NAME, not a secret value")
# A field API name: a standard one (Website), or a custom one ending in `__c` with an optional
# namespace prefix (Recording_URL__c, acme__Call_Link__c); words of letters and digits joined
# by single underscores, starting with a letter.
_SF_NAME = r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*"
_SF_FIELD = validate.Regexp(
    rf"^(?:{_SF_NAME}|(?:{_SF_NAME}__)?{_SF_NAME}__c)$",
    error="must be a Task field API name such as GameFilm_Recording_URL__c",
)
_SF_ID = validate.Regexp(r"^00D[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$", error="must be a 15 or 18 character org id (00D...)")


class _TenantSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{1,62}$"))
    crm = fields.String(required=True, validate=validate.OneOf([HUBSPOT, SALESFORCE]))
    dry_run = fields.Boolean(load_default=False)
    portal_id = fields.String()
    client_secret_env = fields.String(validate=_ENV_NAME)
    access_token_env = fields.String(validate=_ENV_NAME)
    refresh_token_env = fields.String(validate=_ENV_NAME)
    client_id_env = fields.String(validate=_ENV_NAME)
    rate_limit_per_10s = fields.Integer(validate=validate.OneOf([100, 110, 190, 250]))
    org_id = fields.String(validate=_SF_ID)
    shared_secret_envs = fields.List(fields.String(validate=_ENV_NAME))
    instance_url = fields.String(validate=_http_url)
    auth = fields.String(validate=validate.OneOf(["jwt", "client_credentials", "session"]))
    username = fields.String()
    consumer_key_env = fields.String(validate=_ENV_NAME)
    consumer_secret_env = fields.String(validate=_ENV_NAME)
    private_key_env = fields.String(validate=_ENV_NAME)
    session_id_env = fields.String(validate=_ENV_NAME)
    domain = fields.String()
    api_version = fields.String(validate=validate.Regexp(r"^\d{2,3}\.0$"))
    api_limit_share = fields.Float(validate=validate.Range(min=0.05, max=1.0))
    team_role = fields.String()
    team_access_level = fields.String(validate=validate.OneOf(["Read", "Edit", "All"]))
    recording_url_field = fields.String(validate=_SF_FIELD)
    api_base_url = fields.String(validate=_http_url)
    connect_timeout_seconds = fields.Float(validate=validate.Range(min=0.1, max=60))
    read_timeout_seconds = fields.Float(validate=validate.Range(min=0.1, max=120))
    corporate_currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$"))
    currency_rates = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[A-Z]{3}$")), values=fields.Float(validate=validate.Range(min=0, min_inclusive=False)))
    rules = fields.Dict(keys=fields.String(), values=fields.Raw())
    recorder_secret_envs = fields.List(fields.String(validate=_ENV_NAME))
    zoom_secret_token_env = fields.String(validate=_ENV_NAME)
    zoom_account_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$", error="must be the Zoom app's Account ID"))
    zoom_client_id_env = fields.String(validate=_ENV_NAME)
    zoom_client_secret_env = fields.String(validate=_ENV_NAME)

    @validates_schema
    def _per_crm(self, data: dict, **_: Any) -> None:
        if data.get("crm") == HUBSPOT:
            if not data.get("portal_id", "").isdigit():
                raise ValidationError("HubSpot tenants need a numeric portal_id", "portal_id")
            if not data.get("client_secret_env"):
                raise ValidationError("HubSpot tenants need client_secret_env (verifies webhook signatures)", "client_secret_env")
            if not data.get("dry_run") and not data.get("access_token_env"):
                raise ValidationError("needed unless dry_run = true", "access_token_env")
        if data.get("crm") == SALESFORCE:
            if not data.get("org_id"):
                raise ValidationError("Salesforce tenants need org_id", "org_id")
            if not data.get("dry_run"):
                if not data.get("instance_url"):
                    raise ValidationError("needed unless dry_run = true", "instance_url")
                auth = data.get("auth", "session")
                needed = {
                    "jwt": ["username", "consumer_key_env", "private_key_env"],
                    "client_credentials": ["consumer_key_env", "consumer_secret_env"],
                    "session": ["session_id_env"],
                }[auth]
                for name in needed:
                    if not data.get(name):
                        raise ValidationError(f"needed for auth = {auth!r}", name)

    @validates_schema
    def _zoom_credentials(self, data: dict, **_: Any) -> None:
        """The participants API needs all three server-to-server OAuth values or none."""
        names = ("zoom_account_id", "zoom_client_id_env", "zoom_client_secret_env")
        given = [n for n in names if data.get(n)]
        if given and len(given) < len(names):
            missing = next(n for n in names if not data.get(n))
            raise ValidationError(f"needed with {given[0]} (Zoom server-to-server OAuth takes all three)", missing)

    @post_load
    def _make(self, data: dict, **_: Any) -> Tenant:
        for name in ("shared_secret_envs", "recorder_secret_envs"):
            if name in data:
                data[name] = tuple(data[name])
        return Tenant(**data)


class _StoreSchema(Schema):
    class Meta:
        unknown = RAISE

    backend = fields.String(validate=validate.OneOf(["sqlite", "dynamodb"]))
    path = fields.String()
    table = fields.String(validate=validate.Length(min=3, max=255))
    region = fields.String()
    endpoint_url = fields.String(validate=_http_url)
    ttl_days = fields.Integer(validate=validate.Range(min=1))

    @post_load
    def _make(self, data: dict, **_: Any) -> StoreConfig:
        return StoreConfig(**data)


class _WorkerSchema(Schema):
    class Meta:
        unknown = RAISE

    mode = fields.String(validate=validate.OneOf(["thread", "sqs", "none"]))
    max_attempts = fields.Integer(validate=validate.Range(min=1, max=50))
    base_delay_seconds = fields.Float(validate=validate.Range(min=0))
    max_delay_seconds = fields.Float(validate=validate.Range(min=0))
    poll_seconds = fields.Float(validate=validate.Range(min=0.01))
    lease_seconds = fields.Float(validate=validate.Range(min=1))
    batch_size = fields.Integer(validate=validate.Range(min=1, max=1000))
    concurrency = fields.Integer(validate=validate.Range(min=1, max=64))
    queue_url = fields.String()

    @post_load
    def _make(self, data: dict, **_: Any) -> WorkerConfig:
        return WorkerConfig(**data)


class _IntakeSchema(Schema):
    class Meta:
        unknown = RAISE

    public_base_url = fields.String(validate=_http_url)
    trust_forwarded = fields.Boolean()
    max_body_bytes = fields.Integer(validate=validate.Range(min=1024))
    signature_tolerance_seconds = fields.Integer(validate=validate.Range(min=1, max=3600))

    @post_load
    def _make(self, data: dict, **_: Any) -> IntakeConfig:
        return IntakeConfig(**data)


class _ConfigSchema(Schema):
    class Meta:
        unknown = RAISE

    tenants = fields.List(fields.Nested(_TenantSchema), required=True, validate=validate.Length(min=1))
    store = fields.Nested(_StoreSchema, load_default=None)
    worker = fields.Nested(_WorkerSchema, load_default=None)
    intake = fields.Nested(_IntakeSchema, load_default=None)


# Validates `[tenants.rules.*]` tables: name -> callable(raw dict) raising ValidationError.
RuleValidator = Callable[[Mapping[str, Any], Tenant], Any]


def load(path: str | os.PathLike[str], rule_validators: Mapping[str, RuleValidator] | None = None) -> Config:
    """Read and validate a config file; raise ConfigError naming file, key and reason."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found; pass --config FILE or set GAMEFILM_CONFIG (example: config/gamefilm.example.toml)") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, not a config file; pass the .toml file itself (example: config/gamefilm.example.toml)") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.strerror or type(exc).__name__}); check the path and its permissions") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc}); fix the syntax at that line") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not valid TOML (not UTF-8 text); save the file as UTF-8") from None
    cfg = parse(raw, source, rule_validators)
    return replace(cfg, store=replace(cfg.store, path=_relative_to(Path(path).parent, cfg.store.path)))


def _relative_to(directory: Path, value: str) -> str:
    """A relative path in the file means relative to the file, not to the working directory."""
    candidate = Path(value).expanduser()
    return str(candidate if candidate.is_absolute() else Path(os.path.abspath(directory / candidate)))


def parse(raw: Mapping[str, Any], source: str = "<memory>", rule_validators: Mapping[str, RuleValidator] | None = None) -> Config:
    """Validate an already-read config mapping; `source` names it in errors."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: the config must be a TOML table; start from config/gamefilm.example.toml")
    try:
        data = _ConfigSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(config_errors.lines(source, raw, config_errors.flatten(exc.messages), _known_keys(raw)))) from None
    tenants: list[Tenant] = data["tenants"]
    problems: list[tuple[config_errors.Path, str]] = []
    seen: dict[tuple[str, str], str] = {}
    if rule_validators is None:
        from integration.rules import registry_validators

        rule_validators = registry_validators()
    for i, tenant in enumerate(tenants):
        ident = (tenant.crm, tenant.portal_id or (tenant.org_id or "")[:15])
        if tenant.id in {t.id for t in tenants[:i]}:
            problems.append((("tenants", i, "id"), f"duplicate tenant id {tenant.id!r}; give each tenant its own id"))
        if ident in seen:
            problems.append((("tenants", i), f"same CRM account as tenant {seen[ident]!r}; keep one of the two"))
        seen[ident] = tenant.id
        for rule_name, settings in tenant.rules.items():
            validator = rule_validators.get(rule_name)
            if validator is None:
                known = ", ".join(sorted(rule_validators))
                reason = config_errors.unknown_key(rule_name, rule_validators).replace("unknown key", "unknown rule")
                problems.append((("tenants", i, "rules", rule_name), f"{reason} (known rules: {known})"))
                continue
            try:
                validator(settings, tenant)
            except ValidationError as exc:
                problems.extend((("tenants", i, "rules", rule_name, *p), m) for p, m in config_errors.flatten(exc.messages))
    if problems:
        raise ConfigError("\n".join(config_errors.lines(source, raw, problems, _known_keys(raw, rule_validators))))
    return Config(
        tenants=tuple(tenants),
        store=data.get("store") or StoreConfig(),
        worker=data.get("worker") or WorkerConfig(),
        intake=data.get("intake") or IntakeConfig(),
        source=source,
    )


_SECTION_SCHEMAS: dict[str, type[Schema]] = {"store": _StoreSchema, "worker": _WorkerSchema, "intake": _IntakeSchema}


def _known_keys(raw: Mapping[str, Any], rule_validators: Mapping[str, RuleValidator] | None = None) -> Callable[[config_errors.Path], list[str]]:
    """Valid keys at a path, for "did you mean" on an unknown key."""

    def known(path: config_errors.Path) -> list[str]:
        schema: type[Schema] | None = None
        if path == ():
            schema = _ConfigSchema
        elif len(path) == 1 and str(path[0]) in _SECTION_SCHEMAS:
            schema = _SECTION_SCHEMAS[str(path[0])]
        elif len(path) == 2 and path[0] == "tenants":
            schema = _TenantSchema
        elif len(path) >= 4 and path[0] == "tenants" and path[2] == "rules" and rule_validators:
            rule = getattr(rule_validators.get(str(path[3])), "__self__", None)
            schema = getattr(rule, "schema", None)
        return sorted(schema().fields) if schema is not None else []

    return known
