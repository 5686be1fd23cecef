"""pytest plugin (`-p tests.pruned_imports`): imports resolve as in the pruned Lambda package.

Every hubspot module and zeep dependency that infra/lambda_package.py leaves out raises
ModuleNotFoundError, and `zeep` is the package's placeholder, so a suite run under this plugin
proves the kept modules are enough for the code paths it drives.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from typing import Any, Sequence

from infra.lambda_package import OVERLAY, dropped

GUARDED = ("hubspot", "zeep", "lxml", "isodate", "requests_file", "requests_toolbelt")  # pytest may use attrs, platformdirs
blocked: list[str] = []


class PrunedImports(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: Any = None) -> Any:
        top = fullname.partition(".")[0]
        if top not in GUARDED:
            return None
        if fullname == "zeep":
            return importlib.machinery.PathFinder.find_spec(fullname, [str(OVERLAY)])
        if top == "zeep":
            return None  # submodules are found in the placeholder's __path__
        rel = fullname.replace(".", "/")
        if dropped(f"{rel}/__init__.py") and dropped(f"{rel}.py"):
            blocked.append(fullname)
            raise ModuleNotFoundError(f"{fullname} is not in the pruned Lambda package", name=fullname)
        return None


loaded = [m for m in sys.modules if m.partition(".")[0] in GUARDED]
assert not loaded, f"imported before the plugin: {loaded}"
sys.meta_path.insert(0, PrunedImports())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"pruned-package imports: {len(blocked)} blocked: {sorted(set(blocked))}")
    zeep = sys.modules.get("zeep")
    terminalreporter.write_line(f"zeep from: {getattr(zeep, '__file__', None)}")
