"""Plain-words explanations of replenishment proposals, built deterministically from the facts.

No model is involved: the same line, order or transfer always gives the same text (an LLM may
rephrase it later, when one is configured, from the same structured facts). Numbers are shown
the way a buyer reads them: units whole, demand to one decimal below 10 and whole above,
money as people write it (``Money.display``: "£1,234.50"), weeks of cover to one decimal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from .policy import ABC_SHARES, Decision, Rule, Transfer

if TYPE_CHECKING:
    from .orders import DraftOrder, PlannedLine

DASH = "\u2013"  # en dash for ranges: "11–26"
LUMPY_COVER_WEEKS = 26.0  # below its reorder point with more cover than this: say why


def amount(x: float) -> str:
    """A demand figure: one decimal below 10 ("3.5", "4"), whole units above ("18"); a demand
    that rounds to nothing but is not nothing keeps two decimals ("0.04", "<0.01"), so a slow
    seller's period does not read "0 units" next to an order."""
    if 0 < abs(x) < 0.05:
        return "<0.01" if abs(x) < 0.005 else _amount_to(x, Decimal("0.01"))
    return _amount_to(x, Decimal("0.1") if abs(x) < 10 else Decimal(1))


def _amount_to(x: float, digits: Decimal) -> str:
    value = Decimal(repr(float(x))).quantize(digits, rounding=ROUND_HALF_UP)
    text = f"{value:f}"
    return text[:-2] if text.endswith(".0") else text


def units(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n:,} units"


def _cases(quantity: int, pack: int) -> str:
    if pack <= 1:
        return ""
    if quantity % pack:
        return f" ({pack} per case)"
    count = quantity // pack
    return f" ({count} case{'' if count == 1 else 's'} of {pack})"


def _percent(fraction: float) -> str:
    return f"{round(fraction * 100, 1):g}%"


def _weeks(value: float) -> str:
    return f"{max(value, 0.0):.1f} weeks"


