"""The files generated from the manifest: no drift, each one complete, and the real Salesforce
CLI converts the SFDX project into exactly the package the installer deploys."""
from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from integration.components import build
from integration.components.manifest import MANIFEST, SfField
from integration.components.salesforce_source import SOURCE_ROOT, members, package

ROOT = Path(__file__).resolve().parents[1]
SF = ROOT / "node_modules" / ".bin" / "sf"
MD = "{http://soap.sforce.com/2006/04/metadata}"
NEW_FIELD = SfField("Activity", "GameFilm_Score__c", "Game Film Score", "Text", "A later field.", length=10)


def test_generated_files_match_the_manifest():
    assert build.drift() == [], "run `gamefilm components build` and commit the result"


def test_a_new_field_is_one_manifest_entry_and_drift_names_the_stale_files(tmp_path):
    shutil.copytree(build.COMPONENTS_DIR, tmp_path / "crm_components")
    root = tmp_path / "crm_components"
    grown = dataclasses.replace(MANIFEST, sf_fields=MANIFEST.sf_fields + (NEW_FIELD,))
    assert build.drift(grown, root) == [
        f"salesforce/{SOURCE_ROOT}/objects/Activity/fields/GameFilm_Score__c.field-meta.xml: missing",
        f"salesforce/{SOURCE_ROOT}/permissionsets/GameFilm_Integration.permissionset-meta.xml: differs from the manifest",
    ]
    assert len(build.write(grown, root)) == 2 and build.drift(grown, root) == []
    assert build.drift(MANIFEST, root) == [f"salesforce/{SOURCE_ROOT}/permissionsets/GameFilm_Integration.permissionset-meta.xml: differs from the manifest",
                                           f"salesforce/{SOURCE_ROOT}/objects/Activity/fields/GameFilm_Score__c.field-meta.xml: not in the manifest (remove it or add it there)"]  # fmt: skip
    assert "<field>Task.GameFilm_Score__c</field>" in (root / f"salesforce/{SOURCE_ROOT}/permissionsets/GameFilm_Integration.permissionset-meta.xml").read_text()


def test_every_field_file_has_the_elements_a_deploy_needs():
    """`sf project convert` checks structure, not content: check each field here."""
    for f in MANIFEST.sf_fields:
        xml = ET.fromstring((build.COMPONENTS_DIR / f"salesforce/{SOURCE_ROOT}/objects/{f.object}/fields/{f.name}.field-meta.xml").read_text())
        values = {c.tag.removeprefix(MD): c.text for c in xml}
        assert values["fullName"] == f.name and values["label"] and values["type"] == f.type
        if f.type == "Text":
            assert values["length"] == str(f.length) and values["unique"] == str(f.unique).lower()
        assert values["externalId"] == str(f.external_id).lower()


def _tree(text: str) -> object:
    def norm(e: ET.Element) -> object:
        return (e.tag, (e.text or "").strip(), sorted((norm(c) for c in e), key=repr))
    return norm(ET.fromstring(text))


def test_the_salesforce_cli_converts_the_project_into_exactly_the_installers_package(tmp_path):
    if not SF.exists():
        if os.environ.get("CI"):
            pytest.fail("node_modules/.bin/sf is missing: `make test` installs it with npm ci")
        pytest.skip("node_modules/.bin/sf is missing: run `npm ci` (make test does)")
    env = {**os.environ, "SF_DISABLE_TELEMETRY": "true", "SF_AUTOUPDATE_DISABLE": "true", "SF_SKIP_NEW_VERSION_CHECK": "true",
           "SFDX_DISABLE_TELEMETRY": "true", "SFDX_AUTOUPDATE_DISABLE": "true", "HOME": str(tmp_path)}  # fmt: skip
    out = tmp_path / "mdapi"
    subprocess.run([str(SF), "project", "convert", "source", "--root-dir", "force-app", "--output-dir", str(out)],
                   cwd=build.COMPONENTS_DIR / "salesforce", env=env, check=True, capture_output=True, timeout=120)  # fmt: skip
    listed = ET.fromstring((out / "package.xml").read_text())
    converted = {t.findtext(f"{MD}name"): sorted(m.text or "" for m in t.findall(f"{MD}members")) for t in listed.findall(f"{MD}types")}
    assert converted == members(MANIFEST)

    ours = zipfile.ZipFile(io.BytesIO(package(MANIFEST, build.apex_bodies(), members(MANIFEST), members(MANIFEST))))
    theirs = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {n for n in ours.namelist() if not n.startswith("staticresources/")} == theirs  # ours adds only the install stamp
    for name in theirs - {"package.xml"}:
        text = (out / name).read_text()
        mine = ours.read(name).decode()
        assert (mine == text) if name.endswith(".cls") else (_tree(mine) == _tree(text)), name
