"""Placeholder for zeep in the Lambda package, where zeep and lxml (5.4 MiB zipped) are left out.

simple-salesforce imports zeep at module level for its Metadata API (`Salesforce.mdapi`) only.
Game Film never uses the Metadata API, so the package ships these names instead: importing
works, and any use fails loudly instead of silently doing nothing.
"""
from __future__ import annotations

from typing import Any, NoReturn


class ZeepNotPackaged(ImportError):
    """Raised on any use: the Lambda package leaves zeep out (see infra/lambda_package.py)."""


class _Absent:
    def __init__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ZeepNotPackaged(f"{type(self).__name__}: zeep is not in the Lambda package (Salesforce Metadata API unused)")


class Client(_Absent):
    pass


class Settings(_Absent):
    pass
