"""Loss prevention: score a cart before tender, and the review queue of flagged till events.

Store-scoped like every route: a case (or a store) outside the caller's scope is a 404.

* ``POST /v1/risk/score`` (``risk:score``): a POS extension asks before tender. Scored against
  the baselines the process keeps in memory, in the store's local time (no database work in the
  request path, beyond loading the scorer's snapshot once and the store's time zone once); the
  cart is not remembered.
* ``GET /v1/risk/cases`` / ``GET /v1/risk/cases/{id}`` (``risk:read``): the queue, a case with
  the canonical record scored and the employee's recent scored events.
* ``POST /v1/risk/cases/{id}/assign`` / ``.../state`` (``risk:decide``): work a case; a
  decision is audited and stored as a label the scorer learns from (in the process that scores
  events: this one when it runs the workers, else the worker at its next check).
* ``POST /v1/risk/cases/{id}/explain`` (``risk:read``): the summary reworded by the configured
  language model (personal data tokenized first), or the deterministic summary.
* ``GET /v1/risk/reports`` (``risk:read``): cases by employee, by reason and by day.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tillwise.ai import explain
from tillwise.domain.locations import store_key
from tillwise.domain.money import exponent
from tillwise.domain.sales import Payment, Refund, Transaction
from tillwise.domain.till import TillEvent
from tillwise.governance.principal import Principal
from tillwise.governance.risk import STATES, RiskCase, RiskCaseError, UnknownCase
from tillwise.workflows.risk.events import LineFact, TenderFact, make_event

from ..deps import ContainerDep, in_scope, require
from ..problems import Problem
from ..schemas.common import RequestBody

router = APIRouter(prefix="/v1/risk", tags=["risk"])


# ---------------------------------------------------------------------------- scoring


class _Body(RequestBody):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CartLine(_Body):
    sku: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=255)
    quantity: Decimal = Field(gt=0, le=1_000_000)
    unit_price: int = Field(ge=0, description="minor units charged per unit")
    original_unit_price: int | None = Field(
        default=None, ge=0, description="minor units before a manual price override"
    )


class CartTender(_Body):
    type: Literal["card", "cash", "gift_card", "wallet", "other"] = "other"
    amount: int = Field(ge=0, description="minor units")
    card_fingerprint: str | None = Field(default=None, max_length=255)
    last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    entry_method: Literal["keyed", "swiped", "dipped", "tapped", "online"] | None = None


class ScoreBody(_Body):
    connection_id: str = Field(min_length=1, max_length=64)
    location_id: str = Field(min_length=1, max_length=255)
    employee_id: str | None = Field(default=None, max_length=255)
    register_id: str | None = Field(default=None, max_length=255)
    customer_id: str | None = Field(default=None, max_length=255)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    lines: list[CartLine] = Field(min_length=1, max_length=500)
    tenders: list[CartTender] = Field(default_factory=list, max_length=20)
    discount: int = Field(default=0, ge=0, description="order-level discounts, minor units")
    cart_id: str | None = Field(default=None, max_length=255, description="echoed as event_id")
    at: datetime | None = Field(default=None, description="when (aware); default: now")

    @field_validator("currency")
    @classmethod
    def _known(cls, v: str) -> str:
        exponent(v)
        return v

    @field_validator("at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("must be timezone-aware")
        return v


class ReasonPublic(BaseModel):
    code: str
    weight: float
    evidence: dict[str, Any]
    text: str


class ScorePublic(BaseModel):
    event_id: str
    score: float
    decision: Literal["allow", "review", "require_manager"]
    reasons: list[ReasonPublic]
    model: str
    version: str


@router.post("/score", response_model=ScorePublic, operation_id="risk-score")
async def score_cart(
    body: ScoreBody, container: ContainerDep, principal: Principal = require("risk:score")
) -> Any:
    """Score a cart before tender (cart lines, tenders, employee, register, customer,
    location). ``decision`` is ``allow``, ``review`` (let it through, a case may follow) or
    ``require_manager`` (ask for a manager before taking payment). Runs on the event loop:
    scoring is a fraction of a millisecond of arithmetic on in-memory baselines (the first
    call of a process loads the scorer's snapshot, the first for a store its time zone)."""
    store = store_key(body.connection_id, body.location_id)
    in_scope(principal, store, "location", body.location_id)
    state = container.risk_state()
    gross = sum(int(line.quantity * line.unit_price) for line in body.lines)
    overridden = sum(
        1
        for line in body.lines
        if line.original_unit_price is not None and line.original_unit_price != line.unit_price
    )
    event = make_event(
        id=body.cart_id or "cart",
        kind="cart",
        store=store,
        occurred_at=body.at or container.clock.now(),
        time_zone=state.zone(body.connection_id, body.location_id),
        employee_id=body.employee_id,
        register_id=body.register_id,
        customer_id=body.customer_id,
        currency=body.currency,
        amount=max(0, gross - body.discount),
        discount=body.discount,
        override_count=overridden,
        lines=tuple(
            LineFact(
                sku=line.sku,
                quantity=float(line.quantity),
                unit_price=line.unit_price,
                original_unit_price=line.original_unit_price,
                name=line.name,
            )
            for line in body.lines
        ),
        tenders=tuple(
            TenderFact(
                type=t.type,
                amount=t.amount,
                fingerprint=t.card_fingerprint,
                last4=t.last4,
                entry_method=t.entry_method,
            )
            for t in body.tenders
        ),
    )
    assessment = state.score(event)
    return {
        "event_id": event.id,
        "score": round(float(assessment.score), 4),
        "decision": assessment.decision,
        "reasons": [
            {
                "code": r.code,
                "weight": float(r.weight),
                "evidence": dict(r.evidence),
                "text": r.text,
            }
            for r in assessment.reasons
        ],
        "model": assessment.model,
        "version": assessment.version,
    }


# ---------------------------------------------------------------------------- cases


class CasePublic(BaseModel):
    id: str
    store: str
    event_id: str
    kind: str
    score: float
    decision: str
    severity: str
    reasons: list[dict[str, Any]]
    state: str
    owner: str | None
    sla_due: datetime
    overdue: bool
    summary: str
    created_at: datetime
    occurred_at: datetime
    employee_id: str | None
    register_id: str | None
    amount: int
    currency: str
    model: str
    version: str
    proposal_id: str | None
    note: str | None
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, case: RiskCase, now: datetime) -> CasePublic:
        return cls(
            id=case.id,
            store=case.store,
            event_id=case.event_id,
            kind=case.kind,
            score=round(case.score, 4),
            decision=case.decision,
            severity=case.severity,
            reasons=list(case.reasons),
            state=case.state,
            owner=case.owner,
            sla_due=case.sla_due,
            overdue=case.overdue(now),
            summary=case.summary,
            created_at=case.created_at,
            occurred_at=case.occurred_at,
            employee_id=case.employee_id,
            register_id=case.register_id,
            amount=case.amount,
            currency=case.currency,
            model=case.model,
            version=case.version,
            proposal_id=case.proposal_id,
            note=case.note,
            decided_by=case.decided_by,
            decided_at=case.decided_at,
        )


