"""Replenishment for the dashboard: stores with their plans, a store's plan, a SKU's forecast.

Store-scoped: a caller sees the stores in its scope (others are 404). Approve / edit / reject
of the proposals go through ``/v1/proposals/{id}/...``. Stopping and resuming the reordering
of a SKU at a store (``replenishment:write``: store managers, buyers, regional managers) is
here: ``PUT`` / ``DELETE /v1/replenishment/stores/{store}/stops/{sku}``, and so is adjusting
a SKU's forecast over some days: ``PUT`` / ``DELETE .../adjustments/{sku}``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from tillwise.domain.locations import store_key
from tillwise.governance.approvals import ProposalRecord
from tillwise.governance.costs import plan_items_shown_to
from tillwise.governance.principal import Principal
from tillwise.ports.repositories import ForecastAdjustment, ReorderStop, UnitOfWork
from tillwise.workflows.replenishment.history import build_frame
from tillwise.workflows.replenishment.planner import (
    item_public,
    on_hand_now,
    overstock,
    planning_day,
    pos_order_of,
    pos_order_public,
    sold_or_planned,
    sorted_items,
    stop_public,
    with_stops,
)

from ..deps import ContainerDep, in_scope, require
from ..problems import Problem
from ..schemas.common import RequestBody
from .governance import ProposalPublic, with_stops_marked

router = APIRouter(prefix="/v1/replenishment", tags=["replenishment"])
ORDER = "draft_purchase_order"
KINDS = (ORDER, "transfer")
OPEN = ("new", "pending", "approved")
SHOWN_AFTER_WRITE = timedelta(days=14)  # a written order stays on the plan's page this long


def _split(store: str) -> tuple[str, str]:
    connection_id, _, location = store.partition(":")
    return connection_id, location


def _store(container: Any, principal: Principal, store: str) -> tuple[str, str]:
    """(connection id, location id) of a store in ``principal``'s scope that Tillwise knows
    (the POS named it, or it has a plan or sales); else 404 naming ``store_id`` — alike for
    one out of scope (existence is not disclosed)."""
    in_scope(principal, store, "store", store)
    conn, loc = _split(store)
    with container.uow() as uow:
        known = (
            uow.records.location(conn, loc) is not None
            or uow.replenishment.plan(conn, loc) is not None
            or bool(uow.replenishment.demand(conn, loc))
        )
    if not known:
        raise Problem(404, "not_found", f"no store {store!r}", field="store_id")
    return conn, loc


@router.get("/stores", operation_id="replenishment-stores")
def stores(container: ContainerDep, principal: Principal = require("inventory:read")) -> Any:
    """Every store in scope with demand history: its latest plan and open proposals."""
    from tillwise.workflows.replenishment.planner import plan_stores

    known = plan_stores(container.uow)
    with container.uow() as uow:
        plans = {(p.connection_id, p.location_external_id): p for p in uow.replenishment.plans()}
        names = {}
        for conn, loc, _tz in known:
            location = uow.records.location(conn, loc)
            names[(conn, loc)] = location.name if location is not None else loc
    out = []
    for conn, loc in sorted(set(names) | set(plans)):
        store = store_key(conn, loc)
        if not principal.sees(store):
            continue
        plan = plans.get((conn, loc))
        proposed = sum(
            1
            for status in OPEN
            for _ in container.approvals.list(
                principal, store=store, kind="draft_purchase_order", status=status, limit=500
            )
        )
        out.append(
            {
                "store": store,
                "connection_id": conn,
                "location_external_id": loc,
                "name": names.get((conn, loc), loc),
                "planned_at": None if plan is None else plan.planned_at.isoformat(),
                "at_risk": 0 if plan is None else int(plan.data.get("at_risk") or 0),
                "proposed_orders": proposed,
            }
        )
    return out


@router.get("/stores/{store}/plan", operation_id="replenishment-plan")
def store_plan(
    store: str, container: ContainerDep, principal: Principal = require("inventory:read")
) -> Any:
    """The store's latest plan, most at-risk items first, with its overstock in total and its
    open proposals; each item's ``on_hand`` as planned and ``on_hand_now`` as the POS last
    reported it (a delivery since the plan shows at once; the plan follows at its next run)."""
    conn, loc = _store(container, principal, store)
    with container.uow() as uow:
        plan = uow.replenishment.plan(conn, loc)
        items = uow.replenishment.plan_items(conn, loc)
        stops = uow.replenishment.reorder_stops(conn, loc)
        now = on_hand_now(uow, conn, loc)
    recent = container.clock.now() - SHOWN_AFTER_WRITE
    records = [
        r
        for kind in KINDS
        for r in container.approvals.list(principal, store=store, kind=kind, limit=200)
        if r.status in (*OPEN, "shadow")
        or (
            r.status == "applied"
            and kind == ORDER
            and r.decided_at is not None
            and r.decided_at >= recent
        )
    ]
    with container.uow() as uow:
        proposals = [
            _with_pos_order(uow, with_stops_marked(ProposalPublic.of(r, principal), stops), r)
            for r in records
        ]
    shown = plan_items_shown_to(
        principal,
        [
            {**item_public(i), "on_hand_now": now.get(i.sku)}
            for i in sorted_items(with_stops(items, stops))
        ],
    )
    return {
        "store": store,
        "planned_at": None if plan is None else plan.planned_at.isoformat(),
        "model": None if plan is None else plan.model,
        "version": None if plan is None else plan.version,
        "items": shown,
        "overstock": overstock(shown),
        "proposals": proposals,
    }


def _with_pos_order(
    uow: UnitOfWork, public: ProposalPublic, record: ProposalRecord
) -> dict[str, Any]:
    """A proposal as the plan shows it; a written purchase order with ``pos_order``: how far
    it has got on the POS (open, partly or wholly received), ``None`` until the POS reports it."""
    out = public.model_dump(mode="json")
    if record.status == "applied":
        reference = (record.result or {}).get("reference")
        po = pos_order_of(uow, record.proposal.connection_id, record.id, reference)
        out["pos_order"] = None if po is None else pos_order_public(po)
    return out


@router.get("/stores/{store}/forecast/{sku}", operation_id="replenishment-forecast")
def sku_forecast(
    store: str,
    sku: str,
    container: ContainerDep,
    principal: Principal = require("inventory:read"),
) -> Any:
    """The SKU's actuals (censored days and the store's holidays and events marked) and the
    latest plan's forecast with intervals (a day a holiday or event moves: its learned effect)."""
    conn, loc = _store(container, principal, store)
    with container.uow() as uow:
        plan = uow.replenishment.plan(conn, loc)
        items = uow.replenishment.plan_items(conn, loc, [sku])
        demand = [d for d in uow.replenishment.demand(conn, loc) if d.sku == sku]
        stock_outs = uow.replenishment.stock_outs(conn, loc)
    # the actuals run to the end of the history the plan used (a stock-out since the item's
    # last sale shows as censored days, not as a gap before the forecast)
    end = None if plan is None else plan.data.get("history_end")
    frame = build_frame(conn, loc, demand, stock_outs, end=date.fromisoformat(end) if end else None)
    item = items[0] if items else None
    if item is None and not demand:
        raise Problem(404, "not_found", f"{sku!r} is not an item of store {store}", field="sku")
    forecast = {} if item is None else dict(item.data.get("forecast") or {})
    named: dict[date, str] = {}
    if not frame.empty:  # the holidays and events of the history (a closure explains a zero)
        named = container.store_calendar(
            conn, loc, frame["ds"].min().date(), frame["ds"].max().date()
        )
    actuals = []
    for r in frame.itertuples(index=False):
        day = r.ds.date()
        row: dict[str, Any] = {
            "day": day.isoformat(),
            "units": float(r.y),
            "censored": bool(r.censored),
        }
        if day in named:
            row["event"] = {"name": named[day]}
        actuals.append(row)
    return {
        "sku": sku,
        "store": store,
        "model": None if plan is None else plan.model,
        "method": forecast.get("method"),
        "summary": forecast.get("summary"),
        "accuracy": forecast.get("accuracy"),
        "actuals": actuals,
        "forecast": [] if item is None else list(item.data.get("rows") or []),
    }


