"""The loss-prevention review queue: cases per store, worked by people to a decision.

Life of a case (``risk_cases.state``)::

    new ──start──► in_review ──► confirmed   (a loss: label True)
                       │   └───► dismissed   (not a loss: label False)
                       └─release─► new

* The risk workflow opens cases (``new``) from flagged events, with a severity, an SLA due time
  and a plain-language summary; nothing here scores.
* Working a case needs ``risk:decide`` and the case's store in scope (outside it a case does
  not exist: 404). Starting a review without an owner makes the reviewer its owner; a case can
  be (re)assigned to anyone by name while it is open.
* A decision (``confirmed`` / ``dismissed``) is final, audited (``risk.case_confirmed`` /
  ``risk.case_dismissed``, with the case's reasons, score, model and version, and the note),
  and stored as a label (``risk_labels``, with the flattened event scored) that the scorer
  learns from.
* Every change is audited; reading is not.
"""

from __future__ import annotations

import builtins
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.engine import Row

from tillwise.governance.audit import AuditLog
from tillwise.governance.principal import Principal
from tillwise.ports.clock import Clock
from tillwise.store.engine import read_only
from tillwise.store.mappers import utc
from tillwise.store.tables_risk import risk_cases, risk_labels, risk_scores

NEW, IN_REVIEW, DISMISSED, CONFIRMED = "new", "in_review", "dismissed", "confirmed"
STATES: tuple[str, ...] = (NEW, IN_REVIEW, DISMISSED, CONFIRMED)
DECIDED = (DISMISSED, CONFIRMED)
TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({IN_REVIEW}),
    IN_REVIEW: frozenset({NEW, DISMISSED, CONFIRMED}),
    DISMISSED: frozenset(),
    CONFIRMED: frozenset(),
}


