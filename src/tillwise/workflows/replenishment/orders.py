"""Draft purchase orders: planned lines grouped per vendor, merged into the store's open draft.

Pure: no I/O, no clock (``today`` is passed in).

Grouping
    :func:`draft_orders` plans one store at a time (``location_external_id``, or the lines' own
    ``location_external_id``; ``location_name`` names it in the texts and the vendor's note).
    Lines are grouped by their vendor (``terms.vendor_external_id``);
    a line whose vendor is unknown (None, or missing from ``vendors``) cannot be ordered and is
    left out — :func:`unorderable` lists such lines so the planner can report them. Lines with
    quantity 0 order nothing, but they stay candidates for reaching the vendor's minimum order
    value (below), so pass the covered SKUs of a vendor too. Orders come back sorted by vendor
    id, their payload lines by SKU. The expected receipt date is ``today`` + the vendor's lead
    time.

Merging into the open draft (``existing``: vendor id -> payload of the store's pending draft)
    The planner counts the pending draft's quantities as *on order* (``Position.on_order``,
    with ``Position.in_draft`` saying how much of it is on that draft), so a decision's quantity
    is what is needed **on top of** the draft. The merge therefore **adds**: the draft's line
    for the same SKU becomes ``draft quantity + new quantity``
    (``PlannedLine.already_in_draft`` keeps the first part). Replacing the line by the new
    quantity instead would drop what the draft already holds (the new decision is 0 when the
    draft covers the need) — and not counting the draft as on order would re-propose the same
    shortfall every night. The merge never drops a line: a draft line whose SKU gets no new
    quantity is kept exactly as it is (its quantity and its original justification), and so is
    a draft line for a SKU the run did not plan. A planner run only ever grows a pending draft;
    a person shrinks it by editing or rejecting the proposal. When the run adds nothing to a
    vendor's draft, no order is returned for that vendor (the pending proposal stands
    unchanged); ``DraftOrder.merged`` tells the planner to update the pending proposal rather
    than create a new one.

Vendor minimum order value (``VendorInfo.min_order_value``)
    When the order (new lines and kept draft lines) is worth less than the minimum, lines are
    raised one step at a time — a case pack (the first step of a line not yet ordered goes to
    the MOQ) — always on the line with the **lowest weeks of cover** (ties: SKU), never above
    the line's maximum stock, never past ``max_cover_weeks`` of cover, and never for an item
    with no demand forecast, no known unit cost or reordering stopped (rule ``stopped``); each
    raised line gets the rule ``raised_for_vendor_minimum``. If the minimum cannot be reached
    that way, the order keeps its needed quantities and is **held** (``DraftOrder.held`` says
    why): the planner should not propose it as a purchase order (show it as held, or propose it
    in shadow), and the buyer decides. When a unit cost is unknown the order's value is
    unknown: it is neither raised nor held, and the notes say the minimum could not be checked.

Payload (the ``draft_purchase_order`` proposal, read by ``connectors/_po_documents.py`` and
the platform write-backs)::

    {"vendor": {"external_id", "name", "email"}, "location_external_id", "currency",
     "expected_on": "YYYY-MM-DD", "notes": <for the vendor: deliver to / by>,
     "explanation": <explain_order text, for the buyer>, "held": str | None,
     "value": "123.45" | None, "lead_time_days": int, "merged": bool,
     "vendor_minimum": {"min_order_value": "150.00" | None, "raised": [sku, ...]},
     "lines": [{"sku", "name", "quantity": int, "unit_cost": "2.95" | None,
                "line_total": "35.40" | None, "already_in_draft": int,
                "justification": {"text", "rule", "forecast": {...}, "policy": {...}}}]}

``justification.forecast`` is ``PlannedLine.forecast`` as the planner gave it (method, model,
version, daily mean, accuracy ...); ``justification.policy`` is built here from the decision,
the position, the outlook and the terms (see :meth:`PlannedLine.policy`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from tillwise.domain.money import Money, exponent

from .explain import explain_line, explain_order, summarize_line
from .policy import Decision, Outlook, Position, Rule, Terms, weeks_of_cover

DEFAULT_MAX_COVER_WEEKS = 13.0  # raising for a vendor minimum stops at a quarter of cover
_NO_DRAFTS: Mapping[str, Mapping[str, Any]] = MappingProxyType({})


def money_text(money: Money) -> str:
    """``Money`` as the decimal string the payload carries ("2.95", "300" for JPY)."""
    return f"{money.to_decimal():.{exponent(money.currency)}f}"


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class PlannedLine:
    """One SKU to order at one store, with its justification."""

    sku: str
    name: str
    quantity: int  # units this line orders (with already_in_draft included after a merge)
    unit_cost: Money | None
    decision: Decision
    outlook: Outlook
    terms: Terms
    position: Position
    forecast: dict[str, Any]  # {"method", "model", "version", "daily_mean", ..., "accuracy"}
    location_external_id: str | None = None
    already_in_draft: int = 0  # of ``quantity``, what the pending draft held before this run

    @property
    def added(self) -> int:
        """Units this run adds (to the pending draft's line, if there was one)."""
        return self.quantity - self.already_in_draft

    @property
    def position_after(self) -> int:
        """Inventory position once this run's quantity is ordered (the draft's is in it)."""
        return self.decision.inventory_position + self.added

    def line_total(self) -> Money | None:
        return None if self.unit_cost is None else self.unit_cost.times(self.quantity)

    def policy(self) -> dict[str, Any]:
        """The policy inputs and outputs, as structured data."""
        d, o, p, t = self.decision, self.outlook, self.position, self.terms
        return {
            "policy": "periodic review (R, s, S)",
            "on_hand": p.on_hand,
            "on_order": p.on_order,
            "committed": p.committed,
            "in_draft": p.in_draft,
            "inventory_position": d.inventory_position,
            "lead_time_days": o.lead_time_days,
            "review_period_days": o.review_period_days,
            "cycle_days": o.cycle_days,
            "protection_days": o.protection_days,
            "service_level": o.service_level,
            "daily_mean": _round(o.daily_mean, 3),
            "protection_mean": _round(o.protection_mean),
            "protection_quantile": _round(o.protection_quantile),
            "interval_80": None if o.interval_80 is None else [_round(v) for v in o.interval_80],
            "reorder_point": d.reorder_point,
            "order_up_to": d.order_up_to,
            "need": d.need,
            "moq": t.moq,
            "case_pack": t.case_pack,
            "max_stock": t.max_stock,
            "weeks_of_cover": _round(d.weeks_of_cover),
            "weeks_of_cover_after": _round(weeks_of_cover(self.position_after, o.daily_mean)),
            "decided_quantity": d.quantity,
            "rule": d.rule,
            "steps": list(d.steps),
            "moq_overstock": d.moq_overstock,
        }

    def justification(self) -> dict[str, Any]:
        return {
            "text": explain_line(self),
            "summary": summarize_line(self),
            "rule": self.decision.rule,
            "forecast": copy.deepcopy(dict(self.forecast)),
            "policy": self.policy(),
        }

    def payload(self) -> dict[str, Any]:
        total = self.line_total()
        return {
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "unit_cost": None if self.unit_cost is None else money_text(self.unit_cost),
            "line_total": None if total is None else money_text(total),
            "already_in_draft": self.already_in_draft,
            "justification": self.justification(),
        }


@dataclass(frozen=True)
class VendorInfo:
    external_id: str
    name: str
    email: str | None
    lead_time_days: int
    min_order_value: Money | None = None


@dataclass(frozen=True)
class DraftOrder:
    """One purchase order to propose: a store, a vendor, its lines."""

    location_external_id: str
    vendor: VendorInfo
    currency: str
    expected_on: date
    lines: tuple[PlannedLine, ...]  # lines this run planned (merged ones included), by SKU
    held: str | None  # why it is not proposed (e.g. below the vendor minimum), else None
    kept_lines: tuple[dict[str, Any], ...] = ()  # pending-draft lines kept unchanged
    merged: bool = False  # merged into the store's pending draft for this vendor
    raised_for_minimum: tuple[str, ...] = ()  # SKUs raised to reach the vendor minimum
    location_name: str | None = None  # the store's name, as the vendor and the buyer know it

    @property
    def store(self) -> str:
        """The store by name, or by its id where the POS gave no name."""
        return self.location_name or self.location_external_id

    def payload_lines(self) -> list[dict[str, Any]]:
        rows = [line.payload() for line in self.lines]
        rows += [copy.deepcopy(dict(kept)) for kept in self.kept_lines]
        return sorted(rows, key=lambda row: str(row["sku"]))

    def unknown_costs(self) -> list[str]:
        """SKUs whose unit cost is not known (the order's value is then unknown)."""
        skus = [line.sku for line in self.lines if line.unit_cost is None]
        skus += [str(kept["sku"]) for kept in self.kept_lines if kept.get("unit_cost") in _BLANK]
        return sorted(skus)

    def value(self) -> Money | None:
        """Sum of quantity x unit cost in exact minor units; None if any unit cost is unknown."""
        total = Money.zero(self.currency)
        for line in self.lines:
            line_total = line.line_total()
            if line_total is None:
                return None
            total = total + line_total
        for kept in self.kept_lines:
            kept_total = _kept_total(kept, self.currency)
            if kept_total is None:
                return None
            total = total + kept_total
        return total

    def units(self) -> int:
        return sum(line.quantity for line in self.lines) + sum(
            _quantity(kept) for kept in self.kept_lines
        )

    def notes(self) -> str:
        """The note printed on the document the vendor receives (so nothing internal)."""
        return (
            f"Deliver to {self.store} by {self.expected_on.isoformat()}. "
            "Please confirm quantities and date."
        )

    def payload(self) -> dict[str, Any]:
        """The ``draft_purchase_order`` proposal payload (module docstring)."""
        value = self.value()
        minimum = self.vendor.min_order_value
        return {
            "vendor": {
                "external_id": self.vendor.external_id,
                "name": self.vendor.name,
                "email": self.vendor.email,
            },
            "location_external_id": self.location_external_id,
            "currency": self.currency,
            "expected_on": self.expected_on.isoformat(),
            "lead_time_days": self.vendor.lead_time_days,
            "notes": self.notes(),
            "explanation": explain_order(self),
            "held": self.held,
            "merged": self.merged,
            "value": None if value is None else money_text(value),
            "vendor_minimum": {
                "min_order_value": None if minimum is None else money_text(minimum),
                "raised": list(self.raised_for_minimum),
            },
            "lines": self.payload_lines(),
        }


_BLANK = (None, "")


def _quantity(row: Mapping[str, Any]) -> int:
    """A draft line's quantity as whole units (a fraction is an error, never rounded away)."""
    raw = row.get("quantity")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(
            f"draft line {row.get('sku')!r}: quantity {raw!r} is not a number"
        ) from None
    if not value.is_finite() or value != value.to_integral_value() or value < 0:
        raise ValueError(f"draft line {row.get('sku')!r}: quantity {raw!r} is not whole units")
    return int(value)


def _kept_total(row: Mapping[str, Any], currency: str) -> Money | None:
    cost = row.get("unit_cost")
    if cost in _BLANK:
        return None
    return Money.from_decimal(str(cost), currency).times(_quantity(row))


def unorderable(
    lines: Iterable[PlannedLine], vendors: Mapping[str, VendorInfo]
) -> list[PlannedLine]:
    """Lines with something to order whose vendor is unknown: :func:`draft_orders` skips them."""
    return [
        line
        for line in lines
        if line.quantity > 0
        and (line.terms.vendor_external_id is None or line.terms.vendor_external_id not in vendors)
    ]


def draft_orders(
    lines: Iterable[PlannedLine],
    vendors: Mapping[str, VendorInfo],
    *,
    currency: str,
    today: date,
    existing: Mapping[str, Mapping[str, Any]] = _NO_DRAFTS,
    location_external_id: str | None = None,
    location_name: str | None = None,
    max_cover_weeks: float = DEFAULT_MAX_COVER_WEEKS,
) -> list[DraftOrder]:
    """Draft purchase orders for one store, one per vendor with something new to order.

    See the module docstring for grouping, the merge with ``existing`` and the vendor minimum.
    """
    planned = list(lines)
    location = _location(planned, location_external_id)
    by_vendor: dict[str, list[PlannedLine]] = {}
    for line in planned:
        _check_line(line, currency)
        vendor_id = line.terms.vendor_external_id
        if vendor_id is None or vendor_id not in vendors:
            continue
        by_vendor.setdefault(vendor_id, []).append(line)

    orders = []
    for vendor_id in sorted(by_vendor):
        vendor = vendors[vendor_id]
        draft = existing.get(vendor_id)
        if draft is not None and str(draft.get("currency") or currency) != currency:
            # a draft priced in another currency (the store's currency changed since): its
            # lines cannot be added to this order's; this order stands on its own
            draft = None
        order = _draft_for_vendor(
            vendor,
            by_vendor[vendor_id],
            draft,
            location=location,
            currency=currency,
            today=today,
            max_cover_weeks=max_cover_weeks,
        )
        if order is not None:
            orders.append(dataclasses.replace(order, location_name=location_name))
    return orders


def _location(lines: Sequence[PlannedLine], given: str | None) -> str:
    found = {line.location_external_id for line in lines if line.location_external_id}
    if given is not None:
        if found - {given}:
            raise ValueError(f"lines for {sorted(found)} given to plan store {given!r}")
        return given
    if len(found) > 1:
        raise ValueError(f"draft_orders plans one store at a time, got {sorted(found)}")
    if not found:
        if not lines:
            return ""
        raise ValueError("no store: pass location_external_id (or set it on the lines)")
    return found.pop()


def _check_line(line: PlannedLine, currency: str) -> None:
    if isinstance(line.quantity, bool) or not isinstance(line.quantity, int):
        raise TypeError(f"line {line.sku!r}: quantity must be whole units (int)")
    if line.quantity < 0 or line.already_in_draft < 0 or line.already_in_draft > line.quantity:
        raise ValueError(f"line {line.sku!r}: quantity {line.quantity} is not orderable")
    if line.unit_cost is not None and line.unit_cost.currency != currency:
        raise ValueError(
            f"line {line.sku!r}: unit cost in {line.unit_cost.currency}, order in {currency}"
        )


def _draft_for_vendor(
    vendor: VendorInfo,
    lines: list[PlannedLine],
    draft: Mapping[str, Any] | None,
    *,
    location: str,
    currency: str,
    today: date,
    max_cover_weeks: float,
) -> DraftOrder | None:
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        raise ValueError(f"vendor {vendor.external_id!r}: a SKU is planned twice")
    draft_rows: dict[str, dict[str, Any]] = {}
    kept: list[dict[str, Any]] = []
    for row in (draft or {}).get("lines") or []:
        sku = str(row["sku"])
        if sku in draft_rows:  # a duplicate SKU on the draft: merge into the first, keep this
            kept.append(dict(row))
        else:
            draft_rows[sku] = dict(row)

    merged: list[PlannedLine] = []  # candidates: every planned line, on top of the draft
    for line in lines:
        row = draft_rows.get(line.sku)
        base = 0 if row is None else _quantity(row)
        merged.append(dataclasses.replace(line, quantity=base + line.added, already_in_draft=base))
    if not any(line.added > 0 for line in merged):
        return None  # nothing new for this vendor: the pending draft (if any) stands

    def build(
        candidates: list[PlannedLine], held: str | None, raised: tuple[str, ...]
    ) -> DraftOrder:
        ordered = [ln for ln in candidates if ln.added > 0]
        in_use = {ln.sku for ln in ordered}
        keep = kept + [row for sku, row in draft_rows.items() if sku not in in_use]
        return DraftOrder(
            location_external_id=location,
            vendor=vendor,
            currency=currency,
            expected_on=today + timedelta(days=vendor.lead_time_days),
            lines=tuple(sorted(ordered, key=lambda ln: ln.sku)),
            held=held,
            kept_lines=tuple(keep),
            merged=draft is not None,
            raised_for_minimum=raised,
        )

    order = build(merged, None, ())
    minimum = vendor.min_order_value
    if minimum is not None and minimum.currency != currency:
        raise ValueError(
            f"vendor {vendor.external_id!r}: minimum order in {minimum.currency}, order in "
            f"{currency}"
        )
    value = order.value()
    if minimum is None or value is None or value.amount >= minimum.amount:
        return order
    short = minimum.amount - value.amount
    raised_lines, reached = _raise_to_minimum(merged, short, max_cover_weeks)
    if reached >= short:
        raised = tuple(
            sorted(ln.sku for ln, old in zip(raised_lines, merged, strict=True) if ln != old)
        )
        return build(raised_lines, None, raised)
    best = value + Money(amount=reached, currency=currency)
    return build(
        merged,
        (
            f"below the vendor's minimum order of {minimum.display()}: the order is worth "
            f"{value.display()}, and raising lines by whole cases (within maximum stock and "
            f"{max_cover_weeks:g} weeks of cover) reaches only {best.display()}"
        ),
        (),
    )


def _raise_to_minimum(
    lines: list[PlannedLine], short: int, max_cover_weeks: float
) -> tuple[list[PlannedLine], int]:
    """Raise lines step by step until ``short`` minor units are added, or nothing fits.

    Returns the lines (raised ones replaced) and the minor units added."""
    added = [0] * len(lines)
    total = 0
    while total < short:
        best: tuple[tuple[float, str], int, int] | None = None
        for i, line in enumerate(lines):
            step = _next_step(line, added[i], max_cover_weeks)
            if step is None:
                continue
            cover = weeks_of_cover(line.position_after + added[i], line.outlook.daily_mean)
            key = (cover if cover is not None else float("inf"), line.sku)
            if best is None or key < best[0]:
                best = (key, i, step)
        if best is None:
            break
        _, i, step = best
        cost = lines[i].unit_cost
        assert cost is not None  # _next_step never raises a line without a cost
        added[i] += step
        total += cost.times(step).amount
    raised = [
        line if extra == 0 else _raised(line, extra)
        for line, extra in zip(lines, added, strict=True)
    ]
    return raised, total


def _next_step(line: PlannedLine, added: int, max_cover_weeks: float) -> int | None:
    """Units the next raise adds to ``line``, or None when it cannot be raised further."""
    if line.unit_cost is None or line.unit_cost.amount <= 0:
        return None
    if line.decision.rule == Rule.STOPPED:  # a person stopped reordering it
        return None
    if weeks_of_cover(1, line.outlook.daily_mean) is None:  # no demand: never bought to fill up
        return None
    pack, current = line.terms.case_pack, line.quantity + added
    step = pack
    if current < line.terms.moq:  # a line not yet ordered must reach the MOQ first
        step = max(pack, -(-(line.terms.moq - current) // pack) * pack)
    after = line.position_after + added + step
    if line.terms.max_stock is not None and after > line.terms.max_stock:
        return None
    cover = weeks_of_cover(after, line.outlook.daily_mean)
    if cover is not None and cover > max_cover_weeks:
        return None
    return step


def _raised(line: PlannedLine, extra: int) -> PlannedLine:
    d = line.decision
    decision = dataclasses.replace(
        d,
        quantity=d.quantity + extra,
        rule=Rule.RAISED_FOR_VENDOR_MINIMUM.value,
        steps=(*d.steps, f"{Rule.RAISED_FOR_VENDOR_MINIMUM}:+{extra}"),
        weeks_of_cover_after=weeks_of_cover(line.position_after + extra, line.outlook.daily_mean),
    )
    return dataclasses.replace(line, quantity=line.quantity + extra, decision=decision)
