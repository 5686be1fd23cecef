"""Renderers for the review notification: the outbound message (Workflow metadata: the only
place an outbound message is defined) and the record-triggered flow that sends it (a flow
action of type `outboundMessage`; new workflow rules can no longer be created in Setup).

The endpoint and the integration user differ per tenant: the files hold the placeholders
below and `filled` swaps in the tenant's values when the installer builds the deploy zip.
"""
from __future__ import annotations

from typing import Callable, Iterable
from xml.sax.saxutils import escape

from integration.components.kinds import API_VERSION, SfFlow, SfOutboundMessage

Doc = Callable[[str, Iterable[str]], str]
El = Callable[[str, object], str]

ENDPOINT_BASE = "https://gamefilm.invalid"  # stands for the tenant's intake.public_base_url
INTEGRATION_USER = "integration-user@gamefilm.invalid"  # stands for the Salesforce tenant's username


def _outbound_message(m: SfOutboundMessage, el: El) -> str:
    fields = "".join(el("fields", f) for f in m.fields)
    return (f"<outboundMessages>{el('fullName', m.name)}{el('apiVersion', API_VERSION)}{el('description', m.description)}"
            f"{el('endpointUrl', ENDPOINT_BASE + m.path)}{fields}{el('includeSessionId', False)}{el('integrationUser', INTEGRATION_USER)}"
            f"{el('name', m.label)}{el('protected', False)}{el('useDeadLetterQueue', False)}</outboundMessages>")  # fmt: skip


def workflow(messages: Iterable[SfOutboundMessage], doc: Doc, el: El) -> str:
    """One object's Workflow file: its outbound messages, no rules (the flow sends them)."""
    return doc("Workflow", [_outbound_message(m, el) for m in messages])


def workflows(messages: Iterable[SfOutboundMessage], doc: Doc, el: El) -> dict[str, str]:
    """Object -> its Workflow file."""
    by_object: dict[str, list[SfOutboundMessage]] = {}
    for m in messages:
        by_object.setdefault(m.object, []).append(m)
    return {obj: workflow(ms, doc, el) for obj, ms in sorted(by_object.items())}


def flow(f: SfFlow, doc: Doc, el: El) -> str:
    action = "Send_Outbound_Message"
    call = (f"<actionCalls>{el('name', action)}{el('label', 'Send outbound message')}{el('locationX', 176)}{el('locationY', 323)}"
            f"{el('actionName', f.outbound_message)}{el('actionType', 'outboundMessage')}{el('flowTransactionModel', 'CurrentTransaction')}</actionCalls>")  # fmt: skip
    start = (f"<start>{el('locationX', 50)}{el('locationY', 0)}<connector>{el('targetReference', action)}</connector>{el('object', f.object)}"
             f"{el('recordTriggerType', 'CreateAndUpdate')}{el('triggerType', 'RecordAfterSave')}</start>")  # fmt: skip
    # Game Film's own write-back (score, error) edits the record as the integration user: sending that
    # edit back would loop. Entry formulas need API 55+ throughout (Salesforce help 000394500).
    skip_own = el("filterFormula", f"{{!$User.Username}} <> '{INTEGRATION_USER}'")
    start = start.replace("<object>", skip_own + "<object>", 1)
    return doc("Flow", [call, el("apiVersion", API_VERSION), el("description", f.description), el("label", f.label),
                        el("processType", "AutoLaunchedFlow"), start, el("status", "Active")])  # fmt: skip


def filled(text: str, public_base_url: str | None, integration_user: str | None) -> str:
    """`text` with the tenant's endpoint and integration user in place of the placeholders."""
    if public_base_url:
        text = text.replace(f"<endpointUrl>{ENDPOINT_BASE}", f"<endpointUrl>{escape(public_base_url.rstrip('/'))}")
    if integration_user:  # the outbound message's sender and the flow's skip-own-edits formula
        quoted = integration_user.replace("\\", "\\\\").replace("'", "\\'")  # inside the formula's string literal
        text = text.replace(f"'{INTEGRATION_USER}'", escape(f"'{quoted}'")).replace(INTEGRATION_USER, escape(integration_user))
    return text
