"""``tillwise replenish plan --location ID --json`` on a store seeded through the simulator POS:
the plan a buyer reads, and nothing written (no plan saved, nothing proposed).

The production forecaster is swapped for the deterministic double of tests/replenishment.py
(what is under test here is the command, not the forecast).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tests.replenishment import SKU, SKU_B, UK, MeanForecaster, daily_sales, simulator_loop
from tillwise.bootstrap import Container
from tillwise.cli import app
from tillwise.connectors.simulator.pos import AdjustmentIn
from tillwise.workflows.replenishment.planner import Planner

SALES = daily_sales(14, {("United Kingdom", SKU): 10, ("United Kingdom", SKU_B): 2})
TABLES = (
    "proposals",
    "replenishment_plans",
    "replenishment_plan_items",
    "audit_log",
    "vendor_terms",
)


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            return {t: db.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}
    finally:
        engine.dispose()


def _seed(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    delivery: tuple[str, int] | None = None,
) -> str:
    """The UK store after 14 days of sales (and a delivery of ``units`` of ``sku`` at the end)."""

    async def seed() -> str:
        async with simulator_loop(sqlite_url, tmp_path, SALES) as loop:
            if delivery is not None:
                sku, units = delivery
                loop.pos.adjust(AdjustmentIn(location_id=UK, sku=sku, delta=units), "delivery")
                await loop.settle()
            return loop.conn

    conn = asyncio.run(seed())
    monkeypatch.setenv("TILLWISE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TILLWISE_SECRET_KEY_FILE", str(tmp_path / "tillwise.key"))
    monkeypatch.setattr(
        Container, "planner", lambda self: Planner(self.uow, MeanForecaster(), self.clock)
    )
    return conn


@pytest.fixture
def seeded(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return _seed(sqlite_url, tmp_path, monkeypatch)


@pytest.fixture
def overstocked(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """600 of B delivered: at 2 a day, 300 days of cover."""
    return _seed(sqlite_url, tmp_path, monkeypatch, (SKU_B, 600))


def test_plan_json_shows_the_plan_and_writes_nothing(seeded: str, sqlite_url: str) -> None:
    before = _counts(sqlite_url)
    assert before["proposals"] == before["replenishment_plans"] == 0

    result = CliRunner().invoke(app, ["replenish", "plan", "--location", UK, "--json"])

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["store"] == f"{seeded}:{UK}" and plan["model"] == "test-mean"
    assert plan["skus"] == 2 and plan["at_risk"] == 2
    assert plan["service_level"] == 0.95 and plan["history_end"] == "2010-12-14"
    item = next(i for i in plan["items"] if i["sku"] == SKU)
    assert set(item) == {
        "sku",
        "name",
        "on_hand",
        "on_order",
        "reorder_point",
        "order_up_to",
        "daily_mean",
        "weeks_of_cover",
        "at_risk",
        "vendor",
        "suggested",
        "rule",
        "stopped",
        "adjustment",
        "excess",
        "excess_value",
        "currency",
    }
    assert (item["on_hand"], item["daily_mean"], item["reorder_point"]) == (0, 10.0, 218)
    assert (item["excess"], item["excess_value"], item["currency"]) == (0, None, "GBP")
    assert plan["overstock"]["items"] == plan["overstock"]["units"] == 0
    [order] = plan["orders"]
    assert order["vendor_name"] == "Far East Homewares" and order["lines"] == 2
    [proposal] = plan["proposals"]
    assert proposal["kind"] == "draft_purchase_order" and proposal["merge_into"] is None
    lines = {ln["sku"]: ln["quantity"] for ln in proposal["payload"]["lines"]}
    assert lines[SKU] == item["suggested"] and order["units"] == sum(lines.values())
    assert order["proposal_id"] == proposal["id"]

    # nothing was saved: no plan, no proposal, no audit entry
    assert _counts(sqlite_url) == before


@pytest.mark.usefixtures("overstocked")
def test_plan_names_the_overstock_and_what_it_cost() -> None:
    result = CliRunner().invoke(app, ["replenish", "plan", "--location", UK])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # B sells 2 a day: S = 44 + 14 = 58, 600 - 58 = 542 beyond it at £1.17
    assert (
        "Overstock: 1 item(s), 542 unit(s) beyond their order-up-to level with more than 4 "
        "weeks of cover, worth £634.14 at cost"
    ) in text
    [row] = [ln for ln in result.output.splitlines() if SKU_B in ln and "542" in ln]
    cells = [c.strip() for c in row.split("│")[3:8]]
    assert cells == ["600", "58", "42.9", "542", "£634.14"]


def test_plan_of_a_store_without_history_says_so(seeded: str) -> None:
    result = CliRunner().invoke(app, ["replenish", "plan", "--location", "nowhere", "--json"])
    assert result.exit_code == 1
    assert "no sales history for location 'nowhere'" in result.output


def test_stop_and_resume_reordering_from_the_command_line(seeded: str, sqlite_url: str) -> None:
    runner = CliRunner()
    before = _counts(sqlite_url)
    # refused, naming what is wrong, and nothing written
    result = runner.invoke(app, ["replenish", "stop", "NOPE", "--location", UK, "--reason", "x"])
    assert result.exit_code != 0 and "'NOPE' is not an item of store" in result.output
    result = runner.invoke(app, ["replenish", "stop", SKU, "--location", UK, "--reason", " "])
    assert result.exit_code != 0 and "--reason: reason is required" in result.output
    assert _counts(sqlite_url) == before

    result = runner.invoke(
        app, ["replenish", "stop", SKU, "--location", UK, "--reason", "Discontinued"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["replenish", "stops", "--location", UK, "--json"])
    [stop] = json.loads(result.output)
    assert (stop["sku"], stop["reason"], stop["stopped_by"]) == (SKU, "Discontinued", "cli")
    assert _counts(sqlite_url)["audit_log"] == before["audit_log"] + 1

    result = runner.invoke(app, ["replenish", "plan", "--location", UK, "--json"])
    items = {i["sku"]: i for i in json.loads(result.output)["items"]}
    assert (items[SKU]["rule"], items[SKU]["suggested"], items[SKU]["at_risk"]) == (
        "stopped",
        0,
        False,
    )
    assert items[SKU]["stopped"]["reason"] == "Discontinued" and items[SKU_B]["stopped"] is None

    result = runner.invoke(app, ["replenish", "resume", SKU, "--location", UK])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["replenish", "resume", SKU, "--location", UK])
    assert result.exit_code != 0 and "is not stopped" in result.output
    result = runner.invoke(app, ["replenish", "stops", "--location", UK, "--json"])
    assert json.loads(result.output) == []


def test_vendor_terms_imported_from_a_csv_change_the_plan(
    seeded: str, sqlite_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    conn = ["--connection", seeded]
    result = runner.invoke(app, ["vendors", "list", *conn, "--json"])
    assert result.exit_code == 0, result.output
    vendors = {v["vendor_id"]: v for v in json.loads(result.output)}
    assert vendors["ven-06"]["lead_time_days"] == 14  # what the POS says

    # a file with mistakes: each named, nothing imported
    bad = tmp_path / "bad.csv"
    bad.write_text("vendor,lead_time_days,sku,case_pack\nven-06,three,85123A,0\n")
    before = _counts(sqlite_url)
    result = runner.invoke(app, ["vendors", "import", str(bad), *conn])
    assert result.exit_code != 0
    assert f"{bad}: row 2, column 'lead_time_days': not a whole number (got 'three')" in (
        result.output
    )
    assert f"{bad}: row 2, column 'case_pack': must be between 1 and 1000000" in result.output
    assert "error: 2 error(s); nothing imported" in result.output
    assert _counts(sqlite_url) == before

    # the buyer's terms: a 21-day lead time from Far East Homewares, A in cases of 50
    good = tmp_path / "terms.csv"
    good.write_text(
        "vendor,lead_time_days,sku,case_pack\nFar East Homewares,21,,\nven-06,,85123A,50\n"
    )
    result = runner.invoke(app, ["vendors", "import", str(good), *conn, "--dry-run"])
    assert result.exit_code == 0 and "nothing written" in result.output, result.output
    assert _counts(sqlite_url) == before
    result = runner.invoke(app, ["vendors", "import", str(good), *conn])
    assert result.exit_code == 0, result.output
    assert _counts(sqlite_url)["vendor_terms"] == 1
    assert _counts(sqlite_url)["audit_log"] == before["audit_log"] + 1

    result = runner.invoke(app, ["replenish", "plan", "--location", UK, "--json"])
    plan = json.loads(result.output)
    item = next(i for i in plan["items"] if i["sku"] == SKU)
    # reorder point: 10 a day over 21 + 1 days x 1.45 (the test forecaster's quantile) = 319
    assert item["reorder_point"] == 319
    [proposal] = plan["proposals"]
    assert proposal["payload"]["lead_time_days"] == 21
    line = next(ln for ln in proposal["payload"]["lines"] if ln["sku"] == SKU)
    assert line["quantity"] % 50 == 0 and line["quantity"] >= item["order_up_to"]

    # the export holds the terms plans use, and imports back changing nothing
    out = tmp_path / "export.csv"
    result = runner.invoke(app, ["vendors", "export", *conn, "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "ven-06,Far East Homewares,orders@far-east.example,21,,250.00,GBP" in out.read_text()
    result = runner.invoke(app, ["vendors", "import", str(out), *conn])
    assert result.exit_code == 0 and "6 vendor(s) read, 0 to change" in result.output
    assert _counts(sqlite_url)["audit_log"] == before["audit_log"] + 1  # nothing written

    # POS in a cell takes the term back: the POS's 14 days and A's own pack again
    back = tmp_path / "back.csv"
    back.write_text("vendor,lead_time_days,sku,case_pack\nven-06,pos,85123A,POS\n")
    result = runner.invoke(app, ["vendors", "import", str(back), *conn])
    assert result.exit_code == 0 and "2 term(s) back to the POS's" in result.output, result.output
    assert _counts(sqlite_url)["vendor_terms"] == 0  # nothing is left set in Tillwise
    assert _counts(sqlite_url)["audit_log"] == before["audit_log"] + 2
    result = runner.invoke(app, ["vendors", "list", *conn, "--json"])
    fareast = {v["vendor_id"]: v for v in json.loads(result.output)}["ven-06"]
    assert fareast["lead_time_days"] == 14 and fareast["set_in_tillwise"] == []
    assert next(i for i in fareast["items"] if i["sku"] == SKU)["set_in_tillwise"] == []
    # and again: nothing left to take back, nothing written
    result = runner.invoke(app, ["vendors", "import", str(back), *conn])
    assert result.exit_code == 0, result.output
    assert _counts(sqlite_url)["audit_log"] == before["audit_log"] + 2

    result = runner.invoke(app, ["vendors", "list", "--connection", "con_nope"])
    assert result.exit_code != 0 and "no connection 'con_nope'" in result.output


def test_adjust_and_unadjust_a_forecast_from_the_command_line(seeded: str, sqlite_url: str) -> None:
    """The command sets, lists and removes an adjustment; what it does to a plan is checked in
    tests/api/test_replenishment_api.py (the seeded sales are from 2011, today is not)."""
    from datetime import date, timedelta

    runner = CliRunner()
    before = _counts(sqlite_url)
    start, end = date.today() + timedelta(days=2), date.today() + timedelta(days=15)
    days = ["--from", start.isoformat(), "--to", end.isoformat()]
    adjust = ["replenish", "adjust", SKU, "--location", UK, *days]
    # refused, naming the option at fault, and nothing written
    for extra, message in (
        (["--factor", "12", "--reason", "x"], "--factor: factor must be between 0 and 10"),
        (["--factor", "1.5", "--reason", " "], "--reason: reason is required"),
    ):
        result = runner.invoke(app, [*adjust, *extra])
        assert result.exit_code != 0 and message in result.output, result.output
    result = runner.invoke(
        app,
        ["replenish", "adjust", SKU, "--location", UK, "--from", end.isoformat()]
        + ["--to", start.isoformat(), "--factor", "2", "--reason", "x"],
    )
    assert result.exit_code != 0 and "--to: ends_on" in result.output, result.output
    result = runner.invoke(app, [*adjust, "--factor", "2", "--reason", "x", "--to", "soon"])
    assert result.exit_code != 0
    assert _counts(sqlite_url) == before

    result = runner.invoke(app, [*adjust, "--factor", "1.5", "--reason", "Window display"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["replenish", "adjustments", "--location", UK, "--json"])
    [row] = json.loads(result.output)
    assert (row["sku"], row["factor"], row["starts_on"], row["ends_on"], row["set_by"]) == (
        SKU,
        1.5,
        start.isoformat(),
        end.isoformat(),
        "cli",
    )
    assert _counts(sqlite_url)["audit_log"] == before["audit_log"] + 1
    result = runner.invoke(app, ["replenish", "unadjust", SKU, "--location", UK])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["replenish", "unadjust", SKU, "--location", UK])
    assert result.exit_code != 0 and "has no forecast adjustment" in result.output
    result = runner.invoke(app, ["replenish", "adjustments", "--location", UK, "--json"])
    assert json.loads(result.output) == []