# -- reorder stops ----------------------------------------------------------------------------


class StopBody(RequestBody):
    reason: str = Field(
        min_length=1, max_length=500, description="why: discontinued, phased out, bought locally"
    )


def _stop(stop: ReorderStop) -> dict[str, Any]:
    return {"store": store_key(stop.connection_id, stop.location_external_id), "sku": stop.sku}


@router.get("/stores/{store}/stops", operation_id="replenishment-stops-list")
def list_stops(
    store: str, container: ContainerDep, principal: Principal = require("inventory:read")
) -> Any:
    """The SKUs whose reordering a person stopped at the store, with why, who and when."""
    conn, loc = _store(container, principal, store)
    with container.uow() as uow:
        stops = uow.replenishment.reorder_stops(conn, loc)
    return [{**_stop(s), **(stop_public(s) or {})} for _, s in sorted(stops.items())]


@router.put("/stores/{store}/stops/{sku}", operation_id="replenishment-stops-set")
def stop_reordering(
    store: str,
    sku: str,
    body: StopBody,
    container: ContainerDep,
    principal: Principal = require("replenishment:write"),
) -> Any:
    """Stop reordering an item of the store (planned or sold there): from the next plan on, no
    purchase or transfer is proposed for it (audited; a stop already set takes the new
    reason)."""
    conn, loc = _store(container, principal, store)
    with container.uow() as uow:
        known = sold_or_planned(uow, conn, loc, sku)
    if not known:
        raise Problem(404, "not_found", f"{sku!r} is not an item of store {store}", field="sku")
    stop = container.reorder_stops.stop(conn, loc, sku, reason=body.reason, actor=principal.actor)
    return {**_stop(stop), **(stop_public(stop) or {})}


