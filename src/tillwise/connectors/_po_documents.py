"""Purchase orders where the platform has no purchase-order API (Shopify, Square, Clover).

An approved ``draft_purchase_order`` becomes a document for the vendor — CSV and PDF, written
under ``directory/<connection id>/`` and, when an SMTP server is configured and the vendor has
an e-mail address, e-mailed to the vendor — and the order is recorded in Tillwise as a canonical
``PurchaseOrder`` (status ``open``), so the stock it brings counts as on order.

Idempotent by the write's key: the files are named after it and written once, and a marker
file records that the e-mail went out, so a retried write sends nothing twice.

The proposal payload (what replenishment proposes)::

    {"vendor": {"external_id": "...", "name": "...", "email": "orders@vendor.example"},
     "location_external_id": "...", "currency": "GBP", "expected_on": "2026-12-01",
     "notes": "...",
     "lines": [{"sku": "...", "name": "...", "quantity": 12, "unit_cost": "2.95"}]}
"""

from __future__ import annotations

import asyncio
import csv
import io
import smtplib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tillwise.domain.ids import SourceRef
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.domain.purchasing import (
    DOCUMENT_PLATFORM,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
)
from tillwise.files import write_atomically
from tillwise.ports.writeback import (
    NotSupported,
    WriteBack,
    WriteBackError,
    WriteResult,
    WriteTarget,
)

PURCHASE_ORDER = ProposalKind.DRAFT_PURCHASE_ORDER.value
HALF_EVEN = "ROUND_HALF_EVEN"  # the source of purchase orders Tillwise itself holds


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    quantity: Decimal
    unit_cost: Decimal | None


@dataclass(frozen=True)
class Order:
    number: str
    vendor_id: str | None
    vendor_name: str
    vendor_email: str | None
    location_id: str | None
    currency: str
    expected_on: date | None
    notes: str
    lines: tuple[Line, ...]

    @classmethod
    def from_proposal(cls, proposal: Proposal) -> Order:
        p = proposal.payload
        vendor = p.get("vendor") or {}
        lines = p.get("lines")
        if not isinstance(lines, list) or not lines:
            raise WriteBackError("payload.lines: a purchase order needs at least one line")
        parsed = []
        for i, line in enumerate(lines):
            try:
                quantity = Decimal(str(line["quantity"]))
                cost = line.get("unit_cost")
                parsed.append(
                    Line(
                        sku=str(line["sku"]),
                        name=str(line.get("name") or line["sku"]),
                        quantity=quantity,
                        unit_cost=None if cost in (None, "") else Decimal(str(cost)),
                    )
                )
            except (KeyError, TypeError, InvalidOperation) as exc:
                raise WriteBackError(f"payload.lines[{i}] is not readable: {exc}") from None
            if quantity <= 0:
                raise WriteBackError(f"payload.lines[{i}].quantity must be positive")
        expected = p.get("expected_on")
        return cls(
            number=f"PO-{proposal.id[:8].upper()}",
            vendor_id=vendor.get("external_id"),
            vendor_name=str(vendor.get("name") or vendor.get("external_id") or "Vendor"),
            vendor_email=vendor.get("email"),
            location_id=p.get("location_external_id") or proposal.location_external_id,
            currency=str(p.get("currency") or (proposal.value.currency if proposal.value else "")),
            expected_on=date.fromisoformat(expected) if expected else None,
            notes=str(p.get("notes") or ""),
            lines=tuple(parsed),
        )

    def total(self) -> Decimal:
        return sum((ln.quantity * (ln.unit_cost or 0) for ln in self.lines), Decimal(0))


