"""Every bench script still loads: a refactor once broke `bench/intake.py` (an import moved) and
nobody noticed until the next measurement. Benches are not run here (they print timings and
take minutes); each is executed as `python bench/<name>.py` would, up to its `__main__` guard:
its module-level imports and definitions, with the script's directory first on sys.path; then
every import inside its functions (the broken one was in a function) is resolved too."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py"))

# One interpreter for all (one per script cost ~20 s): sys.path and the bench's own modules
# are reset before each, so a script cannot lean on what an earlier one put there.
_LOAD_ALL = """
import ast, importlib, json, runpy, sys, traceback
root, names = sys.argv[1], json.loads(sys.argv[2])

def resolve_imports(path):
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if alias.name == "*" or hasattr(module, alias.name):
                    continue
                try:
                    importlib.import_module(f"{node.module}.{alias.name}")  # a submodule
                except ModuleNotFoundError:
                    raise ImportError(f"line {node.lineno}: cannot import {alias.name!r} from {node.module!r}") from None

base = [p for p in sys.path if p not in ("", root)]
failures = {}
for name in names:
    path = f"{root}/bench/{name}"
    sys.path[:] = [f"{root}/bench", *base]
    sys.argv = [path]
    for mod in [m for m, v in sys.modules.items() if (getattr(v, "__file__", None) or "").startswith(f"{root}/bench/")]:
        del sys.modules[mod]
    try:
        runpy.run_path(path, run_name="bench_import_check")
        resolve_imports(path)
    except BaseException:
        failures[name] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""


def test_there_are_bench_scripts():
    assert "intake.py" in SCRIPTS and len(SCRIPTS) >= 20


def test_every_bench_script_loads():
    done = subprocess.run([sys.executable, "-c", _LOAD_ALL, str(ROOT), json.dumps(SCRIPTS)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert failures == {}, "\n".join(f"bench/{name}:\n{trace}" for name, trace in failures.items())


def test_a_broken_import_is_caught(tmp_path):
    """The check itself: a script whose import fails is reported with its error."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "broken.py").write_text("def later():\n    from integration.store.sqlite import no_such_name\n")
    done = subprocess.run([sys.executable, "-c", _LOAD_ALL, str(tmp_path), json.dumps(["broken.py"])], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})  # fmt: skip
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert list(failures) == ["broken.py"] and "no_such_name" in failures["broken.py"]