def _steps(steps: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """``"code:before->after"`` steps as (code, before, after); other notes are skipped."""
    out = []
    for step in steps:
        code, _, rest = step.partition(":")
        before, arrow, after = rest.partition("->")
        if arrow:
            out.append((code, before, after))
    return out


def _headline(line: PlannedLine) -> str:
    q, pack = line.quantity, line.terms.case_pack
    if q <= 0:
        return "No order."
    text = f"Order {units(q)}{_cases(q, pack)}"
    if line.already_in_draft:
        text += (
            f": {line.already_in_draft:,} already on the pending draft and "
            f"{line.added:,} added by this plan"
        )
    return text + "."


def _period(line: PlannedLine) -> str:
    o = line.outlook
    review = f" + {o.review_period_days}-day review" if o.review_period_days else ""
    return f"the next {o.protection_days} days ({o.lead_time_days}-day lead time{review})"


def _demand(line: PlannedLine) -> str:
    o, d = line.outlook, line.decision
    if not o.has_demand:
        return f"No demand is forecast over {_period(line)}."
    spread = ""
    if o.interval_80 is not None:
        spread = f" (80% range {amount(o.interval_80[0])}{DASH}{amount(o.interval_80[1])})"
    cycle = max(o.review_period_days, o.cycle_days)
    abc = line.forecast.get("abc_class")
    why = f" (a class {abc} item{ABC_WORDS.get(abc, '')})" if abc else ""
    return (
        f"Expected demand over {_period(line)} is {amount(o.protection_mean)} "
        f"units{spread}; to cover it {_percent(o.service_level)} of the time{why} the reorder "
        f"point is {d.reorder_point:,}, and the order-up-to level is {d.order_up_to:,} "
        f"(about {cycle} more days of sales)."
    )


_A, _B = ABC_SHARES
ABC_WORDS = {
    "A": f": among those making {_A:.0%} of the store's forecast sales value",
    "B": f": among those making the next {_B - _A:.0%} of the store's forecast sales value",
    "C": f": among those making the last {1 - _B:.0%} of the store's forecast sales value",
}


def _calendar(line: PlannedLine) -> str:
    days = line.forecast.get("calendar") or []
    if not days or not line.outlook.has_demand:
        return ""
    parts = [
        f"{d['name']} on {date.fromisoformat(d['day']):%a %d %b} "
        f"({d['effect']:.2f}\u00d7 a usual day)"
        for d in days
    ]
    listed = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return (
        f"That period includes {listed}, as learned from the store's sales on earlier occurrences."
    )


def _adjustment(line: PlannedLine) -> str:
    a = line.forecast.get("adjustment")
    if not a:
        return ""
    start, end = date.fromisoformat(a["starts_on"]), date.fromisoformat(a["ends_on"])
    factor = a["factor"]
    change = (
        "no demand expected"
        if factor == 0
        else f"{'raised' if factor > 1 else 'lowered'} by {abs(factor - 1):.0%}"
        if factor != 1
        else "left as it is"
    )
    days = f"{start:%d %b}" if start == end else f"{start:%d %b} to {end:%d %b %Y}"
    moved = a.get("protection_effect")
    effect = (
        f"; that makes the period's expected demand {moved:.2f}\u00d7 the forecast's"
        if moved is not None and moved != 1
        else "; it does not touch the period"
        if moved == 1
        else ""
    )
    return f"The forecast is adjusted by {a['set_by']} ({change}, {days}: {a['reason']}){effect}."


def _stock(line: PlannedLine) -> str:
    p = line.position
    text = f"On hand {p.on_hand:,}, on order {p.on_order:,}"
    if p.in_draft:
        text += f" ({p.in_draft:,} of it on the pending draft)"
    if p.committed:
        text += f", committed {p.committed:,}"
    return text + f": stock position {p.inventory_position:,}."


def _rule(line: PlannedLine) -> str:
    d, t, p = line.decision, line.terms, line.position
    rule = d.rule
    if rule == Rule.STOPPED:
        return (
            f"Reordering is stopped for this item at this store, so nothing is ordered (the "
            f"reorder point would be {d.reorder_point:,})."
        )
    if rule == Rule.NO_DEMAND:
        skip_moq = (
            f"; the minimum order quantity of {t.moq:,} is not applied to an item nobody is "
            "expected to buy"
            if t.moq
            else ""
        )
        return f"Nothing is ordered{skip_moq}."
    covered = (
        f"That is at or above the reorder point of {d.reorder_point:,}, so nothing needs "
        "ordering now."
    )
    if rule == Rule.COVERED:
        return covered
    if any(step.startswith(f"{Rule.COVERED}:") for step in d.steps):
        # a covered item raised to fill the vendor's minimum: only the raise orders anything
        return covered + _vendor_minimum(d.steps)
    below = f"That is below the reorder point of {d.reorder_point:,}"
    if rule == Rule.AT_MAX_STOCK:
        return (
            f"{below}, but already at the maximum stock of {t.max_stock:,}, so nothing is ordered; "
            "the maximum is below the reorder point, so check it."
        )
    text = f"{below}; reaching the order-up-to level of {d.order_up_to:,} needs {units(d.need)}"
    room = (t.max_stock or 0) - d.inventory_position
    for code, _before, after in _steps(d.steps):
        if code == Rule.ROUNDED_TO_PACK:
            text += f", rounded up to whole cases of {t.case_pack}: {after}"
        elif code == Rule.RAISED_TO_MOQ:
            with_draft = (
                f" together with the {p.in_draft:,} on the pending draft" if p.in_draft else ""
            )
            text += (
                f", raised to reach the minimum order quantity of {t.moq:,}{with_draft}: {after}"
            )
        elif code == Rule.CAPPED_BY_MAX and rule == Rule.CAPPED_BY_MAX:
            whole = " and rounded down to whole cases" if t.case_pack > 1 else ""
            text += f", capped by the maximum stock of {t.max_stock:,}{whole}: {after}"
        elif code == Rule.CAPPED_BY_MAX and rule == Rule.MAX_BELOW_PACK:
            text += (
                f", but the maximum stock of {t.max_stock:,} leaves room for only {units(room)}, "
                f"less than one case of {t.case_pack}, so nothing is ordered; raise the maximum "
                "stock or order in smaller cases"
            )
        elif code == Rule.CAPPED_BY_MAX and rule == Rule.MAX_BELOW_MOQ:
            text += (
                f", but the maximum stock of {t.max_stock:,} leaves room for only {after} units in "
                f"whole cases, below the minimum order quantity of {t.moq:,}, so nothing is "
                "ordered; raise the maximum stock or agree a lower minimum with the vendor"
            )
    return text + "." + _moq_overstock(d) + _vendor_minimum(d.steps)


def _moq_overstock(d: Decision) -> str:
    if not d.moq_overstock or d.weeks_of_cover_after is None:
        return ""
    return (
        f" The minimum order quantity buys {_weeks(d.weeks_of_cover_after)} of cover at the "
        "forecast rate, more than half a year: agree a lower minimum with the vendor, or stop "
        "reordering the item at this store."
    )


def _vendor_minimum(steps: Sequence[str]) -> str:
    text = ""
    for step in steps:
        code, _, extra = step.partition(":")
        if code == Rule.RAISED_FOR_VENDOR_MINIMUM:
            text += (
                f" Raised by {units(int(extra.lstrip('+')))} to reach the vendor's minimum "
                "order value (the items with the least cover are raised first)."
            )
    return text


def _cover(line: PlannedLine) -> str:
    d = line.decision
    if d.weeks_of_cover is None:
        return ""
    if line.added <= 0:
        return f"Cover: {_weeks(d.weeks_of_cover)}."
    after = d.weeks_of_cover_after
    later = f", {_weeks(after)} with this order" if after is not None else ""
    return f"Cover: {_weeks(d.weeks_of_cover)} now{_lumpy(d.weeks_of_cover)}{later}."


def _lumpy(weeks: float) -> str:
    """Why an item below its reorder point can show months of cover: its average is low, but
    it sells in rare large orders, which the reorder point allows for."""
    if weeks <= LUMPY_COVER_WEEKS:
        return ""
    return (
        " at its average rate (it sells in rare large orders, which the reorder point allows for)"
    )


def _accuracy(accuracy: Any) -> str:
    if not isinstance(accuracy, dict):
        return "not backtested on this item (too little history)"
    parts = []
    if accuracy.get("wape") is not None:
        parts.append(f"WAPE {accuracy['wape'] * 100:.0f}%")
    if accuracy.get("rmsse") is not None:
        parts.append(f"RMSSE {accuracy['rmsse']:.2f}")
    if accuracy.get("coverage_80") is not None:
        parts.append(f"80% range held {accuracy['coverage_80'] * 100:.0f}% of the time")
    if not parts:
        return "no backtest figures for this item"
    windows = accuracy.get("windows")
    over = f" over {windows} windows" if isinstance(windows, int) and windows > 1 else ""
    return f"backtested on this item{over}: {', '.join(parts)}"


def _method(line: PlannedLine) -> str:
    f = line.forecast
    method = f.get("summary") or f.get("method")  # the analyst's detail stays in the data
    if not method:
        return ""
    model = f.get("model")
    version = f.get("version")
    by = f" (model {model}{f' {version}' if version else ''})" if model else ""
    text = f"Forecast by {method}{by}; {_accuracy(f.get('accuracy'))}."
    if f.get("observed_days") == 0:
        text = (
            "It has been out of stock every day since it first sold, so its demand was never "
            "measured: the forecast is what it sold per day over that time, a lower bound. "
        ) + text
    return text


def explain_line(line: PlannedLine) -> str:
    """One line of a purchase order (or a SKU not ordered), in plain words."""
    parts = (
        _headline(line),
        _demand(line),
        _calendar(line),
        _adjustment(line),
        _stock(line),
        _rule(line),
        _cover(line),
        _method(line),
    )
    return " ".join(part for part in parts if part)


def summarize_line(line: PlannedLine) -> str:
    """The decision in brief, for reading a long order at a glance: the quantity, the stock it
    starts from, the rule that gave it, and a person's forecast adjustment when there is one.
    Its sentences are :func:`explain_line`'s own, which adds the forecast and its accuracy."""
    parts = (_headline(line), _adjustment(line), _stock(line), _rule(line))
    return " ".join(part for part in parts if part)


def explain_order(order: DraftOrder) -> str:
    """A purchase order as a whole: vendor, size, value, arrival, vendor minimum, merge, hold."""
    rows = order.payload_lines()
    count = len(rows)
    text = (
        f"Purchase order to {order.vendor.name} for {order.store}: {count} "
        f"line{'' if count == 1 else 's'}, {units(order.units())}, expected "
        f"{order.expected_on.isoformat()} ({order.vendor.lead_time_days}-day lead time)."
    )
    value = order.value()
    if value is None:
        text += f" Total unknown: no unit cost for {', '.join(order.unknown_costs())}."
    else:
        text += f" Total {value.display()}."
    minimum = order.vendor.min_order_value
    if minimum is not None and order.held is None:
        least = minimum.display()
        if value is None:
            text += f" The vendor's minimum order of {least} could not be checked."
        elif order.raised_for_minimum:
            text += (
                f" To reach the vendor's minimum order of {least}, "
                f"{', '.join(order.raised_for_minimum)} "
                f"{'was' if len(order.raised_for_minimum) == 1 else 'were'} raised by whole "
                "cases, lowest cover first."
            )
        else:
            text += f" The vendor's minimum order of {least} is met."
    overstocked = sorted(line.sku for line in order.lines if line.decision.moq_overstock)
    if overstocked:
        are = "line is" if len(overstocked) == 1 else "lines are"
        text += (
            f" {len(overstocked)} {are} raised to a minimum order quantity that buys more than "
            f"half a year of cover: {', '.join(overstocked)}."
        )
    if order.merged:
        grown = sum(1 for line in order.lines if line.already_in_draft)
        new = len(order.lines) - grown
        text += (
            f" Merged into the pending draft for this vendor: {grown} line"
            f"{'' if grown == 1 else 's'} increased, {new} added, {len(order.kept_lines)} kept "
            "unchanged."
        )
    if order.held is not None:
        text += f" Held, not proposed: {order.held}."
    return text


def _stores(t: Transfer, stores: Mapping[str, str] | None) -> tuple[str, str]:
    """The giving and the receiving store by name, or by id where no name is known."""
    named = stores or {}
    return named.get(t.from_location) or t.from_location, named.get(t.to_location) or t.to_location


def transfer_title(
    t: Transfer, item: str | None = None, stores: Mapping[str, str] | None = None
) -> str:
    """ "Move 7 units of Heart Cakestand (22654) from Germany to United Kingdom": the item and
    the stores by name where they are known (``item``; ``stores``: external id → name)."""
    what = f"{item} ({t.sku})" if item else t.sku
    giver, taker = _stores(t, stores)
    return f"Move {units(t.quantity)} of {what} from {giver} to {taker}"


def explain_transfer(
    t: Transfer, item: str | None = None, stores: Mapping[str, str] | None = None
) -> str:
    """A transfer between two stores, in plain words (names as for :func:`transfer_title`)."""
    text = f"{transfer_title(t, item, stores)}."
    giver, taker = _stores(t, stores)
    if t.to_position is None or t.from_position is None or t.from_order_up_to is None:
        return f"{text} {t.reason}."
    cover = (
        f"; {_weeks(t.to_weeks_of_cover)} of cover{_lumpy(t.to_weeks_of_cover)}"
        if t.to_weeks_of_cover is not None
        else ""
    )
    spare = t.from_position - t.from_order_up_to
    giver_cover = (
        "no demand is forecast there"
        if t.from_weeks_of_cover is None
        else f"{_weeks(t.from_weeks_of_cover)} of cover"
    )
    return (
        f"{text} {taker} is below its reorder point (stock position {t.to_position}, "
        f"reorder point {t.to_reorder_point}{cover}); {giver} holds "
        f"{t.from_position}, {spare} above its own order-up-to level of {t.from_order_up_to} "
        f"({giver_cover}), and keeps {t.from_position - t.quantity} after the move. Moving "
        "stock the chain already owns is quicker than a vendor order."
    )
