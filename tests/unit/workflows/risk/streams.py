"""Small hand-built till streams for the risk scorer's tests (no randomness)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from tillwise.workflows.risk import RiskEvent, TenderFact, make_event
from tillwise.workflows.risk.events import LineFact

STORE = "conn:store-1"
T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC (store zone: UTC)
EMPLOYEES = tuple(f"emp-{k}" for k in range(1, 7))


def card(fp: str, amount: int, method: str = "dipped") -> TenderFact:
    return TenderFact("card", amount, fingerprint=fp, last4=None, entry_method=method)


def cash(amount: int) -> TenderFact:
    return TenderFact("cash", amount)


def sale(
    id: str,
    at: datetime,
    employee: str,
    amount: int = 2500,
    *,
    store: str = STORE,
    register: str | None = None,
    customer: str | None = None,
    discount: int = 0,
    tenders: tuple[TenderFact, ...] | None = None,
    lines: tuple[LineFact, ...] = (),
    override_count: int = 0,
) -> RiskEvent:
    return make_event(
        id=id,
        kind="sale",
        store=store,
        occurred_at=at,
        employee_id=employee,
        register_id=register or f"reg-{employee}",
        customer_id=customer,
        currency="USD",
        amount=amount,
        discount=discount,
        tenders=tenders if tenders is not None else (card(f"fp-{id}", amount),),
        lines=lines or (LineFact("SKU-1", 1.0, amount),),
        override_count=override_count,
    )


def other(
    kind: str, id: str, at: datetime, employee: str, *, store: str = STORE, **kw: object
) -> RiskEvent:
    kw.setdefault("register_id", f"reg-{employee}")
    return make_event(
        id=id, kind=kind, store=store, occurred_at=at, employee_id=employee, currency="USD", **kw
    )


def normal_days(
    days: int,
    *,
    store: str = STORE,
    employees: tuple[str, ...] = EMPLOYEES,
    per_employee: int = 12,
    start: datetime = T0,
) -> Iterator[RiskEvent]:
    """Ordinary trading: every employee rings ``per_employee`` sales a day between 09:00 and
    17:00, amounts cycling 10.00..49.00, cards and cash."""
    n = 0
    for d in range(days):
        day = start + timedelta(days=d)
        for k in range(per_employee):
            for j, emp in enumerate(employees):
                n += 1
                at = day + timedelta(minutes=k * 40 + j * 3)
                amount = 1000 + (n * 700) % 4000
                tenders = (cash(amount),) if n % 4 == 0 else (card(f"fp-c{n % 97}", amount),)
                yield sale(f"{store}-s{n}", at, emp, amount, store=store, tenders=tenders)


def refunds_to_label(n: int, start: datetime) -> list[RiskEvent]:
    """``n`` refunds ten minutes apart by the six employees, every other one without a
    receipt (the others name a sale of :func:`normal_days`): a reviewer would confirm those."""
    return [
        other(
            "refund",
            f"r-{k}",
            start + timedelta(minutes=10 * k),
            f"emp-{k % 6 + 1}",
            amount=2000 + 10 * k,
            receipt_id=None if k % 2 else f"{STORE}-s{k + 1}",
        )
        for k in range(n)
    ]


def codes(assessment) -> dict[str, float]:  # noqa: ANN001
    return {r.code: r.weight for r in assessment.reasons}
