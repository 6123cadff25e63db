"""Who sees what the retailer pays: unit costs and purchase-order values need ``costs:read``.

Floor staff (the associate role) see what will be reordered and why, not what it costs — what
a POS's "view product costs" staff permission guards. Every API answer that carries costs
passes through here, so a role without the permission gets the same proposal, vendor or
audit entry with the costs left out (``None``) and the amounts in its texts written as
:data:`HIDDEN`. The stored records keep everything; only what is shown changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tillwise.ai.audited import AUDIT_ACTION as LLM_CALL
from tillwise.domain.errors import InvalidMoney
from tillwise.domain.money import Money, exponent
from tillwise.domain.proposals import Proposal
from tillwise.governance.audit import AuditEntry
from tillwise.governance.principal import Principal

PERMISSION = "costs:read"
HIDDEN = "(cost hidden)"
# proposal kinds whose amounts are what the retailer pays (a stock adjustment's value is the
# shelf price, a risk case's the customer's payment: those are not costs)
COST_KINDS = frozenset({"draft_purchase_order"})
# the keys that hold a cost or a sum of costs, at any depth of a payload, inputs or result
COST_KEYS = frozenset({"unit_cost", "line_total", "value", "total", "min_order_value"})


def proposal_shown_to(
    principal: Principal, p: Proposal, result: Mapping[str, Any] | None = None
) -> tuple[Proposal, Any, bool]:
    """A proposal and its write-back's result (a PO document's total, say) as ``principal``
    may see them, and whether costs were left out."""
    if principal.can(PERMISSION) or p.kind not in COST_KINDS:
        return p, result, False
    shown, blanked = without_costs(p, result)
    return shown, blanked, True


def vendors_shown_to(principal: Principal, vendors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Vendors as ``tillwise.workflows.replenishment.terms.vendors_public`` gives them, as
    ``principal`` may see them."""
    return vendors if principal.can(PERMISSION) else [vendor_without_costs(v) for v in vendors]


def plan_items_shown_to(principal: Principal, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A plan's items as ``tillwise.workflows.replenishment.planner.item_public`` gives them, as
    ``principal`` may see them: an item's overstock at cost is a cost."""
    if principal.can(PERMISSION):
        return items
    return [{**i, "excess_value": None, "costs_hidden": True} for i in items]


def audit_entries_shown_to(
    principal: Principal, entries: Iterable[AuditEntry]
) -> list[dict[str, Any]]:
    """Audit entries as ``principal`` may see them. Whatever the action (a proposal queued or
    approved, a purchase order written, vendor terms imported), an entry's inputs and outputs
    may hold costs: without :data:`PERMISSION` they are left out at any depth and the amounts
    in its texts written as :data:`HIDDEN`; ``costs_hidden`` marks an entry that had some."""
    shown = [dataclasses.asdict(e) for e in entries]
    if principal.can(PERMISSION):
        return shown
    return [audit_entry_without_costs(e) for e in shown]


def without_costs(p: Proposal, result: Mapping[str, Any] | None = None) -> tuple[Proposal, Any]:
    """A proposal of :data:`COST_KINDS` and its result as a reader without :data:`PERMISSION`
    sees them."""
    currency = p.value.currency if p.value is not None else p.payload.get("currency")
    hide = _hiding([currency] if isinstance(currency, str) and currency else [])
    shown = p.model_copy(
        update={
            "summary": hide(p.summary),
            "explanation": hide(p.explanation),
            "payload": hide(p.payload),
            "inputs": hide(p.inputs),
            "value": None,
        }
    )
    return shown, hide(result)


def vendor_without_costs(vendor: Mapping[str, Any]) -> dict[str, Any]:
    """A vendor as ``tillwise.workflows.replenishment.terms.vendor_public`` gives it, without
    its minimum order value and its items' unit costs (``costs_hidden`` says so)."""
    return {
        **vendor,
        "min_order_value": None,
        "items": [{**i, "unit_cost": None} for i in vendor.get("items") or []],
        "costs_hidden": True,
    }


def audit_entry_without_costs(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An audit entry (as a dict) as a reader without :data:`PERMISSION` sees it; the amounts
    in its texts are those of the currencies the entry names."""
    recorded = {"inputs": entry.get("inputs"), "outputs": entry.get("outputs")}
    if entry.get("action") == LLM_CALL:  # texts, and a ``usage.total`` that is no cost
        shown = _llm_call_without_texts(recorded) if _llm_call_on_costs(recorded) else recorded
    else:
        shown = _hiding(_currencies(recorded))(recorded)
    return {**entry, **shown, "costs_hidden": shown != recorded}


def _llm_call_on_costs(recorded: Mapping[str, Any]) -> bool:
    """Whether a language-model call was about costs: made for a proposal of
    :data:`COST_KINDS` (``proposal.explain:<kind>``), or quoting a cost key as JSON."""
    inputs = recorded.get("inputs") or {}
    purpose = str(inputs.get("purpose") or "")
    if purpose.rpartition(":")[2] in COST_KINDS:
        return True
    texts = [str(m.get("content", "")) for m in inputs.get("messages") or []]
    texts.append(str((recorded.get("outputs") or {}).get("text", "")))
    return any(f'"{key}"' in text for text in texts for key in COST_KEYS)


def _llm_call_without_texts(recorded: Mapping[str, Any]) -> dict[str, Any]:
    """A call about costs without its messages and answer: the model was given the facts as
    free text (a payload as JSON, amounts in sentences) and may have repeated any of them in
    any form, so the texts are left out whole; purpose, model, settings and usage stay."""
    inputs = dict(recorded.get("inputs") or {})
    outputs = recorded.get("outputs")
    inputs["messages"] = [{**m, "content": HIDDEN} for m in inputs.get("messages") or []]
    if isinstance(outputs, Mapping):
        outputs = {**outputs, **{k: HIDDEN for k in ("text", "message") if k in outputs}}
    return {"inputs": inputs, "outputs": outputs}


def _hiding(currencies: Iterable[str]) -> Callable[[Any], Any]:
    """What leaves the costs out of data: :data:`COST_KEYS` blanked at any depth, and the
    amounts of ``currencies`` in its texts written as :data:`HIDDEN`."""
    amounts = [Money.written(c) for c in sorted(set(currencies))]

    def hide(data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: None if k in COST_KEYS else hide(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [hide(v) for v in data]
        if isinstance(data, str):
            for amount in amounts:
                data = amount.sub(HIDDEN, data)
        return data

    return hide


def _currencies(data: Any) -> set[str]:
    """The ISO 4217 codes ``data`` names as a ``currency``, at any depth."""
    found: set[str] = set()
    if isinstance(data, Mapping):
        code = data.get("currency")
        if isinstance(code, str) and _is_currency(code):
            found.add(code.upper())
        for value in data.values():
            found |= _currencies(value)
    elif isinstance(data, list | tuple):
        for value in data:
            found |= _currencies(value)
    return found


def _is_currency(code: str) -> bool:
    try:
        exponent(code)
    except InvalidMoney:
        return False
    return True
