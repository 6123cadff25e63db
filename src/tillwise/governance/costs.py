"""Who sees what the retailer pays: unit costs and purchase-order values need ``costs:read``.

Floor staff (the associate role) see what will be reordered and why, not what it costs — what
a POS's "view product costs" staff permission guards. Every API answer that carries costs
passes through here, so a role without the permission gets the same proposal or vendor with
the costs left out (``None``) and the amounts in its texts written as :data:`HIDDEN`. The
stored records keep everything; only what is shown changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal
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


def without_costs(p: Proposal, result: Mapping[str, Any] | None = None) -> tuple[Proposal, Any]:
    """A proposal of :data:`COST_KINDS` and its result as a reader without :data:`PERMISSION`
    sees them."""
    currency = p.value.currency if p.value is not None else p.payload.get("currency")
    written = Money.written(currency) if isinstance(currency, str) and currency else None

    def text(value: str) -> str:
        return value if written is None else written.sub(HIDDEN, value)

    def blank(data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: None if k in COST_KEYS else blank(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [blank(v) for v in data]
        return text(data) if isinstance(data, str) else data

    shown = p.model_copy(
        update={
            "summary": text(p.summary),
            "explanation": text(p.explanation),
            "payload": blank(p.payload),
            "inputs": blank(p.inputs),
            "value": None,
        }
    )
    return shown, blank(result)


def vendor_without_costs(vendor: Mapping[str, Any]) -> dict[str, Any]:
    """A vendor as ``tillwise.workflows.replenishment.terms.vendor_public`` gives it, without
    its minimum order value and its items' unit costs (``costs_hidden`` says so)."""
    return {
        **vendor,
        "min_order_value": None,
        "items": [{**i, "unit_cost": None} for i in vendor.get("items") or []],
        "costs_hidden": True,
    }
