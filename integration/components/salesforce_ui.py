"""Renderers for the manifest's Salesforce quick actions, report types, report folders and
reports (pure: dataclass in, metadata XML out; the element names are the Metadata API's,
in the order Salesforce writes them on retrieve)."""
from __future__ import annotations

from typing import Callable, Iterable

from integration.components.kinds import SfQuickAction, SfReport, SfReportFolder, SfReportType

Doc = Callable[[str, Iterable[str]], str]
El = Callable[[str, object], str]


def quick_action(q: SfQuickAction, doc: Doc, el: El) -> str:
    overrides = [f"<fieldOverrides>{el('field', field)}{el('formula', formula)}</fieldOverrides>" for field, formula in q.overrides]
    items = "".join(f"<quickActionLayoutItems>{el('emptySpace', False)}{el('field', f)}{el('uiBehavior', 'Edit')}</quickActionLayoutItems>" for f in q.fields)
    layout = f"<quickActionLayout>{el('layoutSectionStyle', 'TwoColumnsLeftToRight')}<quickActionLayoutColumns>{items}</quickActionLayoutColumns><quickActionLayoutColumns/></quickActionLayout>"
    return doc("QuickAction", [*overrides, el("label", q.label), el("optionsCreateFeedItem", False), layout,
                               el("targetObject", q.target_object), el("targetParentField", q.target_parent_field), el("type", "Create")])  # fmt: skip


def report_type(r: SfReportType, doc: Doc, el: El) -> str:
    columns = "".join(f"<columns>{el('checkedByDefault', True)}{el('field', f)}{el('table', r.base_object)}</columns>" for f in r.fields)
    return doc("ReportType", [el("baseObject", r.base_object), el("category", "other"), el("deployed", True), el("description", r.description),
                              el("label", r.label), f"<sections>{columns}{el('masterLabel', r.label)}</sections>"])  # fmt: skip


def report_folder(f: SfReportFolder, doc: Doc, el: El) -> str:
    return doc("ReportFolder", [el("accessType", "Public"), el("name", f.label), el("publicFolderAccess", "ReadOnly")])


def report(r: SfReport, doc: Doc, el: El) -> str:
    columns = [f"<columns>{el('aggregateTypes', 'Average')}{el('field', c)}</columns>" for c in r.averaged]
    columns += [f"<columns>{el('field', c)}</columns>" for c in r.details]
    groupings = [f"<groupingsDown>{el('dateGranularity', 'Day')}{el('field', g)}{el('sortOrder', 'Asc')}</groupingsDown>" for g in (r.grouping, *r.subgroupings)]
    criteria = "".join(f"<criteriaItems>{el('column', c)}{el('columnToColumn', False)}{el('isUnlocked', True)}{el('operator', op)}{el('value', v)}</criteriaItems>"
                       for c, op, v in r.filters)  # fmt: skip
    return doc("Report", [
        *columns, el("description", r.description), f"<filter>{criteria}</filter>", el("format", "Summary"),
        *groupings,
        el("name", r.label), el("reportType", r.report_type), el("scope", "organization"), el("showDetails", False),
        el("showGrandTotal", True), el("showSubTotals", True),
        f"<timeFrameFilter>{el('dateColumn', r.date_column)}{el('interval', r.interval)}</timeFrameFilter>",
    ])  # fmt: skip
