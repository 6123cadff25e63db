"""The approval queue: every proposal of every kind, routed by its store's mode, decided by
people under the approval rules, written back by the platform's connector, and audited.

Life of a proposal (``proposals.status``)::

    new ─route─► discarded            (mode off)
             ├─► shadow               (mode shadow: kept for comparison, never written)
             ├─► pending ─approve×n─► approved ─write─► applied ─revert─► reverting ─► reverted
             │       ├─reject─► rejected                   └─► failed (the POS refused)
             │       └─expire─► expired
             ├─► approved (mode auto, within its limit and rules) ─write─► applied
             └─► merged               (a merge request: its lines went into an open draft)

* Workflows store proposals as ``new`` in their own transaction; :meth:`Approvals.route_new`
  routes them (right after, and in a sweep that also covers a crash in between).
* An approver needs ``proposals:approve``, the store in scope (for a transfer, the store it
  moves stock out of too), a role that approves the kind, and must not be whoever proposed
  it; a threshold may demand a senior approver (regional manager or admin) and/or two
  different approvers, and auto mode then leaves the proposal to people. A proposal whose value
  is unknown counts as above every value threshold that is set (auto mode's limit included),
  and its ``reason`` says so. Editing (then
  approving) replaces the payload, starts the approvals afresh, holds the edited value to the
  approval rules again (never fewer approvals, nor a lesser role, than it was routed with),
  and counts as an override for the guardrail.
* A workflow that wants to add to a draft still open (``new`` or ``pending``) stores a *merge
  request*: a proposal of the same kind and store with ``inputs.merge_into`` = the draft's id.
  Routing folds it into the draft (payload lines by SKU, value, explanation; a pending draft's
  approvals start afresh, its approval rules are re-evaluated for the new value) and marks the
  request ``merged``, audited as ``proposal.merged``. A draft already decided never changes:
  the request is then ``discarded`` with the reason (the next plan proposes afresh).
* ``approved`` is committed before the write, together with a claim on writing it
  (``write_claimed_at``): the sweep leaves a claimed proposal alone until the claim is released
  or lapses after :data:`WRITE_LEASE` (its process died), so an approval and the sweep never ask
  the POS at once. The write carries an idempotency key derived from the proposal id, so a crash
  or retry never writes twice; a transient failure — or any error the write-back did not expect
  — leaves the proposal ``approved`` (claim released) for the sweep to retry, audited as
  ``proposal.write_deferred`` with the attempt count; the sweep retries it after
  :data:`WRITE_RETRY_FIRST`, twice as long after each further failure, at most
  :data:`WRITE_RETRY_MAX` apart (a POS down for a day is asked ~30 times, not ~3,000); a
  refusal marks it ``failed``.
* A revert first claims the proposal (``applied`` → ``reverting``, under its row lock), so of two
  people reverting at once only one asks the POS; the other is told it is no longer applied.
  If the POS fails, the claim is released (``applied`` again, to be retried); a claim left by a
  crash lapses after :data:`REVERT_LEASE` (the undo carries an idempotency key too).

Every step appends to the audit log with the actor, the store, the proposal, the approval trail
and what the POS answered.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, true, update
from sqlalchemy.engine import Row

from tillwise.domain.locations import store_key
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.governance.audit import AuditLog
from tillwise.governance.connections import Connections
from tillwise.governance.principal import Principal
from tillwise.governance.rbac import SENIOR_APPROVERS
from tillwise.governance.rollout import AUTO, DRAFT, OFF, SHADOW, Modes, exceeds
from tillwise.ports.clock import Clock
from tillwise.ports.writeback import (
    NotSupported,
    WriteBack,
    WriteBackError,
    WriteProgress,
    WriteResult,
    WriteTarget,
)
from tillwise.store.engine import read_only
from tillwise.store.repositories.proposals import proposal_row
from tillwise.store.tables_governance import proposals

log = logging.getLogger(__name__)

NEW, DISCARDED, SHADOWED, PENDING = "new", "discarded", "shadow", "pending"
APPROVED, APPLIED, FAILED = "approved", "applied", "failed"
REJECTED, EXPIRED, REVERTED, MERGED = "rejected", "expired", "reverted", "merged"
REVERTING = "reverting"  # a revert claimed the proposal and is asking the POS to undo it
STATUSES: tuple[str, ...] = (NEW, DISCARDED, SHADOWED, PENDING, APPROVED, APPLIED, FAILED)
STATUSES += (REJECTED, EXPIRED, REVERTED, MERGED, REVERTING)
REVERT_LEASE = timedelta(minutes=10)  # a claim older than this (its process died) lapses
WRITE_LEASE = timedelta(minutes=10)  # the same for a claim on writing an approved proposal
# a deferred write is retried after 30 s, then twice as long each time, at most an hour apart
WRITE_RETRY_FIRST = timedelta(seconds=30)
WRITE_RETRY_MAX = timedelta(hours=1)
UNKNOWN_VALUE = "value unknown: counted as above every value threshold that is set"
MERGE_INTO = "merge_into"  # inputs key of a merge request: the id of the draft to merge into
SENIOR = "regional_manager"

# What an approver may change before approving, per kind: payload field → type and bounds.
# ``lines.*.quantity`` names a purchase-order line by SKU (``lines.85123A.quantity``): whole
# units, 0 drops the line (an order keeps at least one); the order's value follows.
LINE_QUANTITY = "lines.*.quantity"
EDITABLE: dict[str, dict[str, tuple[type, int, int]]] = {
    "stock_adjustment": {"delta": (int, -1_000_000, 1_000_000)},
    "draft_purchase_order": {LINE_QUANTITY: (int, 0, 1_000_000)},
}


class ApprovalError(Exception):
    """A decision that is not allowed (who, what state, what input); ``status`` is the HTTP
    status the API answers with, ``field`` the input at fault."""

    code = "approval_refused"

    def __init__(
        self, detail: str, *, status: int = 409, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.field = field
        if code is not None:
            self.code = code


# Kinds whose approval is itself the outcome: nothing is written to the POS (a manager's
# approval of a flagged refund or discount; the POS's own manager-PIN flow is out of reach).
DECISION_ONLY = frozenset({"risk_decision"})


class UnknownProposal(LookupError):
    code = "unknown_proposal"
    field = "proposal_id"


@dataclass(frozen=True)
class ProposalRecord:
    """A proposal and what governance made of it."""

    proposal: Proposal
    status: str
    mode: str | None
    store: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    required_role: str | None
    required_approvals: int
    approvals: tuple[dict[str, Any], ...]
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    result: dict[str, Any] | None

    @property
    def id(self) -> str:
        return self.proposal.id

    def trail(self) -> dict[str, Any]:
        """The approval trail, as the audit log records it."""
        return {
            "status": self.status,
            "mode": self.mode,
            "required_role": self.required_role,
            "required_approvals": self.required_approvals,
            "approvals": list(self.approvals),
            "decided_by": self.decided_by,
            "reason": self.reason,
        }


def _record(row: Row[Any]) -> ProposalRecord:
    m = row._mapping
    return ProposalRecord(
        proposal=Proposal.model_validate(m["data"]),
        status=m["status"],
        mode=m["mode"],
        store=m["store"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        expires_at=m["expires_at"],
        required_role=m["required_role"],
        required_approvals=int(m["required_approvals"]),
        approvals=tuple(m["approvals"] or ()),
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
        reason=m["reason"],
        result=m["result"],
    )


class Approvals:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        clock: Clock,
        modes: Modes,
        connections: Connections,
        writebacks: Mapping[str, WriteBack | None],
        app_settings: Callable[[str], Mapping[str, str]] | None = None,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock
        self._modes = modes
        self._connections = connections
        self._writebacks = writebacks
        self._app_settings = app_settings

    def writeback_for(self, platform: str) -> WriteBack | None:
        """What carries out approved proposals on ``platform`` (None: nothing can)."""
        return self._writebacks.get(platform)

    # ------------------------------------------------------------------ reading

    def get(self, proposal_id: str, principal: Principal | None = None) -> ProposalRecord:
        """The proposal, if it exists and (given a principal) its store is in scope."""
        with read_only(self._engine) as db:
            row = db.execute(select(proposals).where(proposals.c.id == proposal_id)).first()
        if row is None or (principal is not None and not principal.sees(row.store)):
            raise UnknownProposal(f"no proposal {proposal_id!r}")
        return _record(row)

    def list(
        self,
        principal: Principal | None = None,
        *,
        status: str | None = None,
        kind: str | None = None,
        workflow: str | None = None,
        store: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> builtins.list[ProposalRecord]:
        """Newest first; ``before`` = the last id seen continues the list."""
        p = proposals.c
        query = select(proposals).order_by(p.created_at.desc(), p.id.desc()).limit(limit)
        for column, value in ((p.status, status), (p.kind, kind), (p.workflow, workflow)):
            if value is not None:
                query = query.where(column == value)
        if store is not None:
            query = query.where(p.store == store)
        if principal is not None and principal.stores is not None:
            query = query.where(p.store.in_(sorted(principal.stores)))
        if before is not None:
            # the anchor as the caller may see it: another store's proposal is no anchor (as
            # an unknown id is not), so the cursor tells nobody which ids exist elsewhere
            seen = select(p.created_at).where(p.id == before)
            if principal is not None and principal.stores is not None:
                seen = seen.where(p.store.in_(sorted(principal.stores)))
            anchor = seen.scalar_subquery()
            query = query.where(
                or_(p.created_at < anchor, and_(p.created_at == anchor, p.id < before))
            )
        with read_only(self._engine) as db:
            return [_record(r) for r in db.execute(query)]

    def counts(self, principal: Principal | None = None) -> dict[str, int]:
        from sqlalchemy import func

        p = proposals.c
        query = select(p.status, func.count()).group_by(p.status)
        if principal is not None and principal.stores is not None:
            query = query.where(p.store.in_(sorted(principal.stores)))
        with read_only(self._engine) as db:
            return {status: int(n) for status, n in db.execute(query)}

    # ------------------------------------------------------------------ routing

    def submit(self, proposal: Proposal, principal: Principal) -> ProposalRecord:
        """A person's own proposal (``proposals:create``): always waits for someone else's
        approval, whatever the store's mode."""
        store = self._store_of(proposal)
        if not principal.sees(store):
            raise ApprovalError("that store is not in your scope", status=403, code="forbidden")
        now = self._clock.now()
        proposal = proposal.model_copy(
            update={"proposed_by": principal.actor, "workflow": "manual"}
        )
        with self._engine.begin() as db:
            db.execute(insert(proposals).values(**proposal_row(proposal, status=NEW, now=now)))
            return self._route(db, self._lock(db, proposal.id), force_mode=DRAFT)

    async def route_new(self, limit: int = 500) -> int:
        """Route proposals that workflows stored as ``new``; then write back those that auto
        mode approved. Returns how many were routed. The database work runs in worker threads:
        waiting for a busy database (SQLite's one writer, saving a store's plan) must not stop
        the server's event loop."""
        ids = await asyncio.to_thread(self._new_ids, limit)
        routed = 0
        for pid in ids:
            record = await asyncio.to_thread(self._route_new_one, pid)
            if record is None:
                continue
            routed += 1
            if record.status == APPROVED:  # auto mode: claimed by routing, written here
                await self._write(record)
        return routed

    def _new_ids(self, limit: int) -> builtins.list[str]:
        with read_only(self._engine) as db:
            return list(
                db.execute(
                    select(proposals.c.id)
                    .where(proposals.c.status == NEW)
                    .order_by(proposals.c.created_at)
                    .limit(limit)
                ).scalars()
            )

    def _route_new_one(self, pid: str) -> ProposalRecord | None:
        """Route one ``new`` proposal (merged into its target draft, or routed by its mode);
        None when someone routed it meanwhile."""
        with self._engine.begin() as db:
            row = self._lock(db, pid)
            if row.status != NEW:
                return None
            target = _record(row).proposal.inputs.get(MERGE_INTO)
            if isinstance(target, str) and target:
                return self._merge(db, row, target)
            return self._route(db, row)

    def _route(
        self, db: Connection, row: Row[Any], *, force_mode: str | None = None
    ) -> ProposalRecord:
        record = _record(row)
        proposal = record.proposal
        setting = self._modes.mode_for(proposal.workflow, record.store)
        mode = force_mode or setting.mode
        now = self._clock.now()
        auto_limit = setting.auto_limit if mode == AUTO else None
        required_role, needed, why = self._requirements(proposal, record.store, auto_limit)
        values: dict[str, Any] = {
            "mode": mode,
            "updated_at": now,
            "required_role": required_role,
            "required_approvals": needed,
        }
        actor = proposal.proposed_by or f"workflow:{proposal.workflow}"
        if mode == OFF:
            values["status"], action = DISCARDED, "proposal.discarded"
        elif mode == SHADOW:
            values["status"], action = SHADOWED, "proposal.shadowed"
        elif mode == AUTO and self._within_auto(
            proposal.value, setting.auto_limit, required_role, needed
        ):
            values.update(status=APPROVED, decided_by=actor, decided_at=now, write_claimed_at=now)
            values["approvals"] = [{"by": actor, "role": "auto", "at": now.isoformat()}]
            action = "proposal.auto_approved"
        else:
            values["status"], action = PENDING, "proposal.queued"
            rule = self._modes.rule_for(proposal.kind, record.store)
            values["expires_at"] = now + timedelta(hours=rule.expire_after_hours)
            if why is not None:
                values["reason"] = why
            elif mode == AUTO:
                values["reason"] = "over the auto limit or the approval rules: needs a person"
        db.execute(update(proposals).where(proposals.c.id == proposal.id).values(**values))
        routed = _record(self._lock(db, proposal.id))
        self._audit.append_in(
            db,
            actor=actor,
            action=action,
            store=routed.store,
            inputs={
                "proposal": proposal.model_dump(mode="json"),
                "mode": mode,
                "auto_limit": None if setting.auto_limit is None else str(setting.auto_limit),
            },
            outputs=routed.trail(),
        )
        return routed

    def _merge(self, db: Connection, row: Row[Any], target_id: str) -> ProposalRecord:
        """Fold a merge request into the open draft it names (see the module docstring)."""
        request = _record(row)
        asked = request.proposal
        now = self._clock.now()
        actor = asked.proposed_by or f"workflow:{asked.workflow}"
        target_row = db.execute(
            select(proposals).where(proposals.c.id == target_id).with_for_update()
        ).first()
        refusal = None
        if target_row is None:
            refusal = f"the draft {target_id} it would merge into does not exist"
        elif target_row.kind != asked.kind or target_row.store != request.store:
            refusal = f"the draft {target_id} is another kind or store"
        elif target_row.status not in (NEW, PENDING):
            refusal = f"the draft {target_id} is already {target_row.status}; it never changes"
        elif target_row.expires_at is not None and now >= _aware(target_row.expires_at):
            refusal = f"the draft {target_id} has expired"
        if refusal is not None or target_row is None:
            db.execute(
                update(proposals)
                .where(proposals.c.id == asked.id)
                .values(status=DISCARDED, reason=refusal, updated_at=now, decided_at=now)
            )
            after = _record(self._lock(db, asked.id))
            self._audit.append_in(
                db,
                actor=actor,
                action="proposal.discarded",
                store=after.store,
                inputs={"proposal": asked.model_dump(mode="json"), MERGE_INTO: target_id},
                outputs=after.trail(),
            )
            return after
        target = _record(target_row)
        before = target.proposal
        payload = merged_payload(before.payload, asked.payload)
        # an order is worth its lines, exactly: unknown (None) once a line's cost is unknown
        is_order = asked.kind == ProposalKind.DRAFT_PURCHASE_ORDER
        value = order_value(payload) if is_order else asked.value
        merged_ids = [*before.inputs.get("merged", []), asked.id]
        proposal = before.model_copy(
            update={
                "payload": payload,
                "value": value,
                "summary": asked.summary,
                "explanation": asked.explanation,
                "new_vendor": before.new_vendor or asked.new_vendor,
                "inputs": {**asked.inputs, "merged": merged_ids, MERGE_INTO: None},
            }
        )
        values: dict[str, Any] = {
            "data": proposal.model_dump(mode="json"),
            "value_amount": None if value is None else value.amount,
            "value_currency": None if value is None else value.currency,
            "updated_at": now,
        }
        if target.status == PENDING:  # what was approved so far was something else
            role, needed, why = self._requirements(proposal, target.store)
            stale = None if target.reason == UNKNOWN_VALUE else target.reason
            values.update(required_role=role, required_approvals=needed, approvals=[])
            values["reason"] = why if why is not None else stale
        db.execute(update(proposals).where(proposals.c.id == target_id).values(**values))
        db.execute(
            update(proposals)
            .where(proposals.c.id == asked.id)
            .values(
                status=MERGED,
                result={"merged_into": target_id},
                decided_by=actor,
                decided_at=now,
                updated_at=now,
            )
        )
        merged = _record(self._lock(db, target_id))
        self._audit.append_in(
            db,
            actor=actor,
            action="proposal.merged",
            store=merged.store,
            inputs={
                "proposal_id": target_id,
                "merge_request": asked.id,
                "before": before.payload,
                "request": asked.payload,
            },
            outputs={"payload": payload, **merged.trail()},
        )
        return _record(self._lock(db, asked.id))

    def _requirements(
        self, proposal: Proposal, store: str | None, auto_limit: Decimal | None = None
    ) -> tuple[str | None, int, str | None]:
        """The approval rules for the proposal as it stands: the role it needs (a senior
        approver above a value or for a new vendor, else None), how many approvals, and
        :data:`UNKNOWN_VALUE` when its value is unknown and a threshold (of the rule, or the
        ``auto_limit`` it is routed under) is set — it then counts as above them all."""
        rule = self._modes.rule_for(proposal.kind, store)
        needs_senior = exceeds(proposal.value, rule.regional_above) or (
            proposal.new_vendor and rule.new_vendor_needs_regional
        )
        needed = 2 if exceeds(proposal.value, rule.two_approvers_above) else 1
        thresholds = (rule.regional_above, rule.two_approvers_above, auto_limit)
        unknown = proposal.value is None and any(t is not None for t in thresholds)
        return (SENIOR if needs_senior else None), needed, (UNKNOWN_VALUE if unknown else None)

    @staticmethod
    def _within_auto(
        value: Money | None, limit: Any, required_role: str | None, needed: int
    ) -> bool:
        """Auto mode approves alone only what no rule gives a senior or a second approver."""
        return required_role is None and needed == 1 and not exceeds(value, limit)

    # ------------------------------------------------------------------ deciding

    async def approve(
        self,
        proposal_id: str,
        principal: Principal,
        *,
        edits: Mapping[str, Any] | None = None,
        comment: str | None = None,
    ) -> ProposalRecord:
        """Add ``principal``'s approval (after applying ``edits`` to the payload, if any);
        when the approvals are complete, write the proposal back to the POS. The database
        steps run in worker threads (see :meth:`route_new`)."""
        after, complete = await asyncio.to_thread(
            self._add_approval, proposal_id, principal, edits, comment
        )
        if complete:
            after = await self._write(after)
            await asyncio.to_thread(self._modes.check_guardrails, after.proposal.workflow)
        return after

    def _add_approval(
        self,
        proposal_id: str,
        principal: Principal,
        edits: Mapping[str, Any] | None,
        comment: str | None,
    ) -> tuple[ProposalRecord, bool]:
        """Record ``principal``'s approval; (the proposal after it, whether it is complete —
        then claimed for this caller's write)."""
        now = self._clock.now()
        with self._engine.begin() as db:
            row = self._lock(db, proposal_id)
            record = self._decidable(row, principal, now)
            if not principal.may_approve(record.proposal.kind):
                raise ApprovalError(
                    f"role {principal.role!r} cannot approve {record.proposal.kind} proposals",
                    status=403,
                    code="forbidden",
                )
            if record.required_role == SENIOR and principal.role not in SENIOR_APPROVERS:
                raise ApprovalError(
                    "this proposal needs a regional manager's approval (approval rules)",
                    status=403,
                    code="needs_regional_manager",
                )
            approvals = list(record.approvals)
            proposal = record.proposal
            edited = False
            required_role, needed = record.required_role, record.required_approvals
            if edits:
                proposal = self._edited(proposal, edits)
                approvals, edited = [], True  # earlier approvals were of something else
                # the edited value answers to the rules afresh (never fewer than routed with)
                role, needed_now, _ = self._requirements(proposal, record.store)
                required_role = required_role or role
                needed = max(needed, needed_now)
                if required_role == SENIOR and principal.role not in SENIOR_APPROVERS:
                    raise ApprovalError(
                        "as edited, this proposal needs a regional manager's approval "
                        "(approval rules)",
                        status=403,
                        code="needs_regional_manager",
                    )
            elif any(a["by"] == principal.actor for a in approvals):
                raise ApprovalError(
                    "you have already approved this proposal; it needs another approver",
                    code="already_approved",
                )
            approvals.append(
                {
                    "by": principal.actor,
                    "name": principal.name,
                    "role": principal.role,
                    "at": now.isoformat(),
                    "edited": edited,
                    "comment": (comment or "")[:500] or None,
                }
            )
            complete = len(approvals) >= needed
            values: dict[str, Any] = {
                "approvals": approvals,
                "data": proposal.model_dump(mode="json"),
                "value_amount": None if proposal.value is None else proposal.value.amount,
                "value_currency": None if proposal.value is None else proposal.value.currency,
                "required_role": required_role,
                "required_approvals": needed,
                "updated_at": now,
            }
            if complete:  # approved, and claimed for this caller's write
                values.update(
                    status=APPROVED,
                    decided_by=principal.actor,
                    decided_at=now,
                    write_claimed_at=now,
                )
            db.execute(update(proposals).where(proposals.c.id == proposal_id).values(**values))
            after = _record(self._lock(db, proposal_id))
            self._audit.append_in(
                db,
                actor=principal.actor,
                action="proposal.approved" if complete else "proposal.approval_added",
                store=after.store,
                inputs={
                    "proposal_id": proposal_id,
                    "edits": dict(edits) if edits else None,
                    "before": record.proposal.payload if edited else None,
                    "comment": comment,
                },
                outputs={"payload": proposal.payload, **after.trail()},
            )
        return after, complete

    def apply_rules(self, kind: str | None, *, actor: str) -> int:
        """Hold the proposals of ``kind`` (None: every kind) awaiting approval to the approval
        rules as they now stand (after a change of them): a proposal whose rules have tightened
        needs the more approvals or the senior role now asked for, audited as
        ``proposal.rules_applied``; none needs fewer or a lesser role than it was routed with.
        Returns how many changed."""
        with read_only(self._engine) as db:
            ids = list(
                db.execute(
                    select(proposals.c.id)
                    .where(proposals.c.status == PENDING)
                    .where(proposals.c.kind == kind if kind is not None else true())
                    .order_by(proposals.c.created_at, proposals.c.id)
                ).scalars()
            )
        changed = 0
        for pid in ids:
            with self._engine.begin() as db:
                row = self._lock(db, pid)
                if row.status != PENDING:
                    continue
                record = _record(row)
                role, needed, why = self._requirements(record.proposal, record.store)
                role = record.required_role or role
                needed = max(record.required_approvals, needed)
                if (role, needed) == (record.required_role, record.required_approvals):
                    continue
                reason = why if why is not None and record.reason is None else record.reason
                db.execute(
                    update(proposals)
                    .where(proposals.c.id == pid)
                    .values(
                        required_role=role,
                        required_approvals=needed,
                        reason=reason,
                        updated_at=self._clock.now(),
                    )
                )
                self._audit.append_in(
                    db,
                    actor=actor,
                    action="proposal.rules_applied",
                    store=record.store,
                    inputs={
                        "proposal_id": pid,
                        "before": {
                            "required_role": record.required_role,
                            "required_approvals": record.required_approvals,
                        },
                    },
                    outputs={"required_role": role, "required_approvals": needed},
                )
                changed += 1
        return changed

    def reject(self, proposal_id: str, principal: Principal, *, reason: str) -> ProposalRecord:
        if not isinstance(reason, str) or not reason.strip():
            raise ApprovalError(
                "say why it is rejected", status=422, code="invalid", field="reason"
            )
        now = self._clock.now()
        with self._engine.begin() as db:
            row = self._lock(db, proposal_id)
            record = self._decidable(row, principal, now)
            if not principal.may_approve(record.proposal.kind):
                raise ApprovalError(
                    f"role {principal.role!r} cannot decide {record.proposal.kind} proposals",
                    status=403,
                    code="forbidden",
                )
            db.execute(
                update(proposals)
                .where(proposals.c.id == proposal_id)
                .values(
                    status=REJECTED,
                    decided_by=principal.actor,
                    decided_at=now,
                    reason=reason.strip()[:1000],
                    updated_at=now,
                )
            )
            after = _record(self._lock(db, proposal_id))
            self._audit.append_in(
                db,
                actor=principal.actor,
                action="proposal.rejected",
                store=after.store,
                inputs={"proposal_id": proposal_id, "reason": reason.strip()},
                outputs=after.trail(),
            )
        self._modes.check_guardrails(after.proposal.workflow)
        return after

    async def revert(
        self, proposal_id: str, principal: Principal, *, reason: str
    ) -> ProposalRecord:
        """Undo an applied proposal on the POS, where the platform allows it: claimed first, so
        that of simultaneous reverts only one asks the POS (module docstring). The database
        steps run in worker threads (see :meth:`route_new`)."""
        if not isinstance(reason, str) or not reason.strip():
            raise ApprovalError(
                "say why it is reverted", status=422, code="invalid", field="reason"
            )
        record, target, writeback = await asyncio.to_thread(
            self._claim_revert, proposal_id, principal
        )
        applied = WriteResult(
            reference=str((record.result or {}).get("reference", "")),
            details=dict((record.result or {}).get("details") or {}),
        )
        try:
            result = await writeback.revert(
                target, record.proposal, applied, idempotency_key=f"{proposal_id}:revert"
            )
        except BaseException:  # the POS did not undo it: release the claim for a retry
            await asyncio.to_thread(self._release_revert, proposal_id)
            raise
        after = await asyncio.to_thread(
            self._record_revert, record, principal, reason.strip(), result
        )
        await asyncio.to_thread(self._modes.check_guardrails, after.proposal.workflow)
        return after

    def _claim_revert(
        self, proposal_id: str, principal: Principal
    ) -> tuple[ProposalRecord, WriteTarget, WriteBack]:
        """Check who may revert what, and claim it (status ``reverting``)."""
        with read_only(self._engine) as db:
            row = db.execute(select(proposals).where(proposals.c.id == proposal_id)).first()
        if row is None or not principal.sees(row.store):
            raise UnknownProposal(f"no proposal {proposal_id!r}")
        record = _record(row)
        _check_stock_leaves_scope(record.proposal, principal)
        _check_revertible(row, self._clock.now())
        if not principal.may_approve(record.proposal.kind):
            raise ApprovalError(
                f"role {principal.role!r} cannot revert {record.proposal.kind} proposals",
                status=403,
                code="forbidden",
            )
        target, writeback = self._target(record.proposal)
        if writeback is None or record.proposal.kind not in writeback.reversible:
            raise ApprovalError(
                f"the {target.platform} connector cannot reverse {record.proposal.kind}",
                code="not_reversible",
            )
        with self._engine.begin() as db:  # the claim: only one revert gets past it
            row = self._lock(db, proposal_id)
            now = self._clock.now()
            _check_revertible(row, now)
            db.execute(
                update(proposals)
                .where(proposals.c.id == proposal_id)
                .values(status=REVERTING, updated_at=now)
            )
        return _record(row), target, writeback

    def _release_revert(self, proposal_id: str) -> None:
        with self._engine.begin() as db:
            db.execute(
                update(proposals)
                .where(proposals.c.id == proposal_id)
                .where(proposals.c.status == REVERTING)
                .values(status=APPLIED, updated_at=self._clock.now())
            )

    def _record_revert(
        self, record: ProposalRecord, principal: Principal, reason: str, result: WriteResult
    ) -> ProposalRecord:
        proposal_id = record.id
        now = self._clock.now()
        with self._engine.begin() as db:
            if self._lock(db, proposal_id).status != REVERTING:  # a lapsed claim, finished
                return _record(self._lock(db, proposal_id))  # by whoever took it over
            db.execute(
                update(proposals)
                .where(proposals.c.id == proposal_id)
                .values(
                    status=REVERTED,
                    decided_by=principal.actor,
                    decided_at=now,
                    reason=reason[:1000],
                    updated_at=now,
                    result={**(record.result or {}), "reverted": _result(result)},
                )
            )
            after = _record(self._lock(db, proposal_id))
            self._audit.append_in(
                db,
                actor=principal.actor,
                action="proposal.reverted",
                store=after.store,
                inputs={"proposal_id": proposal_id, "reason": reason},
                outputs={"result": _result(result), **after.trail()},
            )
        return after

    def expire_due(self) -> int:
        """Expire pending proposals whose time is up; audited one by one."""
        now = self._clock.now()
        with read_only(self._engine) as db:
            ids = list(
                db.execute(
                    select(proposals.c.id)
                    .where(proposals.c.status == PENDING)
                    .where(proposals.c.expires_at <= now)
                ).scalars()
            )
        for pid in ids:
            with self._engine.begin() as db:
                row = self._lock(db, pid)
                if row.status != PENDING:
                    continue
                db.execute(
                    update(proposals)
                    .where(proposals.c.id == pid)
                    .values(status=EXPIRED, decided_at=now, updated_at=now, decided_by="system")
                )
                self._audit.append_in(
                    db,
                    actor="system:expiry",
                    action="proposal.expired",
                    store=row.store,
                    inputs={"proposal_id": pid, "expires_at": row.expires_at},
                )
        return len(ids)

    async def write_approved(self) -> int:
        """Retry write-backs of approved proposals (after a crash or a transient failure), oldest
        first, each claimed before the POS is asked — a deferred one once its retry is due;
        returns how many were written or tried."""
        ids = await asyncio.to_thread(self._approved_due)
        tried = 0
        for pid in ids:
            record = await asyncio.to_thread(self._claim_write, pid)
            if record is None:  # written meanwhile, or another caller is writing it
                continue
            tried += 1
            try:
                await self._write(record)
            except Exception:  # one proposal's trouble must not stop the others' retries
                log.exception("writing approved proposal %s failed; retrying later", pid)
        return tried

    def _approved_due(self) -> builtins.list[str]:
        """Approved proposals whose write is due, oldest first."""
        now = self._clock.now()
        with read_only(self._engine) as db:
            return list(
                db.execute(
                    select(proposals.c.id)
                    .where(proposals.c.status == APPROVED)
                    .where(or_(proposals.c.write_after.is_(None), proposals.c.write_after <= now))
                    .order_by(proposals.c.updated_at, proposals.c.id)
                ).scalars()
            )

    async def sweep(self) -> dict[str, int]:
        """One pass of the background duties: route, expire, retry writes (their database work
        in worker threads, see :meth:`route_new`)."""
        return {
            "routed": await self.route_new(),
            "expired": await asyncio.to_thread(self.expire_due),
            "retried": await self.write_approved(),
        }

    async def run(self, stop: asyncio.Event, *, interval: float = 30.0) -> None:
        """The background loop of :meth:`sweep`, every ``interval`` seconds until ``stop``."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("governance sweep failed; retrying at the next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    # ------------------------------------------------------------------ internals

    def _decidable(self, row: Row[Any], principal: Principal, now: datetime) -> ProposalRecord:
        if not principal.sees(row.store):
            raise UnknownProposal(f"no proposal {row.id!r}")
        record = _record(row)
        _check_stock_leaves_scope(record.proposal, principal)
        if record.status != PENDING:
            raise ApprovalError(f"the proposal is {record.status}, not pending", code="not_pending")
        if record.expires_at is not None and now >= record.expires_at:
            raise ApprovalError("the proposal has expired", code="expired")
        if principal.actor == record.proposal.proposed_by:
            raise ApprovalError(
                "whoever proposed cannot approve or reject their own proposal",
                status=403,
                code="own_proposal",
            )
        return record

    @staticmethod
    def _edited(proposal: Proposal, edits: Mapping[str, Any]) -> Proposal:
        allowed = EDITABLE.get(proposal.kind, {})
        payload = copy.deepcopy(dict(proposal.payload))
        lines_edited = False
        for key, value in edits.items():
            rule_key = _editable_key(key, allowed)
            if rule_key is None:
                raise ApprovalError(
                    f"{key!r} cannot be edited on a {proposal.kind}"
                    + (f" (editable: {', '.join(allowed)})" if allowed else ""),
                    status=422,
                    code="invalid",
                    field=f"edits.{key}",
                )
            kind, low, high = allowed[rule_key]
            zero_ok = rule_key == LINE_QUANTITY
            if (
                type(value) is not kind
                or not isinstance(value, int)
                or not low <= value <= high
                or (value == 0 and not zero_ok)
            ):
                what = "a whole number" if zero_ok else f"a non-zero {kind.__name__}"
                raise ApprovalError(
                    f"{key} must be {what} in {low}..{high}",
                    status=422,
                    code="invalid",
                    field=f"edits.{key}",
                )
            if rule_key == LINE_QUANTITY:
                sku = key[len("lines.") : -len(".quantity")]
                line = next(
                    (
                        ln
                        for ln in payload.get("lines") or []
                        if isinstance(ln, dict) and ln.get("sku") == sku
                    ),
                    None,
                )
                if line is None:
                    raise ApprovalError(
                        f"the order has no line for SKU {sku!r}",
                        status=422,
                        code="invalid",
                        field=f"edits.{key}",
                    )
                if value != line.get("quantity"):  # its reason speaks of the first quantity
                    line.setdefault("edited_from", line.get("quantity"))
                line["quantity"] = value
                lines_edited = True
            else:
                payload[key] = value
        if lines_edited:
            payload["lines"] = [ln for ln in payload["lines"] if ln.get("quantity") != 0]
            if not payload["lines"]:
                raise ApprovalError(
                    "an order keeps at least one line (reject it instead)",
                    status=422,
                    code="invalid",
                    field="edits",
                )
            return _with_totals(proposal, payload)
        value = proposal.value
        old, new = proposal.payload.get("delta"), payload.get("delta")
        if value is not None and isinstance(old, int) and isinstance(new, int) and old:
            value = Money(amount=abs(value.amount * new // old), currency=value.currency)
        return proposal.model_copy(update={"payload": payload, "value": value})

    def _target(
        self, proposal: Proposal, progress: WriteProgress | None = None
    ) -> tuple[WriteTarget, WriteBack | None]:
        connection = self._connections.get(proposal.connection_id)
        if connection is None or not connection.active:
            raise WriteBackError(f"connection {proposal.connection_id} is gone or revoked")
        app = self._app_settings(connection.platform) if self._app_settings else {}
        target = WriteTarget(
            connection_id=connection.id,
            platform=connection.platform,
            api_base_url=connection.api_base_url,
            secrets=tuple(self._connections.secrets_for(connection.id) or ()),
            context=self._connections.context(connection.id, app),
            progress=progress,
        )
        return target, self._writebacks.get(connection.platform)

    def _claim_write(self, proposal_id: str) -> ProposalRecord | None:
        """Claim an approved proposal for writing (under its row lock); None when it is no
        longer approved or another caller's claim has not lapsed."""
        now = self._clock.now()
        with self._engine.begin() as db:
            row = self._lock(db, proposal_id)
            claimed = row.write_claimed_at
            if row.status != APPROVED or (
                claimed is not None and _aware(claimed) > now - WRITE_LEASE
            ):
                return None
            db.execute(
                update(proposals).where(proposals.c.id == proposal_id).values(write_claimed_at=now)
            )
            return _record(row)

    def _release_write(self, proposal_id: str) -> None:
        with self._engine.begin() as db:
            db.execute(
                update(proposals)
                .where(proposals.c.id == proposal_id)
                .where(proposals.c.status == APPROVED)
                .values(write_claimed_at=None)
            )

    async def _write(self, record: ProposalRecord) -> ProposalRecord:
        """Write a proposal this caller has claimed; the claim ends with the outcome (or is
        released if recording it fails, for the sweep to retry under the same key)."""
        try:
            return await self._write_claimed(record)
        except BaseException:
            with contextlib.suppress(Exception):
                self._release_write(record.id)
            raise

    async def _write_claimed(self, record: ProposalRecord) -> ProposalRecord:
        proposal = record.proposal
        outcome: dict[str, Any]
        if proposal.kind in DECISION_ONLY:  # the approval is the whole effect
            status, outcome, action = APPLIED, {"recorded": True}, "proposal.applied"
        else:
            status, outcome, action = await self._apply(record)
        return await asyncio.to_thread(self._record_write, proposal, status, outcome, action)

    def _record_write(
        self, proposal: Proposal, status: str, outcome: dict[str, Any], action: str
    ) -> ProposalRecord:
        """Keep what the write did: the proposal's new status and outcome, audited."""
        now = self._clock.now()
        with self._engine.begin() as db:
            row = self._lock(db, proposal.id)
            if row.status != APPROVED:  # another process wrote it meanwhile
                return _record(row)
            retry_at = None
            if status == APPROVED:  # deferred: retried later, less often the more it fails
                attempts = _write_attempts(row.result) + 1
                retry_at = now + min(
                    WRITE_RETRY_FIRST * 2 ** min(attempts - 1, 20), WRITE_RETRY_MAX
                )
                outcome = {**outcome, "attempts": attempts, "retry_at": retry_at.isoformat()}
            db.execute(
                update(proposals)
                .where(proposals.c.id == proposal.id)
                .values(
                    status=status,
                    result=outcome,
                    updated_at=now,
                    write_claimed_at=None,
                    write_after=retry_at,
                )
            )
            after = _record(self._lock(db, proposal.id))
            self._audit.append_in(
                db,
                actor=f"connector:{proposal.connection_id}",
                action=action,
                store=after.store,
                inputs={"proposal_id": proposal.id, "payload": proposal.payload},
                outputs={"result": outcome, **after.trail()},
            )
        return after

    async def _apply(self, record: ProposalRecord) -> tuple[str, dict[str, Any], str]:
        """Write one approved proposal: its new status, the outcome and the audit action. The
        steps earlier attempts completed (``result.progress``) are handed to the write-back,
        and each step it completes now is kept with the proposal (in a worker thread) before it
        goes on."""
        proposal = record.proposal
        earlier = (record.result or {}).get("progress")
        progress = WriteProgress(
            done=dict(earlier) if isinstance(earlier, dict) else {},
            save=lambda done: asyncio.to_thread(self._save_progress, proposal.id, done),
        )
        try:
            target, writeback = self._target(proposal, progress)
            if writeback is None or proposal.kind not in writeback.kinds:
                raise NotSupported(f"this platform cannot write {proposal.kind} proposals")
            result = await writeback.apply(target, proposal, idempotency_key=proposal.id)
        except WriteBackError as exc:
            status = APPROVED if exc.retryable else FAILED
            action = "proposal.write_deferred" if exc.retryable else "proposal.write_failed"
            return (
                status,
                _with_progress({"error": exc.code, "detail": exc.detail}, progress),
                action,
            )
        except Exception as exc:  # not a refusal the POS gave: kept approved, retried
            log.exception("write-back of proposal %s raised %s", proposal.id, type(exc).__name__)
            detail = f"{type(exc).__name__}: {exc}"[:500]
            return (
                APPROVED,
                _with_progress({"error": "writeback_error", "detail": detail}, progress),
                "proposal.write_deferred",
            )
        return APPLIED, _result(result), "proposal.applied"

    def _save_progress(self, proposal_id: str, done: dict[str, Any]) -> None:
        """Keep the steps of a write done so far with the (still approved) proposal."""
        with self._engine.begin() as db:
            row = self._lock(db, proposal_id)
            if row.status != APPROVED:
                return
            result = dict(row.result) if isinstance(row.result, dict) else {}
            db.execute(
                update(proposals)
                .where(proposals.c.id == proposal_id)
                .values(result={**result, "progress": done})
            )

    @staticmethod
    def _lock(db: Connection, proposal_id: str) -> Row[Any]:
        row = db.execute(
            select(proposals).where(proposals.c.id == proposal_id).with_for_update()
        ).first()
        if row is None:
            raise UnknownProposal(f"no proposal {proposal_id!r}")
        return row

    @staticmethod
    def _store_of(proposal: Proposal) -> str | None:
        if not proposal.location_external_id:
            return None
        return store_key(proposal.connection_id, proposal.location_external_id)