class RiskCaseError(Exception):
    """A change that is not allowed; ``status`` is the HTTP status, ``field`` the input."""

    def __init__(
        self,
        detail: str,
        *,
        status: int = 409,
        code: str = "case_refused",
        field: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code
        self.field = field


class UnknownCase(LookupError):
    code = "not_found"


@dataclass(frozen=True)
class RiskCase:
    id: str
    store: str
    connection_id: str
    location_external_id: str
    event_key: str
    event_id: str
    kind: str
    record_id: str | None
    employee_id: str | None
    register_id: str | None
    customer_id: str | None
    occurred_at: datetime
    local_day: date
    currency: str
    amount: int
    score: float
    decision: str
    severity: str
    reasons: tuple[dict[str, Any], ...]
    model: str
    version: str
    summary: str
    event: dict[str, Any]
    state: str
    owner: str | None
    sla_due: datetime
    proposal_id: str | None
    note: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def overdue(self, now: datetime) -> bool:
        return self.state in (NEW, IN_REVIEW) and now > self.sla_due


def _case(row: Row[Any]) -> RiskCase:
    m = dict(row._mapping)
    for name in ("occurred_at", "sla_due", "decided_at", "created_at", "updated_at"):
        m[name] = utc(m[name])
    m["reasons"] = tuple(m["reasons"] or ())
    m["event"] = dict(m["event"] or {})
    return RiskCase(**m)


class RiskCases:
    """Use cases of the review queue (reads and decisions), on the governance engine."""

    def __init__(self, engine: Engine, audit: AuditLog, clock: Clock) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock

    # ------------------------------------------------------------------ reading

    def get(self, case_id: str, principal: Principal | None = None) -> RiskCase:
        with read_only(self._engine) as db:
            row = db.execute(select(risk_cases).where(risk_cases.c.id == case_id)).first()
        if row is None or (principal is not None and not principal.sees(row.store)):
            raise UnknownCase(f"no case {case_id!r}")
        return _case(row)

    def list(
        self,
        principal: Principal | None = None,
        *,
        store: str | None = None,
        state: str | None = None,
        owner: str | None = None,
        employee_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> builtins.list[RiskCase]:
        """Newest first; ``before`` = the last id seen continues the list."""
        c = risk_cases.c
        query = select(risk_cases).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        for column, value in (
            (c.store, store),
            (c.state, state),
            (c.owner, owner),
            (c.employee_id, employee_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if principal is not None and principal.stores is not None:
            query = query.where(c.store.in_(sorted(principal.stores)))
        if before is not None:
            anchor = select(c.created_at).where(c.id == before).scalar_subquery()
            query = query.where(
                or_(c.created_at < anchor, and_(c.created_at == anchor, c.id < before))
            )
        with read_only(self._engine) as db:
            return [_case(r) for r in db.execute(query)]

    def employee_recent(self, case: RiskCase, limit: int = 20) -> builtins.list[dict[str, Any]]:
        """The case's employee's latest scored events at its store (newest first)."""
        if case.employee_id is None:
            return []
        s = risk_scores.c
        query = (
            select(risk_scores)
            .where(s.connection_id == case.connection_id)
            .where(s.location_external_id == case.location_external_id)
            .where(s.employee_id == case.employee_id)
            .order_by(s.occurred_at.desc(), s.event_key.desc())
            .limit(limit)
        )
        with read_only(self._engine) as db:
            rows = db.execute(query).all()
        return [
            {
                "event_id": r.event_id,
                "kind": r.kind,
                "occurred_at": utc(r.occurred_at),
                "amount": r.amount,
                "currency": r.currency,
                "score": round(float(r.score), 4),
                "decision": r.decision,
                "reasons": [x.get("code") for x in (r.reasons or [])],
                "model": r.model,
                "version": r.version,
            }
            for r in rows
        ]

    def reports(
        self,
        principal: Principal,
        *,
        store: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> dict[str, Any]:
        """Cases by employee (with how they were decided), by reason code and by local day,
        and how many events were scored, for the stores in scope (``until`` inclusive)."""
        c = risk_cases.c
        query = select(
            c.store, c.employee_id, c.local_day, c.state, c.reasons, c.decision
        ).select_from(risk_cases)
        s = risk_scores.c
        scored = select(s.connection_id, s.location_external_id, func.count()).group_by(
            s.connection_id, s.location_external_id
        )
        if store is not None:
            query = query.where(c.store == store)
            conn, _, loc = store.partition(":")
            scored = scored.where(s.connection_id == conn, s.location_external_id == loc)
        if principal.stores is not None:
            query = query.where(c.store.in_(sorted(principal.stores)))
        if since is not None:
            query = query.where(c.local_day >= since)
            scored = scored.where(s.local_day >= since)
        if until is not None:
            query = query.where(c.local_day <= until)
            scored = scored.where(s.local_day <= until)
        by_employee: dict[str, Counter[str]] = defaultdict(Counter)
        by_reason: Counter[str] = Counter()
        by_day: Counter[str] = Counter()
        with read_only(self._engine) as db:
            rows = db.execute(query).all()
            scored_rows = db.execute(scored).all()
        for r in rows:
            who = r.employee_id or "(none)"
            by_employee[who]["cases"] += 1
            by_employee[who][r.state] += 1
            if r.decision == "require_manager":
                by_employee[who]["require_manager"] += 1
            for code in {x.get("code") for x in (r.reasons or [])}:
                if code:
                    by_reason[str(code)] += 1
            by_day[r.local_day.isoformat()] += 1
        events = sum(int(n) for conn, loc, n in scored_rows if principal.sees(f"{conn}:{loc}"))
        ranked = sorted(by_employee.items(), key=lambda kv: (-kv[1]["cases"], kv[0]))
        return {
            "store": store,
            "since": None if since is None else since.isoformat(),
            "until": None if until is None else until.isoformat(),
            "scored": events,
            "cases": len(rows),
            "by_employee": [
                {"employee_id": who, **{k: counts[k] for k in ("cases", *STATES)}}
                | {"require_manager": counts["require_manager"]}
                for who, counts in ranked
            ],
            "by_reason": [
                {"code": code, "cases": n}
                for code, n in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "by_day": [{"day": day, "cases": n} for day, n in sorted(by_day.items())],
        }

    # ------------------------------------------------------------------ changes

    def assign(self, case_id: str, owner: str, principal: Principal) -> RiskCase:
        owner = owner.strip()
        if not owner or len(owner) > 100:
            raise RiskCaseError(
                "owner must be 1 to 100 characters", status=422, code="invalid", field="owner"
            )
        return self._change(case_id, principal, owner=owner, action="risk.case_assigned")

    def set_state(
        self, case_id: str, state: str, principal: Principal, *, note: str | None = None
    ) -> RiskCase:
        if state not in STATES:
            raise RiskCaseError(
                f"state must be one of {', '.join(STATES)}",
                status=422,
                code="invalid",
                field="state",
            )
        return self._change(case_id, principal, state=state, note=note, action=f"risk.case_{state}")

    def _change(
        self,
        case_id: str,
        principal: Principal,
        *,
        action: str,
        owner: str | None = None,
        state: str | None = None,
        note: str | None = None,
    ) -> RiskCase:
        now = self._clock.now()
        with self._engine.begin() as db:
            row = db.execute(
                select(risk_cases).where(risk_cases.c.id == case_id).with_for_update()
            ).first()
            if row is None or not principal.sees(row.store):
                raise UnknownCase(f"no case {case_id!r}")
            before = _case(row)
            if before.state in DECIDED:
                raise RiskCaseError(
                    f"case {case_id} is already {before.state}", code="case_decided"
                )
            values: dict[str, Any] = {"updated_at": now}
            if owner is not None:
                values["owner"] = owner
            if state is not None:
                if state not in TRANSITIONS[before.state]:
                    allowed = ", ".join(sorted(TRANSITIONS[before.state])) or "none"
                    raise RiskCaseError(
                        f"a {before.state} case cannot become {state} (allowed: {allowed})",
                        code="invalid_transition",
                        field="state",
                    )
                values["state"] = state
                if state == IN_REVIEW and before.owner is None:
                    values["owner"] = principal.name or principal.id
                if note is not None:
                    values["note"] = note
                if state in DECIDED:
                    values["decided_by"] = principal.actor
                    values["decided_at"] = now
            db.execute(update(risk_cases).where(risk_cases.c.id == case_id).values(**values))
            after = _case(db.execute(select(risk_cases).where(risk_cases.c.id == case_id)).one())
            if state in DECIDED:
                label = {
                    "case_id": case_id,
                    "store": after.store,
                    "event": after.event,
                    "label": state == CONFIRMED,
                    "decided_by": principal.actor,
                    "decided_at": now,
                }
                # the case row is locked and was undecided: no label for it exists yet
                db.execute(insert(risk_labels).values(label))
            self._audit.append_in(
                db,
                actor=principal.actor,
                action=action,
                store=after.store,
                inputs={
                    "case_id": case_id,
                    "event_id": after.event_id,
                    "kind": after.kind,
                    "employee_id": after.employee_id,
                    "score": after.score,
                    "decision": after.decision,
                    "reasons": [r.get("code") for r in after.reasons],
                    "model": after.model,
                    "version": after.version,
                    "note": note,
                },
                outputs={
                    "state": after.state,
                    "owner": after.owner,
                    "label": None if state not in DECIDED else state == CONFIRMED,
                    "previous_state": before.state,
                },
            )
        return after