def to_csv(order: Order) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["purchase_order", "vendor", "ship_to", "expected_on", "currency"])
    w.writerow(
        [
            order.number,
            order.vendor_name,
            order.location_id or "",
            order.expected_on.isoformat() if order.expected_on else "",
            order.currency,
        ]
    )
    w.writerow([])
    w.writerow(["sku", "description", "quantity", "unit_cost", "line_total"])
    for ln in order.lines:
        cost = ln.unit_cost
        w.writerow(
            [
                ln.sku,
                ln.name,
                str(ln.quantity),
                "" if cost is None else str(cost),
                "" if cost is None else str(ln.quantity * cost),
            ]
        )
    w.writerow(["", "", "", "total", str(order.total())])
    return out.getvalue()


def to_pdf(order: Order) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, f"Purchase order {order.number}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for label, value in (
        ("Vendor", order.vendor_name),
        ("Ship to", order.location_id or "-"),
        ("Expected", order.expected_on.isoformat() if order.expected_on else "-"),
        ("Currency", order.currency),
    ):
        pdf.cell(0, 6, _latin1(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (35, 85, 20, 25, 25)
    pdf.set_font("Helvetica", "B", 10)
    for width, head in zip(
        widths, ("SKU", "Description", "Qty", "Unit cost", "Total"), strict=True
    ):
        pdf.cell(width, 7, head, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", size=10)
    for ln in order.lines:
        cost = ln.unit_cost
        cells = (
            ln.sku,
            ln.name[:48],
            str(ln.quantity),
            "" if cost is None else str(cost),
            "" if cost is None else str(ln.quantity * cost),
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 7, _latin1(text), border=1)
        pdf.ln()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(sum(widths[:4]), 7, "Total", border=1)
    pdf.cell(widths[4], 7, str(order.total()), border=1)
    pdf.ln(10)
    if order.notes:
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 6, _latin1(order.notes))
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    """The core PDF fonts are Latin-1: keep what fits, mark what does not."""
    return text.encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True)
class Smtp:
    """``smtp://user:password@host:port`` (STARTTLS when the server offers it) or ``smtps://``."""

    url: str
    sender: str

    def send(self, message: EmailMessage) -> None:
        parts = urlsplit(self.url)
        host, port = parts.hostname or "localhost", parts.port
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=30)
        else:
            client = smtplib.SMTP(host, port or 25, timeout=30)
        with client:
            if parts.scheme != "smtps" and client.has_extn("starttls"):
                client.starttls()
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)


