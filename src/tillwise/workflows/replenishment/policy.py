"""Inventory policy: when to order, how much, and when to move stock between stores instead.

Pure functions on whole units (``int``) and forecast demand (``float``); no I/O, no clock.

The policy: periodic review (R, s, S)
=====================================

Planning runs every R days (``Outlook.review_period_days``; 1 = the nightly batch). An order
placed today arrives after the vendor's lead time L, and the next chance to order comes R days
later, so what is decided today must protect the shelf for the *protection period* P = L + R.

* **Reorder point** ``s = ceil(q_a(D_P))``: the quantile, at the service level ``a`` (e.g.
  0.95), of total demand over the protection period, read straight from the forecast's
  distribution (``Outlook.protection_quantile``; the forecaster gets it from its intervals, or
  from conformal / bootstrapped sums for intermittent series). With an inventory position of at
  least ``s`` the chance of running out before anything ordered at the next review can arrive
  is at most ``1 - a``, so nothing is ordered.
* **Order-up-to level** ``S = s + ceil(daily_mean * max(R, C))``: one *order cycle* of mean
  demand above the reorder point, with ``C = Outlook.cycle_days`` (default 7 days).
* When the inventory position ``IP < s``, the need is ``S - IP``; the supply terms below turn
  it into an orderable quantity.

Why ``S = s + mean demand over max(R, C)`` and not the textbook ``s + mean demand over R``:
with a nightly review (R = 1) that gap is one day of sales, so every SKU would raise a small
order nearly every night — many tiny purchase orders, vendor minimums missed each time, and a
buyer approving the same shortfall in crumbs. A gap of one order cycle (a week by default)
is the (s, S) trade-off retailers use: each order covers about C days of sales, a SKU is
ordered about once per cycle, and the safety stock stays where the service level puts it (in
``s``). For a weekly or slower review (R >= C) it is exactly the textbook rule.

Inventory position ``IP = on hand + on order - committed``. *On order* counts open purchase
orders, stock in transit (incoming transfers too) **and the quantities on the store's pending
draft orders** (proposed, not yet approved): a shortfall that is already proposed is covered,
so the next night's run does not propose it again. ``Position.in_draft`` says how much of
``on_order`` sits on the pending draft for this SKU's vendor; it counts towards the vendor's
minimum order quantity, because the new quantity is added to that draft line (see
:func:`tillwise.workflows.replenishment.orders.draft_orders`).

Supply terms, in order (each adjustment is recorded in ``Decision.steps`` as
``"<code>:<before>-><after>"``; ``Decision.rule`` is the last one that set the quantity):

0. a person stopped reordering the SKU at the store (``stopped=True``) -> 0, ``stopped``;
1. no demand forecast over the protection period and ``IP >= 0`` -> 0, ``no_demand``: a
   minimum order quantity is never copied into an order for an item nobody is expected to buy
   (a negative position — customer orders committed beyond stock — is still covered);
2. ``IP >= s`` -> 0, ``covered``;
3. a maximum stock that ``IP`` already reaches -> 0, ``at_max_stock``;
4. round the need *up* to whole case packs -> ``rounded_to_pack``;
5. raise to the minimum order quantity — the smallest pack multiple that, with what is already
   on the pending draft line, reaches the MOQ -> ``raised_to_moq``;
6. cap so that ``IP + quantity <= max_stock``, rounding *down* to whole packs -> ``capped_by_max``
   — the capped quantity is still a pack multiple; if the room left is less than one pack ->
   0, ``max_below_pack``; if the capped quantity falls below the MOQ -> 0, ``max_below_moq``
   (the buyer must raise the maximum or agree a lower MOQ: the text says so);
7. otherwise ``order_up_to``: ``S - IP`` was already an orderable quantity.

A quantity raised to the MOQ is ordered even when the MOQ is far more than the item sells —
the store is below its reorder point, and ordering nothing would leave it to run out — but when
it buys more than ``MOQ_WARN_COVER_WEEKS`` (half a year) of cover at the forecast rate the
decision says so (``Decision.moq_overstock``): the line's text and the order's summary ask the
buyer to agree a lower minimum with the vendor or to stop reordering the item there, and the
line's policy data carries ``moq_overstock: true``. (The vendor's minimum order *value* is
different: raising for it stops at ``orders.DEFAULT_MAX_COVER_WEEKS`` of cover.)

Quantities are always whole units and (when ordered) multiples of the case pack. Rounding
demand up uses a tolerance of 1e-9 so that float noise (22.000000000004) does not become an
extra unit.

Transfers (:func:`plan_transfers`)
==================================

Before buying, stock can come from a store of the same chain that holds too much of the SKU.
A store *needs* when ``IP < s`` (it would order); its need is ``S - IP``. A store *gives* when
its ``IP`` is above its own ``S`` **and** its weeks of cover exceed ``min_excess_weeks`` (a
store with no demand forecast has unlimited cover: dead stock is the first to move). It can
give ``min(IP - S, on_hand - committed)`` — never what is only on order, and never so much
that it falls below its own order-up-to level; while it has stock on order, it keeps its own
reorder point on the shelf as well. A receiver's need stops at its maximum stock, as an order
would. That quantity is the store's *overstock* of the
SKU (:func:`excess`), which the plan also reports with its value at cost. The most urgent
receivers (lowest weeks of cover) are served first, from the givers with the most cover.
Transfers move whole units but not necessarily whole case packs: stores split cases on the
shelf, and a transfer is a box moved between two of the retailer's own stores, not a vendor
order. The planner counts a proposed transfer as *on order* at the receiver and as
*committed* at the giver before it calls :func:`decide`, so the rest of the need is bought.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tillwise.domain.money import Money

EPSILON = 1e-9  # float noise tolerated when rounding demand up to whole units
DEFAULT_CYCLE_DAYS = 7
DEFAULT_MIN_EXCESS_WEEKS = 4.0
MOQ_WARN_COVER_WEEKS = 26.0  # an MOQ buying more cover than this is pointed out to the buyer


class Rule(StrEnum):
    """Machine codes for what set an order quantity (``Decision.rule``)."""

    COVERED = "covered"  # inventory position at or above the reorder point: no order
    NO_DEMAND = "no_demand"  # no demand forecast: no order, the MOQ is not applied
    ORDER_UP_TO = "order_up_to"  # order-up-to level minus position, already orderable
    ROUNDED_TO_PACK = "rounded_to_pack"  # rounded up to whole case packs
    RAISED_TO_MOQ = "raised_to_moq"  # raised to the minimum order quantity
    CAPPED_BY_MAX = "capped_by_max"  # capped by the maximum stock, rounded down to packs
    AT_MAX_STOCK = "at_max_stock"  # already at the maximum stock: no order
    MAX_BELOW_PACK = "max_below_pack"  # room under the maximum is less than one pack: no order
    MAX_BELOW_MOQ = "max_below_moq"  # room under the maximum is below the MOQ: no order
    # set by orders.draft_orders, not by decide():
    RAISED_FOR_VENDOR_MINIMUM = "raised_for_vendor_minimum"  # raised towards the order value min
    STOPPED = "stopped"  # a person stopped reordering the SKU at the store: no order, no raise


TRANSFER_RULE = "excess_cover"  # Transfer.rule: stock moved from a store with excess cover


def _whole(name: str, value: Any, *, minimum: int | None = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be whole units (int), got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _demand(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


def ceil_units(demand: float) -> int:
    """Demand rounded up to whole units, ignoring float noise below 1e-9 (never negative)."""
    return max(0, math.ceil(demand - EPSILON))


def _packs_up(units: int, pack: int) -> int:
    return -(-units // pack) * pack


@dataclass(frozen=True)
class Outlook:
    """Demand facts from the forecast for one SKU at one store."""

    daily_mean: float  # mean forecast units/day over the horizon
    lead_time_days: int
    review_period_days: int  # days between planning runs (1 = nightly)
    protection_mean: float  # mean demand over lead time + review period
    protection_quantile: float  # demand over lead time + review period at the service level
    service_level: float  # e.g. 0.95
    cycle_days: int = DEFAULT_CYCLE_DAYS  # days of mean demand between s and S (see module doc)
    # 80% interval (10% and 90% quantiles) of total demand over the protection period, for the
    # explanation only; None: not given, the text leaves the range out
    interval_80: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        _demand("daily_mean", self.daily_mean)
        _demand("protection_mean", self.protection_mean)
        _demand("protection_quantile", self.protection_quantile)
        _whole("lead_time_days", self.lead_time_days)
        _whole("review_period_days", self.review_period_days)
        _whole("cycle_days", self.cycle_days)
        if not 0 < self.service_level < 1:
            raise ValueError(f"service_level must be in (0, 1), got {self.service_level!r}")
        if self.interval_80 is not None:
            lo, hi = self.interval_80
            _demand("interval_80[0]", lo)
            _demand("interval_80[1]", hi)
            if lo > hi:
                raise ValueError(f"interval_80 is reversed: {self.interval_80!r}")

    @property
    def protection_days(self) -> int:
        """Lead time plus review period: how long today's decision must keep the shelf stocked."""
        return self.lead_time_days + self.review_period_days

    @property
    def has_demand(self) -> bool:
        return max(self.daily_mean, self.protection_mean, self.protection_quantile) > EPSILON


