"""What AI may do where: per store × workflow modes, approval rules, and canary rollouts.

**Modes** — ``off`` (the workflow's proposals are discarded), ``shadow`` (kept and logged,
nothing written: people compare what it would have done), ``draft`` (each proposal waits in the
approval queue), ``auto`` (written at once when within the store's ``auto_limit`` and needing no
senior or second approval; otherwise it waits like a draft). A workflow's mode for a store is
the store's own setting, else the workflow's default (store ``*``), else ``shadow``.

**Approval rules** per proposal kind and store (``*`` for any): above ``regional_above`` a
regional manager (or admin) must approve; above ``two_approvers_above`` two different people
must; a proposal to a new vendor needs a regional manager when ``new_vendor_needs_regional``;
a pending proposal expires after ``expire_after_hours``. The most specific rule wins
(kind+store, kind, store, default).

**Rollouts** move a workflow to a target mode through stores step by step (an explicit canary
list, or percentages of the stores in a stable pseudo-random order). Each store keeps the
``auto_limit`` it had unless the rollout sets one. A **guardrail** moves every store the
rollout touched back to the fallback mode (``draft``) when people override too much of what the
workflow proposed there: the share of its human-decided proposals that were rejected, edited or
reverted within the window, once there are at least ``min_decisions``. A roll-back (the
guardrail's or a person's) gives each store back the ``auto_limit`` it had before the rollout.

Every change of mode, rule or rollout is audited (``mode.changed``, ``rule.changed``,
``rollout.*``), including the guardrail's own, whose actor is ``guardrail:<rollout id>``.
"""

from __future__ import annotations

import builtins
import hashlib
import math
import secrets as _random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.engine import Row

from tillwise.domain.money import MAX_AMOUNT, Money
from tillwise.governance.audit import AuditLog
from tillwise.ports.clock import Clock
from tillwise.store.engine import read_only
from tillwise.store.tables_governance import approval_rules, proposals, rollouts, workflow_modes

OFF, SHADOW, DRAFT, AUTO = "off", "shadow", "draft", "auto"
MODES: tuple[str, ...] = (OFF, SHADOW, DRAFT, AUTO)
DEFAULT_MODE = SHADOW
ANY = "*"
ACTIVE, COMPLETED, ROLLED_BACK, CANCELLED = "active", "completed", "rolled_back", "cancelled"


class InvalidSetting(ValueError):
    code = "invalid_setting"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class UnknownRollout(LookupError):
    code = "unknown_rollout"


def parse_amount(value: str | Decimal | int | None, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidSetting(f"{value!r} is not a decimal amount", field=field) from None
    if not amount.is_finite() or amount < 0:
        raise InvalidSetting(f"{value!r} must be a non-negative amount", field=field)
    if amount > MAX_AMOUNT:
        raise InvalidSetting(f"{value!r} is above {MAX_AMOUNT:,}", field=field)
    return amount


def exceeds(value: Money | None, threshold: Decimal | None) -> bool:
    """Whether ``value`` is above ``threshold`` (a decimal in the value's own currency). An
    unknown value (``None``) is above any threshold; without a threshold nothing is."""
    if threshold is None:
        return False
    return value is None or value.to_decimal() > threshold


@dataclass(frozen=True)
class ModeSetting:
    workflow: str
    store: str  # a store key, or "*" for the workflow's default
    mode: str
    auto_limit: Decimal | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class ApprovalRule:
    kind: str = ANY
    store: str = ANY
    regional_above: Decimal | None = None
    two_approvers_above: Decimal | None = None
    new_vendor_needs_regional: bool = True
    expire_after_hours: int = 72


DEFAULT_RULE = ApprovalRule()


@dataclass(frozen=True)
class Guardrail:
    max_override_share: float = 0.3
    window_hours: int = 168
    min_decisions: int = 5

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_override_share": self.max_override_share,
            "window_hours": self.window_hours,
            "min_decisions": self.min_decisions,
        }


@dataclass(frozen=True)
class Rollout:
    id: str
    workflow: str
    target_mode: str
    fallback_mode: str
    stores: tuple[str, ...]  # canary order
    steps: tuple[int, ...]  # cumulative number of stores after each step
    stage: int
    status: str
    guardrail: Guardrail | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    reason: str | None
    auto_limit: Decimal | None = None  # set on every store it moves; None: each keeps its own
    previous_limits: Mapping[str, Decimal | None] = field(default_factory=dict)  # before it

    @property
    def enrolled(self) -> tuple[str, ...]:
        """The stores moved so far."""
        return self.stores[: self.steps[self.stage - 1]] if self.stage else ()


