"""The Lambda package keeps what the Lambda path imports and nothing else (infra/lambda_package.py).

The gateway, doctor, Lambda-handler and end-to-end suites run again in a child pytest where
every module the package leaves out is unimportable and `zeep` is the package's placeholder:
they drive the real SDKs down to HTTP, so passing proves the kept modules suffice. The built
zip itself is smoke-run by `python bench/package_size.py` (it needs the deploy virtualenv).
"""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.lambda_package import RUNTIME, dropped, prune

ROOT = Path(__file__).resolve().parents[1]
SUITES = ["tests/test_gateway_hubspot.py", "tests/test_gateway_salesforce.py", "tests/test_doctor_cli.py",
          "tests/test_zappa_settings.py", "tests/test_threshold_e2e.py"]  # fmt: skip


def test_the_gateway_and_lambda_suites_pass_with_only_the_packaged_modules():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.pruned_imports", *SUITES],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "pruned-package imports: 0 blocked" in done.stdout  # nothing even tried a pruned module
    assert "zeep from: " + str(ROOT / "infra" / "lambda_overlay" / "zeep" / "__init__.py") in done.stdout


@pytest.mark.parametrize(
    "name",
    [
        "hubspot/__init__.py", "hubspot/crm/objects/api/batch_api.py", "hubspot/crm/objects/models/__init__.py",
        "hubspot/crm/associations/v4/api/batch_api.py", "hubspot/crm/owners/api/owners_api.py",
        "hubspot/crm/pipelines/__init__.py", "hubspot/crm/properties/api/core_api.py", "hubspot/oauth/api/tokens_api.py",
        "hubspot/crm/__pycache__/association_type.cpython-311.pyc", "hubspot/utils/signature.py",
        "simple_salesforce/api.py", "cryptography/__init__.py", "jwt/__init__.py", "flask/app.py", "zappa/handler.py",
        "durationpy/__init__.py", "urllib3/__init__.py", "integration/app.py", "handlers/__init__.py", "handler.py",
        "hubspot_api_client-12.0.0.dist-info/METADATA", "zappa-0.63.0.dist-info/METADATA",
    ],
)  # fmt: skip
def test_kept(name):
    assert not dropped(name)


@pytest.mark.parametrize(
    "name",
    [
        "hubspot/cms/blogs/__init__.py", "hubspot/marketing/__init__.py", "hubspot/crm/companies/__init__.py",
        "hubspot/crm/objects/notes/api/basic_api.py", "hubspot/crm/objects/notes/__pycache__/__init__.cpython-311.pyc",
        "hubspot/crm/associations/schema/__init__.py", "hubspot/discovery/cms/discovery.py", "hubspot/webhooks/__init__.py",
        "lxml/etree.cpython-311-x86_64-linux-gnu.so", "zeep/__init__.py", "isodate/__init__.py", "yaml/__init__.py",
        "_yaml/__init__.py", "packaging/version.py", "troposphere/__init__.py", "boto3/__init__.py", "botocore/client.py",
        "build/lib/integration/app.py", "lxml-6.1.3.dist-info/METADATA", "PyYAML-6.0.3.dist-info/RECORD",
        "python_slugify-9.2.0.dist-info/METADATA",
    ],
)  # fmt: skip
def test_dropped(name):
    assert dropped(name)


same_python_as_lambda = pytest.mark.skipif(sys.version_info[:2] != RUNTIME, reason="bytecode is written by the runtime's Python only")


@same_python_as_lambda
def test_prune_rewrites_the_zip_and_adds_the_placeholder(tmp_path):
    source = tmp_path / "in.zip"
    with zipfile.ZipFile(source, "w") as zf:
        for name in ("handler.py", "hubspot/__init__.py", "hubspot/cms/__init__.py", "zeep/__init__.py", "lxml/etree.py"):
            zf.writestr(name, f"# {name}\n")
    counts = prune(source, source)
    with zipfile.ZipFile(source) as zf:
        names = sorted(zf.namelist())
        placeholder = zf.read("zeep/__init__.py").decode()
    sources = ["handler.py", "hubspot/__init__.py", "zeep/__init__.py", "zeep/proxy.py", "zeep/xsd.py"]
    assert [n for n in names if not n.endswith(".pyc")] == sources
    assert [n for n in names if n.endswith(".pyc")] == sorted(
        ["__pycache__/handler.cpython-311.pyc", "hubspot/__pycache__/__init__.cpython-311.pyc", "zeep/__pycache__/__init__.cpython-311.pyc",
         "zeep/__pycache__/proxy.cpython-311.pyc", "zeep/__pycache__/xsd.cpython-311.pyc"])  # fmt: skip
    assert "class Client(_Absent)" in placeholder
    removed_bytes = sum(len(f"# {n}\n") for n in ("hubspot/cms/__init__.py", "zeep/__init__.py", "lxml/etree.py"))
    assert counts == {"kept": 2, "removed": 3, "removed_bytes": removed_bytes, "overlay": 3, "compiled": 5}


@same_python_as_lambda
def test_modules_load_from_unchecked_bytecode_on_a_read_only_task_root(tmp_path):
    """Lambda cannot cache bytecode in /var/task, and unzipping changes file times: the .pyc must be used as is."""
    source = tmp_path / "in.zip"
    with zipfile.ZipFile(source, "w") as zf:
        zf.writestr("probe/__init__.py", "")
        zf.writestr("probe/answer.py", "VALUE = 'from the package bytecode'\n")
        zf.writestr("probe/__pycache__/answer.cpython-311.pyc", b"stale timestamp-based bytecode")
    prune(source, source)
    task = tmp_path / "task"
    with zipfile.ZipFile(source) as zf:
        assert zf.read("probe/__pycache__/answer.cpython-311.pyc")[4:8] == b"\x01\x00\x00\x00"  # PEP 552: hash-based, unchecked
        zf.extractall(task)
    (task / "probe" / "answer.py").write_text("VALUE = 'compiled from source'\n")  # would win if the .pyc were ignored
    done = subprocess.run([sys.executable, "-B", "-c", "import probe.answer; print(probe.answer.VALUE, probe.answer.__cached__)"],
                          cwd=task, capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.startswith("from the package bytecode ")


def test_the_placeholder_fails_loudly_when_the_metadata_api_is_used(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "infra" / "lambda_overlay"))
    real = {name: sys.modules.pop(name) for name in [m for m in sys.modules if m == "zeep" or m.startswith("zeep.")]}
    try:
        import zeep  # the placeholder, first on the path
        from zeep.xsd import ComplexType

        assert zeep.__file__.startswith(str(ROOT / "infra"))
        with pytest.raises(zeep.ZeepNotPackaged, match="Client: zeep is not in the Lambda package"):
            zeep.Client("https://example.my.salesforce.com/metadata.wsdl")
        with pytest.raises(ImportError):
            ComplexType()
    finally:
        for name in [m for m in sys.modules if m == "zeep" or m.startswith("zeep.")]:
            del sys.modules[name]
        sys.modules.update(real)