@dataclass(frozen=True)
class Position:
    """Stock of one SKU at one store, in whole units."""

    on_hand: int
    on_order: int = 0  # open POs + in transit + quantities in pending drafts
    committed: int = 0  # reserved / allocated, not yet shipped
    in_draft: int = 0  # the part of on_order on the store's pending draft for this SKU's vendor

    def __post_init__(self) -> None:
        _whole("on_hand", self.on_hand, minimum=None)  # POSes allow negative stock
        _whole("on_order", self.on_order)
        _whole("committed", self.committed)
        _whole("in_draft", self.in_draft)
        if self.in_draft > self.on_order:
            raise ValueError(
                f"in_draft ({self.in_draft}) is part of on_order ({self.on_order}): count the "
                "pending draft's quantity in on_order too"
            )

    @property
    def inventory_position(self) -> int:
        return self.on_hand + self.on_order - self.committed


@dataclass(frozen=True)
class Terms:
    """Supply terms for the SKU from its vendor."""

    vendor_external_id: str | None
    lead_time_days: int
    moq: int = 0  # minimum order quantity, units (0: none)
    case_pack: int = 1  # order in multiples of this
    max_stock: int | None = None  # shelf capacity: inventory position after ordering <= this
    unit_cost: Money | None = None
    review_period_days: int | None = None  # the vendor's order cycle (None: the store's)

    def __post_init__(self) -> None:
        _whole("lead_time_days", self.lead_time_days)
        _whole("moq", self.moq)
        _whole("case_pack", self.case_pack, minimum=1)
        if self.max_stock is not None:
            _whole("max_stock", self.max_stock)