def _check_mode(mode: str, field: str = "mode") -> str:
    if mode not in MODES:
        raise InvalidSetting(f"mode must be one of {', '.join(MODES)}", field=field)
    return mode


def _mode(row: Row[Any]) -> ModeSetting:
    m = row._mapping
    return ModeSetting(
        workflow=m["workflow"],
        store=m["store"],
        mode=m["mode"],
        auto_limit=_decimal(m["auto_limit"]),
        updated_at=m["updated_at"],
        updated_by=m["updated_by"],
    )


def _rule(row: Row[Any]) -> ApprovalRule:
    m = row._mapping
    return ApprovalRule(
        kind=m["kind"],
        store=m["store"],
        regional_above=_decimal(m["regional_above"]),
        two_approvers_above=_decimal(m["two_approvers_above"]),
        new_vendor_needs_regional=bool(m["new_vendor_needs_regional"]),
        expire_after_hours=int(m["expire_after_hours"]),
    )


def _rollout(row: Row[Any]) -> Rollout:
    m = row._mapping
    g = m["guardrail"]
    return Rollout(
        id=m["id"],
        workflow=m["workflow"],
        target_mode=m["target_mode"],
        fallback_mode=m["fallback_mode"],
        stores=tuple(m["stores"]),
        steps=tuple(int(x) for x in m["steps"]),
        stage=int(m["stage"]),
        status=m["status"],
        guardrail=None if g is None else Guardrail(**g),
        created_by=m["created_by"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        reason=m["reason"],
        auto_limit=_decimal(m["auto_limit"]),
        previous_limits={s: _decimal(v) for s, v in (m["previous_limits"] or {}).items()},
    )


def canary_order(stores: Sequence[str], seed: str) -> list[str]:
    """A stable pseudo-random order of ``stores`` (the same seed gives the same order)."""
    return sorted(set(stores), key=lambda s: hashlib.sha256(f"{seed}\x1f{s}".encode()).digest())


def percentage_steps(percentages: Sequence[int], n: int) -> list[int]:
    out: list[int] = []
    for p in percentages:
        if not 0 < p <= 100:
            raise InvalidSetting("percentages must be in 1..100", field="percentages")
        k = max(1, math.ceil(n * p / 100))
        if out and k <= out[-1]:
            continue
        out.append(k)
    if not out or out[-1] != n:
        out.append(n)
    return out


class Modes:
    """Modes, approval rules and rollouts on ``engine`` (the durable governance engine)."""

    def __init__(self, engine: Engine, audit: AuditLog, clock: Clock) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock

    # ------------------------------------------------------------------ modes

    def mode_for(self, workflow: str, store: str | None) -> ModeSetting:
        with read_only(self._engine) as db:
            return self._mode_for(db, workflow, store)

    def _mode_for(self, db: Connection, workflow: str, store: str | None) -> ModeSetting:
        rows = {
            r.store: r
            for r in db.execute(
                select(workflow_modes)
                .where(workflow_modes.c.workflow == workflow)
                .where(workflow_modes.c.store.in_([store or ANY, ANY]))
            )
        }
        row = rows.get(store or ANY) or rows.get(ANY)
        if row is None:
            return ModeSetting(workflow=workflow, store=ANY, mode=DEFAULT_MODE)
        return _mode(row)

    def modes(self, workflow: str | None = None) -> builtins.list[ModeSetting]:
        query = select(workflow_modes).order_by(workflow_modes.c.workflow, workflow_modes.c.store)
        if workflow is not None:
            query = query.where(workflow_modes.c.workflow == workflow)
        with read_only(self._engine) as db:
            return [_mode(r) for r in db.execute(query)]

    def set_mode(
        self,
        workflow: str,
        store: str,
        mode: str,
        *,
        actor: str,
        auto_limit: str | Decimal | None = None,
        reason: str | None = None,
    ) -> ModeSetting:
        """Set a workflow's mode for one store (or ``*``: its default). Audited as
        ``mode.changed`` with the mode before and after."""
        with self._engine.begin() as db:
            return self._set_mode(
                db, workflow, store, mode, actor=actor, auto_limit=auto_limit, reason=reason
            )

    def _set_mode(
        self,
        db: Connection,
        workflow: str,
        store: str,
        mode: str,
        *,
        actor: str,
        auto_limit: str | Decimal | None = None,
        reason: str | None = None,
    ) -> ModeSetting:
        _check_mode(mode)
        limit = parse_amount(auto_limit, "auto_limit")
        if not workflow or len(workflow) > 64:
            raise InvalidSetting("workflow: 1–64 characters", field="workflow")
        before = self._mode_for(db, workflow, store)
        now = self._clock.now()
        db.execute(
            delete(workflow_modes)
            .where(workflow_modes.c.workflow == workflow)
            .where(workflow_modes.c.store == store)
        )
        db.execute(
            insert(workflow_modes).values(
                workflow=workflow,
                store=store,
                mode=mode,
                auto_limit=None if limit is None else str(limit),
                updated_at=now,
                updated_by=actor,
            )
        )
        self._audit.append_in(
            db,
            actor=actor,
            action="mode.changed",
            store=None if store == ANY else store,
            inputs={
                "workflow": workflow,
                "store": store,
                "reason": reason,
                "before": {"mode": before.mode, "auto_limit": _str(before.auto_limit)},
            },
            outputs={"mode": mode, "auto_limit": _str(limit)},
        )
        return ModeSetting(workflow, store, mode, limit, now, actor)

    # ------------------------------------------------------------------ rules

    def rule_for(self, kind: str, store: str | None) -> ApprovalRule:
        with read_only(self._engine) as db:
            rows = {
                (r.kind, r.store): r
                for r in db.execute(
                    select(approval_rules)
                    .where(approval_rules.c.kind.in_([kind, ANY]))
                    .where(approval_rules.c.store.in_([store or ANY, ANY]))
                )
            }
        for key in ((kind, store), (kind, ANY), (ANY, store), (ANY, ANY)):
            if key in rows:
                return _rule(rows[key])
        return DEFAULT_RULE

    def rules(self) -> builtins.list[ApprovalRule]:
        with read_only(self._engine) as db:
            return [
                _rule(r)
                for r in db.execute(
                    select(approval_rules).order_by(approval_rules.c.kind, approval_rules.c.store)
                )
            ]

    def set_rule(
        self,
        *,
        actor: str,
        kind: str = ANY,
        store: str = ANY,
        regional_above: str | Decimal | None = None,
        two_approvers_above: str | Decimal | None = None,
        new_vendor_needs_regional: bool = True,
        expire_after_hours: int = 72,
    ) -> ApprovalRule:
        rule = ApprovalRule(
            kind=kind,
            store=store,
            regional_above=parse_amount(regional_above, "regional_above"),
            two_approvers_above=parse_amount(two_approvers_above, "two_approvers_above"),
            new_vendor_needs_regional=new_vendor_needs_regional,
            expire_after_hours=expire_after_hours,
        )
        if not 1 <= expire_after_hours <= 24 * 90:
            raise InvalidSetting("expire_after_hours: 1 to 2160", field="expire_after_hours")
        if not kind or len(kind) > 64:
            raise InvalidSetting("kind: 1–64 characters", field="kind")
        now = self._clock.now()
        with self._engine.begin() as db:
            before = db.execute(
                select(approval_rules)
                .where(approval_rules.c.kind == kind)
                .where(approval_rules.c.store == store)
            ).first()
            db.execute(
                delete(approval_rules)
                .where(approval_rules.c.kind == kind)
                .where(approval_rules.c.store == store)
            )
            db.execute(
                insert(approval_rules).values(
                    kind=kind,
                    store=store,
                    regional_above=_str(rule.regional_above),
                    two_approvers_above=_str(rule.two_approvers_above),
                    new_vendor_needs_regional=int(new_vendor_needs_regional),
                    expire_after_hours=expire_after_hours,
                    updated_at=now,
                    updated_by=actor,
                )
            )
            self._audit.append_in(
                db,
                actor=actor,
                action="rule.changed",
                store=None if store == ANY else store,
                inputs={"kind": kind, "store": store, "before": _rule_dict(before)},
                outputs=_rule_dict(rule),
            )
        return rule

    # ------------------------------------------------------------------ rollouts

    def start_rollout(
        self,
        workflow: str,
        *,
        actor: str,
        stores: Sequence[str],
        target_mode: str = AUTO,
        fallback_mode: str = DRAFT,
        percentages: Sequence[int] | None = None,
        canary: bool = False,
        guardrail: Guardrail | None = None,
        auto_limit: str | Decimal | None = None,
    ) -> Rollout:
        """Start moving ``workflow`` to ``target_mode``: with ``canary`` the stores in the
        order given, one per step; with ``percentages`` (e.g. 10, 50, 100) those shares of
        ``stores`` in a stable pseudo-random order. The first step is taken at once. Each store
        keeps its own ``auto_limit`` unless ``auto_limit`` (a rollout to auto only) is given."""
        _check_mode(target_mode, "target_mode")
        _check_mode(fallback_mode, "fallback_mode")
        limit = parse_amount(auto_limit, "auto_limit")
        if limit is not None and target_mode != AUTO:
            raise InvalidSetting("auto_limit is for a rollout to auto", field="auto_limit")
        clean = list(dict.fromkeys(stores))
        if not clean:
            raise InvalidSetting("a rollout needs at least one store", field="stores")
        rollout_id = f"rol_{_random.token_hex(6)}"
        if percentages:
            order = canary_order(clean, rollout_id)
            steps = percentage_steps(percentages, len(order))
        elif canary:
            order, steps = clean, list(range(1, len(clean) + 1))
        else:
            order, steps = clean, [len(clean)]
        now = self._clock.now()
        with self._engine.begin() as db:
            active = db.execute(
                select(rollouts.c.id)
                .where(rollouts.c.workflow == workflow)
                .where(rollouts.c.status == ACTIVE)
            ).first()
            if active is not None:
                raise InvalidSetting(
                    f"workflow {workflow!r} already has active rollout {active.id}",
                    field="workflow",
                )
            db.execute(
                insert(rollouts).values(
                    id=rollout_id,
                    workflow=workflow,
                    target_mode=target_mode,
                    fallback_mode=fallback_mode,
                    stores=order,
                    steps=steps,
                    stage=0,
                    status=ACTIVE,
                    guardrail=None if guardrail is None else guardrail.as_dict(),
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                    reason=None,
                    auto_limit=_str(limit),
                    previous_limits={},
                )
            )
            self._audit.append_in(
                db,
                actor=actor,
                action="rollout.started",
                inputs={
                    "workflow": workflow,
                    "target_mode": target_mode,
                    "fallback_mode": fallback_mode,
                    "auto_limit": _str(limit),
                    "guardrail": None if guardrail is None else guardrail.as_dict(),
                },
                outputs={"id": rollout_id, "stores": order, "steps": steps},
            )
            return self._advance(db, rollout_id, actor=actor)

    def advance(self, rollout_id: str, *, actor: str) -> Rollout:
        """Take the next step: move the next stores to the target mode."""
        with self._engine.begin() as db:
            return self._advance(db, rollout_id, actor=actor)

    def _advance(self, db: Connection, rollout_id: str, *, actor: str) -> Rollout:
        r = self._get(db, rollout_id, lock=True)
        if r.status != ACTIVE:
            raise InvalidSetting(f"rollout {rollout_id} is {r.status}", field="status")
        before = set(r.enrolled)
        stage = r.stage + 1
        upto = r.steps[stage - 1]
        moved = [s for s in r.stores[:upto] if s not in before]
        previous = dict(r.previous_limits)
        for store in moved:
            own = self._mode_for(db, r.workflow, store).auto_limit
            previous[store] = own
            self._set_mode(
                db,
                r.workflow,
                store,
                r.target_mode,
                actor=actor,
                auto_limit=own if r.auto_limit is None else r.auto_limit,
                reason=f"rollout {r.id} step {stage}/{len(r.steps)}",
            )
        status = COMPLETED if stage == len(r.steps) else ACTIVE
        db.execute(
            update(rollouts)
            .where(rollouts.c.id == rollout_id)
            .values(
                stage=stage,
                status=status,
                updated_at=self._clock.now(),
                previous_limits={s: _str(v) for s, v in previous.items()},
            )
        )
        self._audit.append_in(
            db,
            actor=actor,
            action="rollout.advanced",
            inputs={"id": rollout_id, "stage": stage, "of": len(r.steps)},
            outputs={"moved": moved, "status": status},
        )
        return self._get(db, rollout_id)

    def roll_back(self, rollout_id: str, *, actor: str, reason: str) -> Rollout:
        """Move every store the rollout touched back to its fallback mode, with the
        ``auto_limit`` the store had before the rollout."""
        if not reason or not reason.strip():
            raise InvalidSetting("say why the rollout is rolled back", field="reason")
        with self._engine.begin() as db:
            return self._roll_back(db, rollout_id, actor=actor, reason=reason.strip())

    def _roll_back(self, db: Connection, rollout_id: str, *, actor: str, reason: str) -> Rollout:
        r = self._get(db, rollout_id, lock=True)
        if r.status == ROLLED_BACK:
            return r
        limits: dict[str, Decimal | None] = {}
        for store in r.enrolled:
            if store in r.previous_limits:
                limits[store] = r.previous_limits[store]
            else:  # enrolled before rollouts recorded the limits: keep the store's own
                limits[store] = self._mode_for(db, r.workflow, store).auto_limit
            self._set_mode(
                db,
                r.workflow,
                store,
                r.fallback_mode,
                actor=actor,
                auto_limit=limits[store],
                reason=f"rollout {r.id} rolled back: {reason}",
            )
        db.execute(
            update(rollouts)
            .where(rollouts.c.id == rollout_id)
            .values(status=ROLLED_BACK, reason=reason[:1000], updated_at=self._clock.now())
        )
        self._audit.append_in(
            db,
            actor=actor,
            action="rollout.rolled_back",
            inputs={"id": rollout_id, "reason": reason},
            outputs={
                "stores": list(r.enrolled),
                "mode": r.fallback_mode,
                "auto_limits": {s: _str(v) for s, v in limits.items()},
            },
        )
        return self._get(db, rollout_id)

    def rollouts(self, workflow: str | None = None) -> builtins.list[Rollout]:
        query = select(rollouts).order_by(rollouts.c.created_at.desc(), rollouts.c.id)
        if workflow is not None:
            query = query.where(rollouts.c.workflow == workflow)
        with read_only(self._engine) as db:
            return [_rollout(r) for r in db.execute(query)]

    def get_rollout(self, rollout_id: str) -> Rollout:
        with read_only(self._engine) as db:
            return self._get(db, rollout_id)

    def _get(self, db: Connection, rollout_id: str, *, lock: bool = False) -> Rollout:
        query = select(rollouts).where(rollouts.c.id == rollout_id)
        row = db.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise UnknownRollout(f"no rollout {rollout_id!r}")
        return _rollout(row)

    def check_guardrails(self, workflow: str) -> builtins.list[Rollout]:
        """Roll back the workflow's rollouts whose guardrail is breached; returns those."""
        now = self._clock.now()
        tripped = []
        for r in self.rollouts(workflow):
            if r.status not in (ACTIVE, COMPLETED) or r.guardrail is None or not r.enrolled:
                continue
            share, decided = self.override_share(
                workflow, r.enrolled, since=now - timedelta(hours=r.guardrail.window_hours)
            )
            if decided >= r.guardrail.min_decisions and share > r.guardrail.max_override_share:
                reason = (
                    f"people overrode {share:.0%} of {decided} decisions in the last "
                    f"{r.guardrail.window_hours} h (limit {r.guardrail.max_override_share:.0%})"
                )
                with self._engine.begin() as db:
                    tripped.append(
                        self._roll_back(db, r.id, actor=f"guardrail:{r.id}", reason=reason)
                    )
        return tripped

    def override_share(
        self, workflow: str, stores: Sequence[str], *, since: datetime
    ) -> tuple[float, int]:
        """Of the workflow's proposals in ``stores`` that people decided since ``since``, the
        share they rejected, edited or reverted, and how many they decided."""
        p = proposals.c
        decided_by_person = p.decided_by.like("user:%") | p.decided_by.like("token:%")
        with read_only(self._engine) as db:
            rows = db.execute(
                select(p.status, p.approvals)
                .where(p.workflow == workflow)
                .where(p.store.in_(list(stores)))
                .where(p.decided_at >= since)
                .where(decided_by_person)
            ).all()
        decided = overridden = 0
        for status, approvals in rows:
            decided += 1
            edited = any(a.get("edited") for a in approvals or ())
            if status in ("rejected", "reverted") or edited:
                overridden += 1
        return (overridden / decided if decided else 0.0), decided


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _rule_dict(rule: ApprovalRule | Row[Any] | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    if not isinstance(rule, ApprovalRule):
        rule = _rule(rule)
    return {
        "regional_above": _str(rule.regional_above),
        "two_approvers_above": _str(rule.two_approvers_above),
        "new_vendor_needs_regional": rule.new_vendor_needs_regional,
        "expire_after_hours": rule.expire_after_hours,
    }
