"""``tillwise replenish plan|run|stop|resume|stops``: a store's replenishment plan, shown or run
now; the SKUs not to reorder there."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ._common import console, fail, open_container, print_json, print_table

# the options most commands take: which store, and JSON out
LOCATION = typer.Option(..., "--location", help="the store's location id")
CONNECTION = typer.Option(None, "--connection", help="connection id")
AS_JSON = typer.Option(False, "--json", help="print JSON")

if TYPE_CHECKING:
    from tillwise.bootstrap import Container
    from tillwise.workflows.replenishment.planner import Plan

replenish_app = typer.Typer(help="Replenishment: reorder points and draft purchase orders.")


def _stores(c: Container, location: str | None, connection: str | None) -> list[tuple[str, str]]:
    from tillwise.workflows.replenishment.planner import plan_stores

    stores = [(conn, loc) for conn, loc, _tz in plan_stores(c.uow)]
    if connection is not None:
        stores = [s for s in stores if s[0] == connection]
    if location is not None:
        stores = [s for s in stores if s[1] == location]
        if not stores:
            where = f" on connection {connection}" if connection else ""
            fail(f"no sales history for location {location!r}{where}")
        if len({conn for conn, _ in stores}) > 1:
            fail(f"location {location!r} is on several connections: pass --connection")
    return stores


def _show(plan: Plan) -> None:
    data = plan.summary()
    console.print(
        f"[bold]{data['store']}[/]  planned {data['planned_at']}  model {data['model']} "
        f"{data['version']}  ({data['skus']} SKUs, {data['at_risk']} at risk)"
    )
    table = Table(
        "SKU", "name", "on hand", "on order", "reorder pt", "order up to", "order", "rule"
    )
    for item in data["items"][:25]:
        table.add_row(
            item["sku"],
            str(item["name"] or "")[:30],
            str(item["on_hand"]),
            str(item["on_order"]),
            str(item["reorder_point"]),
            str(item["order_up_to"]),
            str(item["suggested"]),
            str(item["rule"]),
        )
    print_table(table)
    _show_overstock(data["overstock"], data["items"])
    for p in data["proposals"]:
        console.print(
            f"• {p['summary']}" + (" (merged into the open draft)" if p["merge_into"] else "")
        )
    for held in data["held"]:
        console.print(f"[yellow]held[/] {held['vendor_name']}: {held['held']}")


def _show_overstock(total: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """The items holding stock beyond their need, most money first (then most units)."""
    from decimal import Decimal

    from tillwise.domain.money import Money

    if not total["items"]:
        return
    worth = ""
    if total["value"] is not None:
        worth = f", worth {Money.from_decimal(total['value'], total['currency']).display()} at cost"
    unpriced = f" ({total['unpriced']} without a unit cost)" if total["unpriced"] else ""
    console.print(
        f"[bold]Overstock[/]: {total['items']} item(s), {total['units']:,} unit(s) beyond their "
        f"order-up-to level with more than {total['min_weeks_of_cover']:g} weeks of cover"
        f"{worth}{unpriced}"
    )
    over = [i for i in items if (i["excess"] or 0) > 0]
    over.sort(key=lambda i: (-Decimal(i["excess_value"] or 0), -i["excess"], i["sku"]))
    table = Table("SKU", "name", "on hand", "order up to", "weeks of cover", "excess", "at cost")
    for i in over[:10]:
        cover = "no demand" if i["weeks_of_cover"] is None else f"{i['weeks_of_cover']:.1f}"
        cost = i["excess_value"] and Money.from_decimal(i["excess_value"], i["currency"])
        table.add_row(
            i["sku"],
            str(i["name"] or "")[:30],
            str(i["on_hand"]),
            str(i["order_up_to"]),
            cover,
            str(i["excess"]),
            cost.display() if cost else "",
        )
    print_table(table)


def plan(
    location: str = LOCATION,
    connection: str | None = CONNECTION,
    as_json: bool = typer.Option(False, "--json", help="print the plan as JSON"),
) -> None:
    """Show a store's plan now (forecast, reorder points, orders it would propose): writes
    nothing."""
    with open_container() as c:
        conn, loc = _stores(c, location, connection)[0]
        with console.status(f"forecasting {conn}:{loc} ..."):
            result = c.planner().plan(conn, loc)
        if as_json:
            print_json(result.summary())
        else:
            _show(result)


def run(
    location: str | None = typer.Option(None, "--location", help="only this store"),
    connection: str | None = typer.Option(None, "--connection", help="only this connection"),
) -> None:
    """Run the nightly batch now: plan each store, save the plan, queue the proposals."""
    from rich.progress import Progress

    with open_container() as c:
        planner = c.planner()
        steps = planner.batch(_stores(c, location, connection))
        results: list[dict[str, Any]] = []
        with Progress(console=console) as progress:
            task = progress.add_task("planning stores", total=len(steps))
            for conn, loc, preview in steps:
                what = "forecasting" if preview else "planning"
                progress.update(task, description=f"{what} {conn}:{loc}")
                if preview:
                    planner.preview(conn, loc)
                else:
                    result, new = planner.run(conn, loc)
                    results.append(
                        {"store": result.store, "proposals": len(result.proposals), "new": new}
                    )
                progress.advance(task)
        asyncio.run(c.approvals.route_new())
        for r in results:
            console.print(f"{r['store']}: {r['proposals']} proposals ({r['new']} new)")


def stop(
    sku: str = typer.Argument(..., help="the SKU not to reorder at the store"),
    location: str = LOCATION,
    reason: str = typer.Option(..., "--reason", help="why: discontinued, phased out, ..."),
    connection: str | None = CONNECTION,
) -> None:
    """Stop reordering a SKU at a store (audited): plans propose no order or transfer for it."""
    from tillwise.governance.rollout import InvalidSetting
    from tillwise.workflows.replenishment.planner import sold_or_planned

    with open_container() as c:
        conn, loc = _stores(c, location, connection)[0]
        with c.uow() as uow:
            if not sold_or_planned(uow, conn, loc, sku):
                fail(f"{sku!r} is not an item of store {conn}:{loc}")
        try:
            c.reorder_stops.stop(conn, loc, sku, reason=reason, actor="cli")
        except InvalidSetting as exc:
            fail(f"--{exc.field}: {exc.detail}" if exc.field == "reason" else exc.detail)
    console.print(f"stopped reordering {sku} at {conn}:{loc}: {reason.strip()}")


def resume(
    sku: str = typer.Argument(..., help="the SKU to reorder again"),
    location: str = LOCATION,
    connection: str | None = CONNECTION,
) -> None:
    """Reorder a stopped SKU at a store again from the next plan on (audited)."""
    from tillwise.governance.reorder_stops import NoReorderStop

    with open_container() as c:
        conn, loc = _stores(c, location, connection)[0]
        try:
            c.reorder_stops.resume(conn, loc, sku, actor="cli")
        except NoReorderStop as exc:
            fail(str(exc))
    console.print(f"reordering {sku} at {conn}:{loc} again")


def stops(
    location: str = LOCATION,
    connection: str | None = CONNECTION,
    as_json: bool = AS_JSON,
) -> None:
    """The SKUs whose reordering is stopped at a store, with why, who and when."""
    from tillwise.workflows.replenishment.planner import stop_public

    with open_container() as c:
        conn, loc = _stores(c, location, connection)[0]
        with c.uow() as uow:
            stopped = uow.replenishment.reorder_stops(conn, loc)
        rows = [{"sku": sku, **(stop_public(s) or {})} for sku, s in sorted(stopped.items())]
    if as_json:
        print_json(rows)
        return
    table = Table("SKU", "reason", "stopped by", "stopped at")
    for r in rows:
        table.add_row(r["sku"], r["reason"], r["stopped_by"], r["stopped_at"])
    print_table(table)


def adjust(
    sku: str = typer.Argument(..., help="the SKU whose forecast to adjust at the store"),
    location: str = LOCATION,
    factor: float = typer.Option(
        ..., "--factor", help="the forecast times this on those days: 1.5 = +50%, 0 = none"
    ),
    starts_on: datetime = typer.Option(
        ..., "--from", formats=["%Y-%m-%d"], help="the first day (the store's calendar)"
    ),
    ends_on: datetime = typer.Option(
        ..., "--to", formats=["%Y-%m-%d"], help="the last day (inclusive)"
    ),
    reason: str = typer.Option(..., "--reason", help="why: a display, a local event, ..."),
    connection: str | None = CONNECTION,
) -> None:
    """Adjust a SKU's forecast at a store over some days (audited): plans order by it."""
    from tillwise.governance.rollout import InvalidSetting
    from tillwise.workflows.replenishment.planner import planning_day, sold_or_planned

    with open_container() as c:
        conn, loc = _stores(c, location, connection)[0]
        with c.uow() as uow:
            if not sold_or_planned(uow, conn, loc, sku):
                fail(f"{sku!r} is not an item of store {conn}:{loc}")
            today = planning_day(uow, conn, loc, c.clock.now())
        try:
            c.forecast_adjustments.set(
                conn,
                loc,
                sku,
                factor=factor,
                starts_on=starts_on.date(),
                ends_on=ends_on.date(),
                reason=reason,
                actor="cli",
                today=today,
            )
        except InvalidSetting as exc:
            field = exc.field or ""
            option = {"starts_on": "--from", "ends_on": "--to"}.get(field, f"--{field}")
            fail(f"{option}: {exc.detail}")
    console.print(
        f"adjusted the forecast of {sku} at {conn}:{loc} x{factor:g} from "
        f"{starts_on:%Y-%m-%d} to {ends_on:%Y-%m-%d}: {reason.strip()} (the next plan orders by it)"
    )


