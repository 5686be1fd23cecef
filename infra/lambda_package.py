"""Prune the zip `zappa package` builds down to what the Lambda path imports.

Zappa zips the whole deploy virtualenv. This rewrites that zip without:
- hubspot-api-client API modules the product never calls (it uses crm.objects and its batch
  API, crm.associations (v4), crm.owners, crm.pipelines, crm.properties and oauth);
- zeep and lxml with zeep's other dependencies: simple-salesforce imports zeep at module level
  for its Metadata API only, which Game Film never uses; a placeholder zeep package
  (infra/lambda_overlay/zeep) keeps that import working and fails loudly on any use;
- zappa's build-only dependencies (its handler imports zappa, werkzeug, durationpy only);
- what the Lambda Python runtime provides (boto3, botocore, s3transfer);
- stale `build/`/`dist/` copies of the project.

It also writes every module's bytecode as an unchecked-hash .pyc (PEP 552). /var/task is
read-only, so Python cannot cache bytecode there, and the timestamp-based .pyc files pip and
the project's __pycache__ hold do not match the times the files get when unzipped: without
this every cold start compiles every module it imports from source.

What is kept is proven by tests/test_lambda_package.py (the gateway suites run with every
pruned module blocked) and by `python bench/package_size.py` (the real zip, unpacked, serves
API Gateway, SQS and scheduled events).

    python infra/lambda_package.py gamefilm-lambda.zip [-o pruned.zip]
"""
from __future__ import annotations

import argparse
import importlib.util
import marshal
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

OVERLAY = Path(__file__).resolve().parent / "lambda_overlay"

# Distributions (normalised names) whose top-level modules and metadata leave the package.
ZEEP_AND_DEPS = ("zeep", "lxml", "isodate", "requests_file", "requests_toolbelt", "platformdirs", "attrs")
BUILD_ONLY = ("pyyaml", "packaging", "hjson", "placebo", "argcomplete", "tqdm", "toml", "python_slugify",
              "text_unidecode", "troposphere", "cfn_flip", "kappa", "pip", "setuptools", "wheel")  # fmt: skip
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
DROPPED_DISTRIBUTIONS = frozenset(ZEEP_AND_DEPS + BUILD_ONLY + RUNTIME_PROVIDED)

# Top-level names those distributions install, where they differ from the distribution name.
DROPPED_TOP_LEVEL = frozenset(
    {"zeep", "lxml", "isodate", "requests_file", "requests_toolbelt", "platformdirs", "attr", "attrs",
     "yaml", "_yaml", "packaging", "hjson", "placebo", "argcomplete", "tqdm", "toml", "slugify", "text_unidecode",
     "troposphere", "cfn_flip", "cfn_clean", "cfn_tools", "kappa", "pip", "setuptools", "pkg_resources",
     "_distutils_hack", "distutils-precedence.pth", "wheel", "boto3", "botocore", "s3transfer", "build", "dist"}
)  # fmt: skip

# hubspot/...: the kept parts (a trailing "/" keeps a whole directory).
HUBSPOT_KEEP = (
    "__init__.py", "client.py", "hubspot.py", "exceptions.py", "utils/", "oauth/",
    "crm/__init__.py", "crm/association_type.py", "crm/object_type.py",
    "crm/owners/", "crm/pipelines/", "crm/properties/", "crm/associations/",
    "discovery/__init__.py", "discovery/discovery_base.py", "discovery/oauth/",
    "discovery/crm/__init__.py", "discovery/crm/discovery.py", "discovery/crm/owners/",
    "discovery/crm/pipelines/", "discovery/crm/properties/", "discovery/crm/associations/",
    "discovery/crm/objects/__init__.py", "discovery/crm/objects/discovery.py",
    # crm.objects: the generic objects API with batch, not the per-type copies (calls, notes, ...)
    "crm/objects/__init__.py", "crm/objects/api/", "crm/objects/api_client.py", "crm/objects/configuration.py",
    "crm/objects/exceptions.py", "crm/objects/models/", "crm/objects/rest.py",
)  # fmt: skip
HUBSPOT_DROP = ("crm/associations/schema/", "discovery/crm/associations/schema/")  # v3 schema API; v4 is kept

RUNTIME = (3, 11)  # zappa_settings.json "runtime": python3.11; bytecode is version-specific
_UNCHECKED_HASH_PYC = 0b01  # PEP 552 flags: hash-based, source not checked

