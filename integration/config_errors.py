"""Config error lines an admin can act on: one sentence each, naming file, key and a fix.

Key paths name tenants by id (`tenants[demo-hubspot].rules.threshold[1].amount`), because
an admin finds a tenant by its id, not by counting tables; unknown keys get a "did you mean"
from the keys that are valid at that place.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Iterable, Mapping, Sequence

Path = tuple[str | int, ...]
UNKNOWN_FIELD = "Unknown field."


def flatten(messages: Any, prefix: Path = ()) -> list[tuple[Path, str]]:
    """marshmallow's nested error dict -> [(("tenants", 0, "portal_id"), "reason"), ...]."""
    if isinstance(messages, dict):
        out: list[tuple[Path, str]] = []
        for key, value in messages.items():
            path = prefix if key == "_schema" else prefix + (_part(key),)
            out.extend(flatten(value, path))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix, "; ".join(m.rstrip(".") for m in messages))]
    if isinstance(messages, list):
        return [pair for m in messages for pair in flatten(m, prefix)]
    return [(prefix, str(messages).rstrip("."))]


def _part(key: Any) -> str | int:
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return int(key)
    return str(key)


def key_path(path: Sequence[str | int], raw: Mapping[str, Any]) -> str:
    """("tenants", 0, "rules", "threshold", 1, "amount") -> tenants[demo-hubspot].rules.threshold[1].amount."""
    text = ""
    for i, part in enumerate(path):
        if isinstance(part, int):
            text += f"[{_tenant_label(raw, part) if i == 1 and path[0] == 'tenants' else part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _tenant_label(raw: Mapping[str, Any], index: int) -> str:
    tenants = raw.get("tenants")
    if isinstance(tenants, list) and 0 <= index < len(tenants) and isinstance(tenants[index], Mapping):
        ident = tenants[index].get("id")
        if isinstance(ident, str) and ident:
            return ident
    return str(index)


def unknown_key(key: str, known: Iterable[str]) -> str:
    """The reason for an unknown key, with the closest valid key when one is close enough."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if not close:
        # "client_secret" is a prefix of "client_secret_env": difflib alone scores it too low.
        close = sorted(k for k in known if k.startswith(key) or key.startswith(k))[:1]
    if close:
        return f"unknown key; did you mean {close[0]}?"
    return "unknown key; remove it or check the spelling against config/gamefilm.example.toml"


def lines(
    source: str,
    raw: Mapping[str, Any],
    problems: Iterable[tuple[Path, str]],
    known_keys: Callable[[Path], Iterable[str]],
) -> list[str]:
    """`<file>: <key path>: <reason>` per problem; unknown keys get a suggestion."""
    out = []
    for path, reason in problems:
        if reason == UNKNOWN_FIELD.rstrip(".") and path:
            reason = unknown_key(str(path[-1]), known_keys(path[:-1]))
        out.append(f"{source}: {key_path(path, raw)}: {reason}")
    return out