@dataclass(frozen=True)
class Decision:
    """What to order of one SKU at one store, and why."""

    quantity: int  # whole units, a multiple of case_pack, 0 = do not order
    rule: str  # a Rule value
    reorder_point: int
    order_up_to: int
    inventory_position: int
    weeks_of_cover: float | None  # inventory position / (7 * daily_mean); None if no demand
    steps: tuple[str, ...]  # each adjustment in order: "<code>:<before>-><after>"
    need: int = 0  # order_up_to - inventory_position when below the reorder point, else 0
    weeks_of_cover_after: float | None = None  # (inventory position + quantity) / weekly demand

    @property
    def moq_overstock(self) -> bool:
        """Raised to a minimum order quantity that buys more than ``MOQ_WARN_COVER_WEEKS`` of
        cover at the forecast rate (the module docstring)."""
        return (
            self.rule == Rule.RAISED_TO_MOQ
            and self.weeks_of_cover_after is not None
            and self.weeks_of_cover_after > MOQ_WARN_COVER_WEEKS
        )


ABC_SHARES = (0.80, 0.95)  # cumulative shares of value that end classes A and B


def abc_classes(values: Mapping[str, float]) -> dict[str, str]:
    """ABC analysis: the items ranked by value (forecast demand x unit cost), most first. A:
    the items that make up the first 80 % of the total (the item that crosses 80 % included),
    B: up to 95 %, C: the rest and every item without value. Ties keep the key order."""
    ranked = sorted(values, key=lambda k: -max(values[k], 0.0))
    total = sum(max(v, 0.0) for v in values.values())
    out: dict[str, str] = {}
    before = 0.0  # the share of the items ranked above
    for key in ranked:
        value = max(values[key], 0.0)
        if value <= 0 or total <= 0:
            out[key] = "C"
        elif before < ABC_SHARES[0] - EPSILON:
            out[key] = "A"
        elif before < ABC_SHARES[1] - EPSILON:
            out[key] = "B"
        else:
            out[key] = "C"
        before += value / total if total > 0 else 0.0
    return out


def reorder_point(outlook: Outlook) -> int:
    """``s``: demand over lead time + review period at the service level, in whole units."""
    return ceil_units(outlook.protection_quantile)


def order_up_to(outlook: Outlook) -> int:
    """``S = s + ceil(daily_mean * max(review period, order cycle))``."""
    cycle = max(outlook.review_period_days, outlook.cycle_days)
    return reorder_point(outlook) + ceil_units(outlook.daily_mean * cycle)


def weeks_of_cover(units: int, daily_mean: float) -> float | None:
    """How many weeks ``units`` last at the forecast rate; None when no demand is forecast."""
    if daily_mean <= EPSILON:
        return None
    return units / (7 * daily_mean)


