"""Purchase orders where the platform has no PO API: an approved draft becomes CSV + PDF for
the vendor, is e-mailed through a real (local) SMTP server once, and is recorded in Tillwise
as an open purchase order."""

from __future__ import annotations

import csv
import email
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.helpers import FakeClock, make_container, run
from tests.live import bind_local
from tillwise.bootstrap import Container
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal
from tillwise.domain.purchasing import PurchaseOrder
from tillwise.governance.principal import Principal, permissions_of

HEART = "White hanging heart T-light holder"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    sock, _url = bind_local()
    port = sock.getsockname()[1]
    sock.close()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 26, 9, 30, tzinfo=UTC))


@pytest.fixture
def container(
    sqlite_url: str, tmp_path: Path, smtp: tuple[Inbox, int], clock: FakeClock
) -> Iterator[Container]:
    c = make_container(
        sqlite_url,
        tmp_path,
        smtp_url=f"smtp://127.0.0.1:{smtp[1]}",
        documents_dir=tmp_path / "docs",
        po_from_email="buyer@shop.example",
        clock=clock,
    )
    yield c
    run(c.close())


def _proposal(connection_id: str) -> Proposal:
    return Proposal(
        id="7f2c1a9e-0000-4000-8000-000000000001",
        kind="draft_purchase_order",
        workflow="replenishment",
        proposed_by="workflow:replenishment@1",
        connection_id=connection_id,
        location_external_id="loc-1",
        created_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        summary="Reorder 2 lines from Paper Goods Ltd",
        value=Money.from_decimal("64.40", "GBP"),
        payload={
            "vendor": {
                "external_id": "v-9",
                "name": "Paper Goods Ltd",
                "email": "orders@paper.example",
            },
            "location_external_id": "loc-1",
            "currency": "GBP",
            "expected_on": "2026-12-03",
            "lines": [
                {
                    "sku": "85123A",
                    "name": "White hanging heart T-light holder",
                    "quantity": 12,
                    "unit_cost": "2.95",
                },
                {
                    "sku": "22423",
                    "name": "Regency cakestand 3 tier",
                    "quantity": 2,
                    "unit_cost": "14.50",
                },
            ],
        },
    )


def _queued(container: Container) -> tuple[Proposal, Principal]:
    """The order waiting for approval at a store in draft mode, and a buyer of that store."""
    conn = container.connections.create("generic", "Shop", ["whsec_po_1"], actor="t")
    container.modes.set_mode("replenishment", "*", "draft", actor="t")
    proposal = _proposal(conn.id)
    with container.uow() as uow:
        uow.proposals.add(proposal)
    run(container.approvals.route_new())
    buyer = Principal(
        kind="user",
        id="ben",
        role="buyer",
        permissions=permissions_of("buyer", None),
        stores=frozenset({f"{conn.id}:loc-1"}),
    )
    return proposal, buyer


def test_an_approved_purchase_order_reaches_the_vendor_as_csv_pdf_and_email_once(
    container: Container, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, _port = smtp
    proposal, buyer = _queued(container)
    record = run(container.approvals.approve(proposal.id, buyer))
    assert record.status == "applied", record.result
    details = record.result["details"]  # type: ignore[index]
    rows = list(csv.reader(io.StringIO(Path(details["csv"]).read_text())))
    assert ["85123A", HEART, "12", "2.95", "35.40"] in rows
    assert rows[-1][-1] == "64.40"
    assert Path(details["pdf"]).read_bytes().startswith(b"%PDF")
    [mail] = inbox.messages
    assert mail["To"] == "orders@paper.example" and mail["From"] == "buyer@shop.example"
    names = [part.get_filename() for part in mail.walk() if part.get_filename()]
    assert sorted(names) == [
        f"{record.result['reference']}.csv",
        f"{record.result['reference']}.pdf",
    ]  # type: ignore[index]

    # a retried write sends nothing twice
    documents = container.approvals._writebacks["generic"]  # the composed write-back
    run(
        documents.apply(
            container.approvals._target(proposal)[0], proposal, idempotency_key=proposal.id
        )
    )
    assert len(inbox.messages) == 1

    with container.uow() as uow:
        [order] = uow.records.find(PurchaseOrder)
    assert order.status == "open" and order.vendor_external_id == "v-9"
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("85123A", 12), ("22423", 2)]
    assert container.audit.list(action="proposal.applied")


def test_documents_that_cannot_be_written_keep_the_order_approved_until_they_can(
    container: Container, smtp: tuple[Inbox, int], tmp_path: Path, clock: FakeClock
) -> None:
    inbox, _port = smtp
    proposal, buyer = _queued(container)
    # given the documents folder is not a folder (a misconfigured volume)
    (tmp_path / "docs").write_text("not a folder")
    record = run(container.approvals.approve(proposal.id, buyer))
    # then the order stays approved, and the reason names the folder; nothing was e-mailed
    assert record.status == "approved"
    assert "could not write the purchase-order documents" in record.result["detail"]  # type: ignore[index]
    assert str(tmp_path / "docs") in record.result["detail"]  # type: ignore[index]
    assert inbox.messages == []
    # and once the folder is fixed the next retry writes it, once, leaving no temporary files
    (tmp_path / "docs").unlink()
    clock.advance(seconds=30)
    assert run(container.approvals.write_approved()) == 1
    assert container.approvals.get(proposal.id).status == "applied"
    assert len(inbox.messages) == 1
    assert not [p for p in (tmp_path / "docs").rglob("*") if p.name.endswith(".tmp")]
