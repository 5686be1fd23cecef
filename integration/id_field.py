"""A marshmallow integer that admits exactly one spelling of each value.

Ids and times in a payload become part of the delivery key. marshmallow's non-strict
Integer truncates 1.5 and 1.7 to 1 and reads "+12", " 12", "012", "1_000" and "١٢" as
integers: two different events would then share one key, and the second would be answered
as a duplicate and never processed. A JSON integer, or its canonical decimal string, is
what senders use (strings for large ids); anything else is rejected and named.
"""
from __future__ import annotations

import re
from typing import Any

from marshmallow import fields

_CANONICAL = re.compile(r"0|[1-9][0-9]{0,19}")  # ASCII digits, no sign, padding or separators


class CanonicalInteger(fields.Integer):
    def _validated(self, value: Any) -> int:
        if type(value) is int or (type(value) is str and _CANONICAL.fullmatch(value)):
            return super()._validated(value)
        raise self.make_error("invalid", input=value)