def _with_progress(outcome: dict[str, Any], progress: WriteProgress) -> dict[str, Any]:
    """A failed write's outcome, with the steps it completed (the retry goes on from there)."""
    return {**outcome, "progress": dict(progress.done)} if progress.done else outcome


def _write_attempts(result: Any) -> int:
    """How many writes of an approved proposal were deferred so far (from its last result)."""
    attempts = result.get("attempts") if isinstance(result, dict) else None
    return attempts if isinstance(attempts, int) else 0


def _check_revertible(row: Row[Any], now: datetime) -> None:
    """Refuse to revert what is not applied (a claim by another revert that has not lapsed
    included)."""
    lapsed = row.status == REVERTING and _aware(row.updated_at) <= now - REVERT_LEASE
    if row.status != APPLIED and not lapsed:
        raise ApprovalError(f"only an applied proposal can be reverted; this one is {row.status}")


def _check_stock_leaves_scope(proposal: Proposal, principal: Principal) -> None:
    """A transfer is the receiving store's proposal, but it moves stock out of the giving
    store: deciding or reverting it needs that store in scope too."""
    if proposal.kind != ProposalKind.TRANSFER:
        return
    source = proposal.payload.get("from_location")
    giving = store_key(proposal.connection_id, source) if isinstance(source, str) else None
    if not principal.sees(giving):
        raise ApprovalError(
            "this transfer moves stock out of a store outside your scope",
            status=403,
            code="forbidden",
        )