def excess(
    position: Position, outlook: Outlook, *, min_excess_weeks: float = DEFAULT_MIN_EXCESS_WEEKS
) -> int:
    """Overstock: the units a store holds beyond its order-up-to level ``S`` when its stock
    lasts more than ``min_excess_weeks`` at the forecast rate (an item with no demand forecast:
    all of it above ``S`` — dead stock). Only what is on the shelf and free counts (on hand less
    committed), never what is only on order — and while stock is on order, the shelf keeps its
    reorder point ``s`` until it comes (a store above ``S`` only thanks to a delivery still on
    its way is not emptied). 0 when the store is not overstocked. What a store can give in
    :func:`plan_transfers`, and what the Replenishment page lists as overstock."""
    ip = position.inventory_position
    big_s = order_up_to(outlook)
    cover = weeks_of_cover(ip, outlook.daily_mean)
    if ip <= big_s or (cover is not None and cover <= min_excess_weeks):
        return 0
    shelf = position.on_hand - position.committed
    if position.on_order:  # stock on its way: the shelf keeps its reorder point until it comes
        shelf -= reorder_point(outlook)
    return max(0, min(ip - big_s, shelf))


def decide(
    position: Position, outlook: Outlook, terms: Terms, *, stopped: bool = False
) -> Decision:
    """The order quantity for one SKU at one store (see the module docstring for the rules);
    ``stopped``: a person stopped reordering it (reorder point and cover still computed)."""
    if terms.lead_time_days != outlook.lead_time_days:
        raise ValueError(
            f"the outlook's protection period uses a {outlook.lead_time_days}-day lead time but "
            f"the vendor's terms say {terms.lead_time_days} days"
        )
    s, big_s = reorder_point(outlook), order_up_to(outlook)
    ip = position.inventory_position
    steps: list[str] = []

    def result(quantity: int, rule: Rule, need: int = 0) -> Decision:
        return Decision(
            quantity=quantity,
            rule=rule.value,
            reorder_point=s,
            order_up_to=big_s,
            inventory_position=ip,
            weeks_of_cover=weeks_of_cover(ip, outlook.daily_mean),
            steps=tuple(steps),
            need=need,
            weeks_of_cover_after=weeks_of_cover(ip + quantity, outlook.daily_mean),
        )

    if stopped:
        steps.append(f"stopped:ip={ip}")
        return result(0, Rule.STOPPED)
    if not outlook.has_demand and ip >= 0:
        steps.append(f"no_demand:ip={ip}")
        return result(0, Rule.NO_DEMAND)
    if ip >= s:
        steps.append(f"covered:ip={ip}>=s={s}")
        return result(0, Rule.COVERED)
    need = big_s - ip
    steps.append(f"need:{big_s}-{ip}={need}")
    room = None if terms.max_stock is None else terms.max_stock - ip
    if room is not None and room <= 0:
        steps.append(f"at_max_stock:ip={ip}>=max={terms.max_stock}")
        return result(0, Rule.AT_MAX_STOCK, need)

    rule, quantity, pack = Rule.ORDER_UP_TO, need, terms.case_pack
    rounded = _packs_up(quantity, pack)
    if rounded != quantity:
        steps.append(f"{Rule.ROUNDED_TO_PACK}:{quantity}->{rounded}")
        rule, quantity = Rule.ROUNDED_TO_PACK, rounded
    short_of_moq = terms.moq - position.in_draft  # a line already on the draft counts
    if quantity < short_of_moq:
        raised = _packs_up(short_of_moq, pack)
        steps.append(f"{Rule.RAISED_TO_MOQ}:{quantity}->{raised}")
        rule, quantity = Rule.RAISED_TO_MOQ, raised
    if room is not None and quantity > room:
        capped = room // pack * pack
        steps.append(f"{Rule.CAPPED_BY_MAX}:{quantity}->{capped}")
        if capped == 0:
            return result(0, Rule.MAX_BELOW_PACK, need)
        if capped < short_of_moq:
            return result(0, Rule.MAX_BELOW_MOQ, need)
        rule, quantity = Rule.CAPPED_BY_MAX, capped
    return result(quantity, rule, need)


# -- transfers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreStock:
    """One store's facts for a SKU, for transfers."""

    location_external_id: str
    position: Position
    outlook: Outlook
    max_stock: int | None = None  # the store's shelf limit for the SKU: a transfer stays under it