class CasesPublic(BaseModel):
    items: list[CasePublic]
    next: str | None = Field(description="pass as `before` for the next page; null: no more")


def _case(container: ContainerDep, case_id: str, principal: Principal) -> RiskCase:
    try:
        return container.risk_cases.get(case_id, principal)
    except UnknownCase:
        raise Problem(404, "not_found", f"no case {case_id!r}", field="case_id") from None


@router.get("/cases", response_model=CasesPublic, operation_id="risk-cases-list")
def list_cases(
    container: ContainerDep,
    principal: Principal = require("risk:read"),
    store: Annotated[str | None, Query(max_length=320)] = None,
    state: Annotated[str | None, Query(description=" | ".join(STATES))] = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
    employee_id: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=36)] = None,
) -> Any:
    """The review queue, newest first, for the stores in scope."""
    if state is not None and state not in STATES:
        raise Problem(
            422, "validation_failed", f"state must be one of {', '.join(STATES)}", field="state"
        )
    if store is not None:
        in_scope(principal, store, "store", store)
    cases = container.risk_cases.list(
        principal,
        store=store,
        state=state,
        owner=owner,
        employee_id=employee_id,
        limit=limit + 1,
        before=before,
    )
    now = container.clock.now()
    more = len(cases) > limit
    cases = cases[:limit]
    return {
        "items": [CasePublic.of(c, now) for c in cases],
        "next": cases[-1].id if more and cases else None,
    }


def _transaction(container: ContainerDep, case: RiskCase) -> dict[str, Any] | None:
    if case.record_id is None:
        return None
    record: Transaction | Refund | TillEvent | Payment | None
    with container.uow() as uow:
        if case.kind == "refund":
            record = uow.records.get(Refund, case.record_id)
        elif case.kind == "tender":  # a payment attempt
            record = uow.records.get(Payment, case.record_id)
        elif case.kind in ("no_sale", "price_override"):
            record = uow.records.get(TillEvent, case.record_id)
        else:
            record = uow.records.get(Transaction, case.record_id)
    return None if record is None else record.model_dump(mode="json")