def _editable_key(key: str, allowed: Mapping[str, Any]) -> str | None:
    """The EDITABLE entry ``key`` falls under (exact, or ``lines.<sku>.quantity``)."""
    if key in allowed:
        return key
    if (
        LINE_QUANTITY in allowed
        and key.startswith("lines.")
        and key.endswith(".quantity")
        and len(key) > len("lines..quantity")
    ):
        return LINE_QUANTITY
    return None


def merged_payload(draft: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """A draft's payload with a merge request's folded in: the request's other fields win, and
    its lines replace the draft's lines of the same SKU; the draft's other lines stay (in
    order), the request's new SKUs follow."""
    out = {**copy.deepcopy(dict(draft)), **copy.deepcopy(dict(request))}
    old, new = draft.get("lines"), request.get("lines")
    if isinstance(old, list) and isinstance(new, list):
        by_sku = {ln.get("sku"): ln for ln in new if isinstance(ln, dict)}
        lines = [copy.deepcopy(by_sku.pop(ln.get("sku"), ln)) for ln in old]
        lines += [copy.deepcopy(ln) for ln in new if ln.get("sku") in by_sku]
        out["lines"] = lines
    return out


def _with_totals(proposal: Proposal, payload: dict[str, Any]) -> Proposal:
    """An order whose line quantities were edited, with its line totals, value and summary
    saying what it now orders (the planner's text keeps the quantities it proposed)."""
    currency = payload.get("currency")
    for line in payload["lines"]:
        if "line_total" in line and isinstance(currency, str):
            total = _line_total(line, currency)
            line["line_total"] = None if total is None else str(total.to_decimal())
    value = order_value(payload)
    if "value" in payload:
        payload["value"] = None if value is None else str(value.to_decimal())
    units = sum(int(ln.get("quantity") or 0) for ln in payload["lines"])
    base = proposal.summary.split(" — as edited:")[0]
    worth = f", worth {value.display()}" if value is not None else ""
    n = len(payload["lines"])
    summary = f"{base} — as edited: {units:,} units in {n} line{'s' if n != 1 else ''}{worth}"
    warnings = _edit_warnings(payload, value)
    payload["edit_warnings"] = warnings
    if warnings:
        summary += f" ({'; '.join(warnings)})"
    if isinstance(payload.get("explanation"), str):  # the order as a whole, as it now stands
        proposed = payload.setdefault("proposed_explanation", payload["explanation"])
        edited = summary.split(" — as edited: ", 1)[-1]
        payload["explanation"] = f"As edited: {edited}. As the plan proposed it: {proposed}"
    return proposal.model_copy(update={"payload": payload, "value": value, "summary": summary})


def _edit_warnings(payload: Mapping[str, Any], value: Money | None) -> list[str]:
    """What an edited order no longer meets of the terms its plan kept to: the vendor's
    minimum order value, an item's case pack or minimum order quantity. A person may order so
    on purpose; the approver is told (the planner's text speaks of the order as proposed)."""
    out = []
    minimum = (payload.get("vendor_minimum") or {}).get("min_order_value")
    currency = payload.get("currency")
    if minimum not in (None, "") and value is not None and isinstance(currency, str):
        with contextlib.suppress(InvalidOperation, ValueError):
            least = Money.from_decimal(Decimal(str(minimum)), currency)
            if value.amount < least.amount:
                out.append(f"below the vendor's minimum order of {least.display()}")
    for line in payload.get("lines") or []:
        policy = (line.get("justification") or {}).get("policy") or {}
        quantity, pack, moq = line.get("quantity"), policy.get("case_pack"), policy.get("moq")
        if not isinstance(quantity, int) or quantity <= 0:
            continue
        if isinstance(pack, int) and pack > 1 and quantity % pack:
            out.append(f"{line.get('sku')} is not in whole cases of {pack}")
        if isinstance(moq, int) and quantity < moq:
            out.append(f"{line.get('sku')} is below its minimum order quantity of {moq}")
    return out


def order_value(payload: Mapping[str, Any]) -> Money | None:
    """Σ quantity × unit cost of a purchase-order payload (None: a line has no cost, or the
    payload is not an order)."""
    currency, lines = payload.get("currency"), payload.get("lines")
    if not isinstance(currency, str) or not isinstance(lines, list) or not lines:
        return None
    total = Money.zero(currency)
    for line in lines:
        amount = _line_total(line, currency)
        if amount is None:
            return None
        total = total + amount
    return total


def _line_total(line: Mapping[str, Any], currency: str) -> Money | None:
    """Quantity × unit cost of one order line (None: no cost, or not whole units)."""
    cost, quantity = line.get("unit_cost"), line.get("quantity")
    if cost in (None, "") or not isinstance(quantity, int) or isinstance(quantity, bool):
        return None
    try:
        return Money.from_decimal(Decimal(str(cost)), currency).times(quantity)
    except (InvalidOperation, ValueError, ArithmeticError):
        return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _result(result: WriteResult) -> dict[str, Any]:
    return {"reference": result.reference, "details": result.details}