@dataclass(frozen=True)
class Transfer:
    """Move ``quantity`` units of ``sku`` between two stores (whole units, packs not required)."""

    sku: str
    from_location: str
    to_location: str
    quantity: int
    reason: str  # one plain sentence; explain.explain_transfer gives the full text
    rule: str = TRANSFER_RULE
    # the facts behind it, for the explanation and the proposal's inputs
    from_position: int | None = None  # giver's inventory position before the transfer
    from_order_up_to: int | None = None
    from_weeks_of_cover: float | None = None  # None with from_position set: no demand there
    to_position: int | None = None  # receiver's inventory position before the transfer
    to_reorder_point: int | None = None
    to_order_up_to: int | None = None
    to_weeks_of_cover: float | None = None

    def payload(self) -> dict[str, Any]:
        """The ``transfer`` proposal payload."""
        return {
            "sku": self.sku,
            "from_location": self.from_location,
            "to_location": self.to_location,
            "quantity": self.quantity,
            "reason": self.reason,
            "rule": self.rule,
            "facts": {
                "from_position": self.from_position,
                "from_order_up_to": self.from_order_up_to,
                "from_weeks_of_cover": _round(self.from_weeks_of_cover),
                "to_position": self.to_position,
                "to_reorder_point": self.to_reorder_point,
                "to_order_up_to": self.to_order_up_to,
                "to_weeks_of_cover": _round(self.to_weeks_of_cover),
            },
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def plan_transfers(
    sku: str,
    stores: Sequence[StoreStock],
    *,
    min_excess_weeks: float = DEFAULT_MIN_EXCESS_WEEKS,
    min_quantity: int = 1,
) -> list[Transfer]:
    """Transfers of ``sku`` from stores with excess cover to stores below their reorder point.

    See the module docstring. Deterministic: receivers by lowest weeks of cover (then location
    id), givers by most weeks of cover (no demand first), then most spare units, then location.
    A transfer smaller than ``min_quantity`` units is not proposed.
    """
    _whole("min_quantity", min_quantity, minimum=1)
    seen: set[str] = set()
    for store in stores:
        if store.location_external_id in seen:
            raise ValueError(f"store {store.location_external_id!r} is listed twice")
        seen.add(store.location_external_id)

    spare: dict[str, int] = {}
    givers: list[tuple[tuple[Any, ...], StoreStock]] = []
    receivers: list[tuple[tuple[Any, ...], StoreStock, int]] = []
    for store in stores:
        ip = store.position.inventory_position
        s, big_s = reorder_point(store.outlook), order_up_to(store.outlook)
        cover = weeks_of_cover(ip, store.outlook.daily_mean)
        if ip < s:
            urgency = -math.inf if cover is None else cover
            top = big_s if store.max_stock is None else min(big_s, store.max_stock)
            if top > ip:
                receivers.append(((urgency, store.location_external_id), store, top - ip))
        else:
            units = excess(store.position, store.outlook, min_excess_weeks=min_excess_weeks)
            if units >= min_quantity:
                spare[store.location_external_id] = units
                rank = (cover is not None, -(cover or 0.0), -units, store.location_external_id)
                givers.append((rank, store))
    givers.sort(key=lambda g: g[0])
    receivers.sort(key=lambda r: r[0])

    transfers: list[Transfer] = []
    for _, to, need in receivers:
        for _, giver in givers:
            if need < min_quantity:
                break
            loc = giver.location_external_id
            quantity = min(need, spare[loc])
            if quantity < min_quantity:
                continue
            spare[loc] -= quantity
            need -= quantity
            transfers.append(_transfer(sku, giver, to, quantity))
    return transfers


def _transfer(sku: str, giver: StoreStock, to: StoreStock, quantity: int) -> Transfer:
    g_ip, t_ip = giver.position.inventory_position, to.position.inventory_position
    g_cover = weeks_of_cover(g_ip, giver.outlook.daily_mean)
    cover_text = "no demand forecast" if g_cover is None else f"{g_cover:.1f} weeks of cover"
    return Transfer(
        sku=sku,
        from_location=giver.location_external_id,
        to_location=to.location_external_id,
        quantity=quantity,
        reason=(
            f"{to.location_external_id} is below its reorder point and "
            f"{giver.location_external_id} has excess stock ({cover_text})"
        ),
        from_position=g_ip,
        from_order_up_to=order_up_to(giver.outlook),
        from_weeks_of_cover=g_cover,
        to_position=t_ip,
        to_reorder_point=reorder_point(to.outlook),
        to_order_up_to=order_up_to(to.outlook),
        to_weeks_of_cover=weeks_of_cover(t_ip, to.outlook.daily_mean),
    )
