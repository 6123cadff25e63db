"""``tillwise vendors import|export|list``: the retailer's vendor terms (lead time, e-mail,
minimum order value; per SKU cost, case pack, MOQ) over what the POS says of its vendors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ._common import console, err_console, fail, open_container, print_json, print_table

if TYPE_CHECKING:
    from tillwise.bootstrap import Container
    from tillwise.domain.catalog import Vendor

vendors_app = typer.Typer(help="Vendor terms: lead times, e-mails, minimums, packs, MOQs, costs.")

CONNECTION = typer.Option(..., "--connection", help="the connection id")


def _known(c: Container, connection: str) -> None:
    if c.connections.get(connection) is None:
        fail(f"no connection {connection!r} (tillwise connections list)")


def _vendors(c: Container, connection: str) -> dict[str, Vendor]:
    from tillwise.workflows.replenishment.planner import vendors_with_terms

    _known(c, connection)
    with c.uow() as uow:
        return vendors_with_terms(uow, connection)


@vendors_app.command("import")
def import_terms(
    file: Path = typer.Argument(..., help="CSV: vendor, vendor_name, email, lead_time_days, …"),
    connection: str = CONNECTION,
    currency: str | None = typer.Option(
        None, "--currency", help="the currency of amounts on rows without a currency column"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="check the file, write nothing"),
) -> None:
    """Import vendor terms from a CSV (only the cells given change; POS in a term's cell takes
    it back to the POS's value; audited).

    Every error is named by file, row and column, and nothing is imported while one remains."""
    from tillwise.workflows.replenishment.terms import InvalidTermsFile, changes_of, read_terms

    with open_container() as c:
        vendors = _vendors(c, connection)
        known = {vid: v.name for vid, v in vendors.items()}
        try:
            read = read_terms(file, known=known, currency=currency)
        except InvalidTermsFile as exc:
            for line in exc.errors:
                err_console.print(line, markup=False, highlight=False, soft_wrap=True)
            shown = "" if exc.total == len(exc.errors) else f" (the first {len(exc.errors)} shown)"
            fail(f"{exc.total} error(s){shown}; nothing imported")
        changes = changes_of(read.terms, vendors)  # an export imported back changes nothing
        new = sum(1 for t in changes if t.vendor_external_id not in known)
        back = sum(len(c.fields) + sum(map(len, c.items.values())) for c in read.cleared.values())
        said = (
            f"{file.name}: {len(read.terms)} vendor(s) read, {len(changes)} to change ({new} "
            f"new), {sum(len(t.items) for t in changes)} item(s) to change"
            + (f", {back} term(s) back to the POS's" if back else "")
        )
        if dry_run:
            console.print(f"{said}: nothing written (--dry-run)", soft_wrap=True)
            return
        if changes or read.cleared:
            c.vendor_terms.upsert(
                connection, changes, actor="cli", source=file.name, cleared=read.cleared
            )
    console.print(said, soft_wrap=True)


@vendors_app.command("export")
def export_terms(
    connection: str = CONNECTION,
    output: Path = typer.Option(..., "--output", help="the CSV to write"),
) -> None:
    """Write the vendors' terms as plans use them, as a CSV that imports back.

    The POS's terms with the imported ones over them: edit the file and run
    ``tillwise vendors import``."""
    from tillwise.workflows.replenishment.terms import write_terms

    with open_container() as c:
        vendors = _vendors(c, connection)
    rows = write_terms(vendors.values(), output)
    console.print(f"{output}: {len(vendors)} vendor(s), {rows} row(s)")


@vendors_app.command("list")
def list_vendors(
    connection: str = CONNECTION,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """The connection's vendors with the terms plans use."""
    from tillwise.workflows.replenishment.terms import vendors_public

    with open_container() as c:
        _known(c, connection)
        with c.uow() as uow:
            rows = vendors_public(uow, connection)
    if as_json:
        print_json(rows)
        return
    table = Table(
        "vendor",
        "name",
        "e-mail",
        "lead time (days)",
        "order cycle (days)",
        "minimum order",
        "items",
    )
    for r in rows:
        table.add_row(
            r["vendor_id"],
            r["name"],
            r["email"] or "",
            "" if r["lead_time_days"] is None else str(r["lead_time_days"]),
            "" if r["review_period_days"] is None else str(r["review_period_days"]),
            r["min_order_value"] or "",
            str(len(r["items"])),
        )
    print_table(table)
