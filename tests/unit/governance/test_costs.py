"""What a role without ``costs:read`` is shown: the order, its reasons and its quantities, with
the unit costs, the totals and the amounts in its texts left out."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

from tests.unit.ai.test_audited import EchoProvider, ListSink
from tillwise.ai.audited import AuditedLLM, explain
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal
from tillwise.governance.audit import AuditEntry
from tillwise.governance.costs import (
    HIDDEN,
    audit_entries_shown_to,
    proposal_shown_to,
    vendors_shown_to,
)
from tillwise.governance.principal import Principal
from tillwise.governance.rbac import ROLES, has_permission

ASSOCIATE = Principal(id="ollie", role="associate")
BUYER = Principal(id="bea", role="buyer")


def _proposal(kind: str = "draft_purchase_order", **fields: Any) -> Proposal:
    base: dict[str, Any] = {
        "id": "0f1e2d3c-0000-0000-0000-000000000000",
        "kind": kind,
        "workflow": "replenishment",
        "connection_id": "con_1",
        "location_external_id": "shop-1",
        "created_at": datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        # as this version writes it, and as one stored before Money.display() wrote it
        "summary": "Order 1,204 units (2 SKUs) from Acme for Leeds, worth £12,340.50",
        "explanation": "Total £12,340.50. The vendor's minimum order of 500.00 GBP is met.",
        "value": Money(amount=1234050, currency="GBP"),
        "payload": {
            "currency": "GBP",
            "value": "12340.50",
            "vendor_minimum": {"min_order_value": "500.00", "raised": []},
            "explanation": "Total £12,340.50.",
            "lines": [
                {
                    "sku": "A-1",
                    "quantity": 1200,
                    "unit_cost": "10.25",
                    "line_total": "12300.00",
                    "justification": {"text": "Order 1,200 units (100 cases of 12).", "rule": "x"},
                },
            ],
        },
        "inputs": {"lines": {"A-1": {"on_hand": 3, "reorder_point": 40}}},
    }
    return Proposal(**(base | fields))


def test_a_purchase_order_keeps_its_quantities_and_reasons_and_loses_its_costs() -> None:
    result = {"reference": "PO-7", "details": {"total": "12340.50", "pdf": "po.pdf"}}
    order = _proposal()
    assert proposal_shown_to(BUYER, order, result) == (order, result, False)
    shown, shown_result, hidden = proposal_shown_to(ASSOCIATE, order, result)
    assert hidden
    assert shown.value is None
    assert shown.summary == f"Order 1,204 units (2 SKUs) from Acme for Leeds, worth {HIDDEN}"
    assert shown.explanation == (f"Total {HIDDEN}. The vendor's minimum order of {HIDDEN} is met.")
    pay = shown.payload
    assert pay["value"] is None and pay["vendor_minimum"] == {"min_order_value": None, "raised": []}
    assert pay["explanation"] == f"Total {HIDDEN}."
    [line] = pay["lines"]
    assert (line["sku"], line["quantity"]) == ("A-1", 1200)
    assert line["unit_cost"] is None and line["line_total"] is None
    # counts of units are not money: "1,200 units" stays
    assert line["justification"]["text"] == "Order 1,200 units (100 cases of 12)."
    assert shown.inputs == {"lines": {"A-1": {"on_hand": 3, "reorder_point": 40}}}
    assert shown_result == {"reference": "PO-7", "details": {"total": None, "pdf": "po.pdf"}}


def test_amounts_that_are_not_costs_are_shown() -> None:
    # a stock correction is valued at the shelf price, which every associate sees on the tag
    count = _proposal(
        kind="stock_adjustment",
        summary="Correct A-1 by -3",
        explanation="the difference is worth £7.65 at the SKU's unit price",
        payload={"sku": "A-1", "delta": -3},
        value=Money(amount=765, currency="GBP"),
    )
    shown, _, hidden = proposal_shown_to(ASSOCIATE, count)
    assert shown == count and not hidden


def test_only_floor_roles_go_without_costs() -> None:
    have = {name for name in ROLES if has_permission(name, "costs:read")}
    assert have == set(ROLES) - {"associate", "pos_extension"}  # the floor and the till


def test_a_vendor_keeps_its_terms_but_not_its_prices() -> None:
    vendor = {
        "vendor_id": "v-1",
        "lead_time_days": 7,
        "min_order_value": "500.00 GBP",
        "items": [{"sku": "A-1", "unit_cost": "10.25 GBP", "case_pack": 12, "moq": 0}],
    }
    assert vendors_shown_to(BUYER, [vendor]) == [vendor]
    [shown] = vendors_shown_to(ASSOCIATE, [vendor])
    assert shown["lead_time_days"] == 7 and shown["min_order_value"] is None
    assert shown["items"] == [{"sku": "A-1", "unit_cost": None, "case_pack": 12, "moq": 0}]
    assert shown["costs_hidden"] is True


def test_an_audit_entry_keeps_what_happened_and_loses_the_costs_it_holds() -> None:
    order = _proposal()
    queued = AuditEntry(
        id=7,
        at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        actor="workflow:replenishment",
        action="proposal.queued",
        store="con_1:shop-1",
        inputs={"proposal": order.model_dump(mode="json"), "mode": "draft"},
        outputs={"status": "pending", "required_approvals": 1},
        prev_hash="0" * 64,
        hash="1" * 64,
    )
    changed = dataclasses.replace(queued, id=8, action="mode.changed", inputs={})
    assert [e["inputs"] for e in audit_entries_shown_to(BUYER, [queued])] == [queued.inputs]
    shown, untouched = audit_entries_shown_to(ASSOCIATE, [queued, changed])
    proposal = shown["inputs"]["proposal"]
    assert shown["costs_hidden"] and proposal["value"] is None
    assert proposal["summary"] == f"Order 1,204 units (2 SKUs) from Acme for Leeds, worth {HIDDEN}"
    [line] = proposal["payload"]["lines"]
    assert (line["quantity"], line["unit_cost"], line["line_total"]) == (1200, None, None)
    assert (shown["action"], shown["hash"], shown["outputs"]) == (
        "proposal.queued",
        "1" * 64,
        {"status": "pending", "required_approvals": 1},
    )
    assert untouched["costs_hidden"] is False  # nothing in it was a cost


def test_a_language_model_call_about_an_order_is_shown_without_its_texts() -> None:
    """The model was given the order as free text and may repeat a cost in any form: a reader
    without costs:read sees that the call was made, by whom, for what and at what usage, not
    what was said. A call about something else keeps its texts."""
    sink = ListSink()
    order = _proposal()
    llm = AuditedLLM(EchoProvider("Acme's 1,204 units at 10.25 each are due."), sink)
    for purpose, facts, context in (
        ("proposal.explain:draft_purchase_order", order.explanation, {"inputs": order.inputs}),
        ("risk.explain", "Three no-sales in an hour.", {"inputs": {"count": 3}}),
    ):
        asyncio.run(explain(facts, llm=llm, actor="user:bea", purpose=purpose, context=context))
    entries = [
        AuditEntry(id=n, at=order.created_at, prev_hash="0" * 64, hash=f"{n}" * 64, **fields)
        for n, fields in enumerate(sink.entries, start=1)
    ]
    assert audit_entries_shown_to(BUYER, entries)[0]["inputs"] == sink.entries[0]["inputs"]
    about_order, about_risk = audit_entries_shown_to(ASSOCIATE, entries)
    assert about_order["costs_hidden"] is True
    assert {m["content"] for m in about_order["inputs"]["messages"]} == {HIDDEN}
    assert about_order["outputs"]["text"] == HIDDEN
    assert about_order["inputs"]["purpose"] == "proposal.explain:draft_purchase_order"
    assert about_order["outputs"]["usage"] == {"prompt": 10, "completion": 5, "total": 15}
    assert about_risk["costs_hidden"] is False
    assert about_risk["inputs"] == sink.entries[1]["inputs"]