@router.delete(
    "/stores/{store}/stops/{sku}", status_code=204, operation_id="replenishment-stops-delete"
)
def resume_reordering(
    store: str,
    sku: str,
    container: ContainerDep,
    principal: Principal = require("replenishment:write"),
) -> Response:
    """Reorder the item again from the next plan on (audited); 404 when it is not stopped."""
    conn, loc = _store(container, principal, store)
    container.reorder_stops.resume(conn, loc, sku, actor=principal.actor)
    return Response(status_code=204)


# -- forecast adjustments ---------------------------------------------------------------------


class AdjustmentBody(RequestBody):
    factor: float = Field(
        ge=0, le=10, description="the forecast times this on those days: 1.5 = +50%, 0 = none"
    )
    starts_on: date = Field(description="the first day, in the store's calendar")
    ends_on: date = Field(description="the last day (inclusive)")
    reason: str = Field(
        min_length=1, max_length=500, description="why: a display, a local event, a delisting"
    )


def _adjustment(a: ForecastAdjustment) -> dict[str, Any]:
    return {
        "store": store_key(a.connection_id, a.location_external_id),
        "sku": a.sku,
        **a.public(),
    }


@router.get("/stores/{store}/adjustments", operation_id="replenishment-adjustments-list")
def list_adjustments(
    store: str, container: ContainerDep, principal: Principal = require("inventory:read")
) -> Any:
    """The store's forecast adjustments: the SKU, the factor, the days, why, who and when."""
    conn, loc = _store(container, principal, store)
    with container.uow() as uow:
        found = uow.replenishment.forecast_adjustments(conn, loc)
    return [_adjustment(a) for _, a in sorted(found.items())]


@router.put("/stores/{store}/adjustments/{sku}", operation_id="replenishment-adjustments-set")
def adjust_forecast(
    store: str,
    sku: str,
    body: AdjustmentBody,
    container: ContainerDep,
    principal: Principal = require("replenishment:write"),
) -> Any:
    """Adjust an item's forecast at the store over some of its days (audited; an adjustment
    already there is replaced). The next plan orders by it."""
    conn, loc = _store(container, principal, store)
    with container.uow() as uow:
        known = sold_or_planned(uow, conn, loc, sku)
        today = planning_day(uow, conn, loc, container.clock.now())
    if not known:
        raise Problem(404, "not_found", f"{sku!r} is not an item of store {store}", field="sku")
    adjustment = container.forecast_adjustments.set(
        conn,
        loc,
        sku,
        factor=body.factor,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        reason=body.reason,
        actor=principal.actor,
        today=today,
    )
    return _adjustment(adjustment)


@router.delete(
    "/stores/{store}/adjustments/{sku}",
    status_code=204,
    operation_id="replenishment-adjustments-delete",
)
def remove_adjustment(
    store: str,
    sku: str,
    container: ContainerDep,
    principal: Principal = require("replenishment:write"),
) -> Response:
    """Forecast the item as it is again from the next plan on (audited); 404 when it has no
    adjustment."""
    conn, loc = _store(container, principal, store)
    container.forecast_adjustments.remove(conn, loc, sku, actor=principal.actor)
    return Response(status_code=204)