def unadjust(
    sku: str = typer.Argument(..., help="the SKU to forecast as it is again"),
    location: str = LOCATION,
    connection: str | None = CONNECTION,
) -> None:
    """Remove a SKU's forecast adjustment at a store (audited)."""
    from tillwise.governance.forecast_adjustments import NoForecastAdjustment

    with open_container() as c:
        conn, loc = _stores(c, location, connection)[0]
        try:
            c.forecast_adjustments.remove(conn, loc, sku, actor="cli")
        except NoForecastAdjustment as exc:
            fail(str(exc))
    console.print(f"the forecast of {sku} at {conn}:{loc} is as it is again")


def adjustments(
    location: str = LOCATION,
    connection: str | None = CONNECTION,
    as_json: bool = AS_JSON,
) -> None:
    """The forecast adjustments at a store: factor, days, why, who and when."""
    with open_container() as c:
        conn, loc = _stores(c, location, connection)[0]
        with c.uow() as uow:
            found = uow.replenishment.forecast_adjustments(conn, loc)
        rows = [{"sku": sku, **a.public()} for sku, a in sorted(found.items())]
    if as_json:
        print_json(rows)
        return
    table = Table("SKU", "factor", "from", "to", "reason", "set by", "set at")
    for r in rows:
        table.add_row(
            r["sku"],
            f"x{r['factor']:g}",
            r["starts_on"],
            r["ends_on"],
            r["reason"],
            r["set_by"],
            r["set_at"],
        )
    print_table(table)


replenish_app.command("plan")(plan)
replenish_app.command("run")(run)
replenish_app.command("stop")(stop)
replenish_app.command("resume")(resume)
replenish_app.command("stops")(stops)
replenish_app.command("adjust")(adjust)
replenish_app.command("unadjust")(unadjust)
replenish_app.command("adjustments")(adjustments)
