"""The product's modules are type-clean: mypy over integration/ and handlers/ reports nothing."""
from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[1]


def test_integration_and_handlers_are_mypy_clean(tmp_path):
    out, err, status = api.run(
        [str(ROOT / "integration"), str(ROOT / "handlers"), "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path)]
    )
    assert status == 0, out + err