@router.get("/cases/{case_id}", operation_id="risk-cases-get")
def get_case(
    case_id: str, container: ContainerDep, principal: Principal = require("risk:read")
) -> Any:
    """A case, the canonical record scored (``transaction``), the employee's recent scored
    events at the store (``employee_recent``), and the manager approval if one was asked."""
    case = _case(container, case_id, principal)
    out = CasePublic.of(case, container.clock.now()).model_dump(mode="json")
    out["transaction"] = _transaction(container, case)
    out["employee_recent"] = [
        {**e, "occurred_at": e["occurred_at"].isoformat()}
        for e in container.risk_cases.employee_recent(case)
    ]
    approval = None
    if case.proposal_id is not None:
        try:
            record = container.approvals.get(case.proposal_id, principal)
        except LookupError:
            record = None
        if record is not None:
            approval = {"id": record.id, "status": record.status, "mode": record.mode}
    out["approval"] = approval
    return out


class AssignBody(_Body):
    owner: str = Field(min_length=1, max_length=100)


class StateBody(_Body):
    state: Literal["new", "in_review", "dismissed", "confirmed"]
    note: str | None = Field(default=None, max_length=2000)


def _refused(exc: RiskCaseError) -> Problem:
    return Problem(exc.status, exc.code, exc.detail, field=exc.field)


@router.post("/cases/{case_id}/assign", response_model=CasePublic, operation_id="risk-cases-assign")
def assign_case(
    case_id: str,
    body: AssignBody,
    container: ContainerDep,
    principal: Principal = require("risk:decide"),
) -> Any:
    """Give the case an owner (audited)."""
    try:
        case = container.risk_cases.assign(case_id, body.owner, principal)
    except UnknownCase:
        raise Problem(404, "not_found", f"no case {case_id!r}", field="case_id") from None
    except RiskCaseError as exc:
        raise _refused(exc) from None
    return CasePublic.of(case, container.clock.now())


@router.post("/cases/{case_id}/state", response_model=CasePublic, operation_id="risk-cases-state")
async def set_case_state(
    case_id: str,
    body: StateBody,
    container: ContainerDep,
    principal: Principal = require("risk:decide"),
) -> Any:
    """Move the case: ``new`` → ``in_review`` → ``dismissed`` | ``confirmed`` (or back to
    ``new``). A decision is audited and stored as a label; the scorer learns from labels once
    enough new ones exist, in the process that scores events (here only when this process runs
    the workers: a copy that learned here would be overwritten by the worker's snapshot)."""
    try:
        case = await asyncio.to_thread(
            container.risk_cases.set_state, case_id, body.state, principal, note=body.note
        )
    except UnknownCase:
        raise Problem(404, "not_found", f"no case {case_id!r}", field="case_id") from None
    except RiskCaseError as exc:
        raise _refused(exc) from None
    if case.state in ("dismissed", "confirmed"):
        state = container.risk_state()

        def learn() -> None:
            with container.uow() as uow:
                state.maybe_learn(uow, container.clock.now())

        await asyncio.to_thread(learn)
    return CasePublic.of(case, container.clock.now())


class ExplanationPublic(BaseModel):
    text: str
    model: str | None = Field(description="the model that worded it; null: deterministic")


@router.post(
    "/cases/{case_id}/explain", response_model=ExplanationPublic, operation_id="risk-cases-explain"
)
async def explain_case(
    case_id: str, container: ContainerDep, principal: Principal = require("risk:read")
) -> Any:
    """The case in plain words: the configured language model rewords the deterministic
    summary (customer and employee personal data replaced by placeholders first, the call
    audited), or, with no model, the deterministic summary itself."""
    case = _case(container, case_id, principal)
    result = await explain(
        case.summary,
        llm=container.llm,
        actor=principal.actor,
        purpose="risk.case_explain",
        store=case.store,
        context={
            "employee_id": case.employee_id,
            "customer_id": case.event.get("customer_id"),
            "reasons": list(case.reasons),
        },
    )
    return ExplanationPublic(text=result.text, model=result.model)


# ---------------------------------------------------------------------------- reports


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Problem(422, "validation_failed", f"{name} must be YYYY-MM-DD", field=name) from None


@router.get("/reports", operation_id="risk-reports")
def reports(
    container: ContainerDep,
    principal: Principal = require("risk:read"),
    store: Annotated[str | None, Query(max_length=320)] = None,
    since: Annotated[str | None, Query(description="first local day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(description="last local day, YYYY-MM-DD")] = None,
) -> Any:
    """Exception reports for the stores in scope: cases by employee (and how they were
    decided), by reason code and by local day."""
    if store is not None:
        in_scope(principal, store, "store", store)
    first, last = _day(since, "since"), _day(until, "until")
    if first is not None and last is not None and last < first:
        raise Problem(422, "validation_failed", "until is before since", field="until")
    return container.risk_cases.reports(principal, store=store, since=first, until=last)