_DIST_INFO = re.compile(r"^(?P<name>[^/]+?)-[^-/]+\.(dist|egg)-info$")
_PYC = re.compile(r"^(?P<dir>(?:.*/)?)__pycache__/(?P<stem>[^/.]+)\.[^/]*\.pyc$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _source_path(name: str) -> str:
    """hubspot/crm/__pycache__/x.cpython-311.pyc -> hubspot/crm/x.py (pruned with its source)."""
    match = _PYC.match(name)
    return f"{match['dir']}{match['stem']}.py" if match else name


def dropped(name: str) -> bool:
    """True when the zip entry `name` (a POSIX path inside the zip) leaves the package."""
    top, _, rest = name.partition("/")
    dist = _DIST_INFO.match(top)
    if dist:
        return _normalise(dist["name"]) in DROPPED_DISTRIBUTIONS
    if top in DROPPED_TOP_LEVEL:
        return True
    if top != "hubspot" or not rest:
        return False
    rest = _source_path(rest)
    if rest.startswith(HUBSPOT_DROP):
        return True
    return not any(rest == keep or (keep.endswith("/") and rest.startswith(keep)) for keep in HUBSPOT_KEEP)


def pyc_name(source: str) -> str:
    """integration/app.py -> integration/__pycache__/app.cpython-311.pyc (the name the import system looks for)."""
    directory, _, filename = source.rpartition("/")
    tag = sys.implementation.cache_tag
    return f"{directory}/__pycache__/{filename[:-3]}.{tag}.pyc" if directory else f"__pycache__/{filename[:-3]}.{tag}.pyc"


def unchecked_pyc(name: str, source: bytes) -> bytes:
    """Bytecode that Python loads without comparing it to the source's time or hash."""
    code = compile(source, name, "exec", dont_inherit=True)
    header = importlib.util.MAGIC_NUMBER + _UNCHECKED_HASH_PYC.to_bytes(4, "little") + importlib.util.source_hash(source)
    return header + marshal.dumps(code)


def overlay_files() -> list[tuple[str, Path]]:
    """(name in zip, file) for the placeholder packages, sources only."""
    return sorted((p.relative_to(OVERLAY).as_posix(), p) for p in OVERLAY.rglob("*.py"))


def prune(source: Path, target: Path) -> dict[str, int]:
    """Write `target` from `source` without the dropped entries, plus the overlay; return counts.

    Bytecode is (re)written for every kept module when this Python is the runtime's version.
    """
    kept = removed = removed_bytes = compiled = 0
    compile_bytecode = sys.version_info[:2] == RUNTIME
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".zip", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        with zipfile.ZipFile(source) as src, zipfile.ZipFile(tmp_path, "w", zipfile.ZIP_DEFLATED) as dst:
            sources: dict[str, bytes] = {}
            for info in src.infolist():
                if dropped(info.filename):
                    removed += 1
                    removed_bytes += info.file_size
                    continue
                data = src.read(info)
                if info.filename.endswith(".py"):
                    sources[info.filename] = data
                if compile_bytecode and info.filename.endswith(".pyc"):
                    continue  # replaced below for modules with a source; orphans are not importable anyway
                dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                kept += 1
            sources.update((name, path.read_bytes()) for name, path in overlay_files())
            for name, path in overlay_files():
                dst.writestr(_info(name), sources[name], compress_type=zipfile.ZIP_DEFLATED)
            if compile_bytecode:
                for name, data in sorted(sources.items()):
                    try:
                        pyc = unchecked_pyc(name, data)
                    except (SyntaxError, ValueError):
                        continue  # e.g. a template or a Python 2 file shipped as data: never imported
                    dst.writestr(_info(pyc_name(name)), pyc, compress_type=zipfile.ZIP_DEFLATED)
                    compiled += 1
        tmp_path.chmod(0o644)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)
    return {"kept": kept, "removed": removed, "removed_bytes": removed_bytes, "overlay": len(overlay_files()), "compiled": compiled}


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zip", type=Path, help="the zip `zappa package` wrote")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of replacing the input")
    args = parser.parse_args()
    counts = prune(args.zip, args.output or args.zip)
    print(f"pruned {args.zip}: kept {counts['kept']} entries, removed {counts['removed']} "
          f"({counts['removed_bytes'] / 2**20:.1f} MiB unzipped), added {counts['overlay']} placeholder files, "
          f"wrote {counts['compiled']} unchecked-hash .pyc files")  # fmt: skip


if __name__ == "__main__":
    main()
