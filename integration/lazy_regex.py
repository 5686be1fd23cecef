"""Import marshmallow without compiling its e-mail domain pattern up front.

`marshmallow.validate.Email` compiles `DOMAIN_REGEX` when the module is imported: a
case-insensitive class over U+00A1..U+FFFF that takes ~35 ms to compile, a tenth of a Lambda
cold start, paid by every process that imports marshmallow whether it validates an address or
not. Imported through `import_marshmallow`, that one pattern compiles on its first use instead
(the recordings and Zoom schemas use it); every other pattern compiles as usual.
"""
from __future__ import annotations

import re
import sys
import threading
from typing import Any

_SLOW = "\uffff"  # the Unicode letter range only the e-mail domain pattern holds
_compile = re.compile  # the real one, also while `import_marshmallow` swaps it


class _CompiledOnFirstUse:
    """Stands in for a `re.Pattern` (`match`, `search`, `pattern`, ...): compiles when first asked."""

    def __init__(self, pattern: str, flags: int) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_args", "_compiled", "_lock"):
            raise AttributeError(name)  # ABCMeta's __isabstractmethod__ probe; copy/pickle before __init__
        with self._lock:
            if self._compiled is None:
                self._compiled = _compile(*self._args)
        return getattr(self._compiled, name)


def import_marshmallow() -> None:
    """Import `marshmallow` (once per process) with the slow pattern deferred. Call it before
    anything else imports marshmallow: the Lambda app's build does (integration.app)."""
    if "marshmallow.validate" in sys.modules:
        return

    def compile_(pattern: Any, flags: int = 0) -> Any:
        if isinstance(pattern, str) and _SLOW in pattern:
            return _CompiledOnFirstUse(pattern, flags)
        return _compile(pattern, flags)

    re.compile = compile_  # type: ignore[assignment]
    try:
        import marshmallow.validate  # noqa: F401
    finally:
        re.compile = _compile