class PurchaseOrderDocuments:
    """:class:`~tillwise.ports.writeback.WriteBack` for ``draft_purchase_order``."""

    kinds = frozenset({PURCHASE_ORDER})
    reversible: frozenset[str] = frozenset()

    def __init__(
        self,
        directory: Path,
        *,
        smtp: Smtp | None = None,
        record: Callable[[PurchaseOrder], Awaitable[None]] | None = None,
    ) -> None:
        self.directory = directory
        self.smtp = smtp
        self.record = record

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        if proposal.kind != PURCHASE_ORDER:
            raise NotSupported(f"purchase-order documents cannot write {proposal.kind!r}")
        order = Order.from_proposal(proposal)
        folder = self.directory / target.connection_id
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in idempotency_key)
        csv_path, pdf_path = folder / f"{safe}.csv", folder / f"{safe}.pdf"
        await asyncio.to_thread(self._write_files, order, csv_path, pdf_path)
        emailed = None
        if self.smtp is not None and order.vendor_email:
            emailed = await asyncio.to_thread(self._email_once, order, csv_path, pdf_path)
        if self.record is not None:
            await self.record(self._purchase_order(target, proposal, order))
        return WriteResult(
            reference=order.number,
            details={
                "csv": str(csv_path),
                "pdf": str(pdf_path),
                "emailed_to": emailed,
                "total": str(order.total()),
            },
        )

    async def revert(
        self, target: WriteTarget, proposal: Proposal, applied: WriteResult, *, idempotency_key: str
    ) -> WriteResult:
        raise NotSupported("a sent purchase-order document cannot be taken back; tell the vendor")

    @staticmethod
    def _write_files(order: Order, csv_path: Path, pdf_path: Path) -> None:
        """Write each document once, atomically."""
        try:
            csv_path.parent.mkdir(parents=True, exist_ok=True)
            for path, data in ((csv_path, to_csv(order).encode()), (pdf_path, to_pdf(order))):
                if not path.exists():
                    write_atomically(path, data, mode=0o600)  # the retailer's costs
        except OSError as exc:
            raise WriteBackError(
                f"could not write the purchase-order documents in {csv_path.parent}: {exc}",
                retryable=True,
            ) from None

    def _email_once(self, order: Order, csv_path: Path, pdf_path: Path) -> str:
        assert self.smtp is not None and order.vendor_email is not None
        marker = csv_path.with_suffix(".sent")
        if marker.exists():
            return order.vendor_email
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = order.vendor_email
        message["Subject"] = f"Purchase order {order.number}"
        message.set_content(
            f"Please find purchase order {order.number} attached "
            f"({len(order.lines)} lines, total {order.total()} {order.currency})."
        )
        message.add_attachment(
            csv_path.read_bytes(), maintype="text", subtype="csv", filename=f"{order.number}.csv"
        )
        message.add_attachment(
            pdf_path.read_bytes(),
            maintype="application",
            subtype="pdf",
            filename=f"{order.number}.pdf",
        )
        try:
            self.smtp.send(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise WriteBackError(f"could not e-mail the vendor: {exc}", retryable=True) from None
        marker.write_text(order.vendor_email)
        return order.vendor_email

    @staticmethod
    def _purchase_order(target: WriteTarget, proposal: Proposal, order: Order) -> PurchaseOrder:
        return PurchaseOrder(
            source=SourceRef(
                platform=DOCUMENT_PLATFORM,
                connection_id=target.connection_id,
                external_id=proposal.id,
            ),
            vendor_external_id=order.vendor_id,
            location_external_id=order.location_id,
            status=PurchaseOrderStatus.OPEN,
            currency=order.currency,
            lines=tuple(
                PurchaseOrderLine(
                    sku=ln.sku,
                    quantity=ln.quantity,
                    unit_cost=None
                    if ln.unit_cost is None
                    else Money.from_decimal(
                        ln.unit_cost, order.currency, rounding="ROUND_HALF_EVEN"
                    ),
                )
                for ln in order.lines
            ),
            expected_on=order.expected_on,
        )


class WithPurchaseOrderDocuments:
    """A platform's write-back, with purchase orders as documents where it has no PO API."""

    def __init__(self, primary: WriteBack | None, documents: PurchaseOrderDocuments) -> None:
        self.primary = primary
        self.documents = documents
        own = primary.kinds if primary is not None else frozenset()
        self.kinds = own | documents.kinds
        self.reversible = primary.reversible if primary is not None else frozenset()

    def _for(self, proposal: Proposal) -> WriteBack:
        if self.primary is not None and proposal.kind in self.primary.kinds:
            return self.primary
        return self.documents

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        chosen = self._for(proposal)
        try:
            return await chosen.apply(target, proposal, idempotency_key=idempotency_key)
        except NotSupported:
            # a generic POS that serves no purchase-order route: the order becomes a document
            if chosen is self.documents or proposal.kind != PURCHASE_ORDER:
                raise
            return await self.documents.apply(target, proposal, idempotency_key=idempotency_key)

    async def revert(
        self, target: WriteTarget, proposal: Proposal, applied: WriteResult, *, idempotency_key: str
    ) -> WriteResult:
        return await self._for(proposal).revert(
            target, proposal, applied, idempotency_key=idempotency_key
        )


def with_documents(primary: WriteBack | None, documents: PurchaseOrderDocuments) -> WriteBack:
    """``primary`` with purchase orders as documents where it writes none, or where it says
    this POS cannot take them (:class:`NotSupported`: a generic POS without the route)."""
    return WithPurchaseOrderDocuments(primary, documents)
