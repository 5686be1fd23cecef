"""Writing and checking the files generated from the manifest (`gamefilm components build`).

Generated: the SFDX project's metadata files under crm_components/salesforce and
crm_components/hubspot/properties.json (the groups and properties in the properties API's
own request shapes, for admins who create them by hand). Hand-written: the Apex bodies.
"""
from __future__ import annotations

import json
from pathlib import Path

from integration.components.manifest import MANIFEST, Manifest
from integration.components.salesforce_source import SOURCE_ROOT, source_files

COMPONENTS_DIR = Path(__file__).resolve().parents[2] / "crm_components"


def hubspot_file(manifest: Manifest) -> str:
    groups = [{"objectType": g.object, "name": g.name, "label": g.label} for g in manifest.hubspot_groups]
    properties = [
        {"objectType": p.object, "name": p.name, "label": p.label, "type": p.type, "fieldType": p.field_type,
         "groupName": p.group, "description": p.description, "hasUniqueValue": p.has_unique_value}
        for p in manifest.hubspot_properties
    ]  # fmt: skip
    return json.dumps({"groups": groups, "properties": properties}, indent=2) + "\n"


def generated(manifest: Manifest = MANIFEST) -> dict[str, str]:
    """Every generated file by path relative to crm_components/."""
    files = {f"salesforce/{path}": text for path, text in source_files(manifest).items()}
    files["hubspot/properties.json"] = hubspot_file(manifest)
    return files


def apex_bodies(manifest: Manifest = MANIFEST, root: Path = COMPONENTS_DIR) -> dict[str, str]:
    classes = root / "salesforce" / SOURCE_ROOT / "classes"
    return {c.name: (classes / f"{c.name}.cls").read_text() for c in manifest.sf_apex_classes}


def drift(manifest: Manifest = MANIFEST, root: Path = COMPONENTS_DIR) -> list[str]:
    """Generated files that are missing or differ, and stale metadata files nothing generates."""
    wanted = generated(manifest)
    problems = [f"{path}: {'missing' if not (root / path).exists() else 'differs from the manifest'}" for path, text in sorted(wanted.items())
                if not (root / path).exists() or (root / path).read_text() != text]  # fmt: skip
    metadata = root / "salesforce" / SOURCE_ROOT
    for path in sorted(metadata.rglob("*-meta.xml")) if metadata.exists() else []:
        relative = path.relative_to(root).as_posix()
        if relative not in wanted:
            problems.append(f"{relative}: not in the manifest (remove it or add it there)")
    return problems


def write(manifest: Manifest = MANIFEST, root: Path = COMPONENTS_DIR) -> list[str]:
    """Write what differs; answer the paths written."""
    written = []
    for path, text in sorted(generated(manifest).items()):
        target = root / path
        if not target.exists() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.append(path)
    return written
