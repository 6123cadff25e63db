"""The approval queue, on SQLite and PostgreSQL: modes route proposals, rules decide who must
approve, decisions are written back exactly once and audited, guardrails roll back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tests.helpers import FakeClock, make_settings, run
from tillwise.bootstrap import Container, build_container
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal, proposal_id
from tillwise.governance.approvals import ApprovalError, Approvals, UnknownProposal
from tillwise.governance.principal import Principal, permissions_of
from tillwise.governance.rollout import Guardrail, InvalidSetting
from tillwise.ports.writeback import WriteBackError, WriteResult, WriteTarget
from tillwise.store.tables_governance import proposals

T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
WF = "stock_counts"


@dataclass
class RecordingWriteBack:
    """Stands in for a POS: records what it was asked to write, keyed by idempotency key."""

    kinds: frozenset[str] = frozenset({"stock_adjustment"})
    reversible: frozenset[str] = frozenset({"stock_adjustment"})
    writes: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: list[Exception] = field(default_factory=list)
    applies: list[str] = field(default_factory=list)  # every write asked for, repeats included
    reverts: list[str] = field(default_factory=list)  # every undo asked for, repeats included
    fail_revert: list[WriteBackError] = field(default_factory=list)
    step: str | None = None  # a step of the write recorded as done before it fails or ends
    progress_seen: list[dict[str, Any]] = field(default_factory=list)  # what each try was given
    before_step: Callable[[], Awaitable[None]] | None = None  # runs as the step completes

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        self.applies.append(idempotency_key)
        if target.progress is not None:
            self.progress_seen.append(dict(target.progress.done))
            if self.step is not None and self.step not in target.progress.done:
                if self.before_step is not None:
                    await self.before_step()
                await target.progress.record(self.step, {"reference": f"{self.step}-1"})
        await asyncio.sleep(0)  # a real POS answers over the network: others run meanwhile
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.writes.setdefault(idempotency_key, dict(proposal.payload))
        return WriteResult(
            reference=f"adj-{len(self.writes)}", details={"target": target.api_base_url}
        )

    async def revert(
        self, target: WriteTarget, proposal: Proposal, applied: WriteResult, *, idempotency_key: str
    ) -> WriteResult:
        self.reverts.append(idempotency_key)
        await asyncio.sleep(0)  # a real POS answers over the network: others run meanwhile
        if self.fail_revert:
            raise self.fail_revert.pop(0)
        undo = dict(proposal.payload, delta=-proposal.payload["delta"])
        self.writes.setdefault(idempotency_key, undo)
        return WriteResult(reference=f"undo-{applied.reference}")


@dataclass
class World:
    container: Container
    clock: FakeClock
    approvals: Approvals
    pos: RecordingWriteBack
    connection_id: str

    def store(self, location: str) -> str:
        return f"{self.connection_id}:{location}"

    def propose(
        self,
        key: str,
        *,
        delta: int = -3,
        value: str | None = "12.00",
        loc: str = "a",
        route: bool = True,
    ) -> str:
        p = Proposal(
            id=proposal_id(WF, "stock_adjustment", key),
            kind="stock_adjustment",
            workflow=WF,
            workflow_version="1.0",
            proposed_by="workflow:stock_counts@1.0",
            connection_id=self.connection_id,
            location_external_id=loc,
            created_at=self.clock.now(),
            summary=f"adjust {delta}",
            payload={"sku": "SKU-1", "location_external_id": loc, "delta": delta},
            value=None if value is None else Money.from_decimal(value, "GBP"),
        )
        with self.container.uow() as uow:
            assert uow.proposals.add(p)
        if route:
            run(self.approvals.route_new())
        return p.id

    def person(self, role: str, name: str, *stores: str) -> Principal:
        scope = None if role in ("admin", "viewer") else frozenset(self.store(s) for s in stores)
        return Principal(
            kind="user",
            id=name,
            role=role,
            name=name,
            permissions=permissions_of(role, None),
            stores=scope,
        )

    def status(self, pid: str) -> str:
        return self.approvals.get(pid).status


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    clock = FakeClock(T0)
    container = build_container(make_settings(database_url, tmp_path), clock=clock)
    conn = container.connections.create(
        "generic", "Shop", ["whsec_approvals_test_1"], actor="test", api_base_url="http://pos"
    )
    pos = RecordingWriteBack()
    approvals = Approvals(
        container.engine,
        container.audit,
        clock,
        container.modes,
        container.connections,
        {"generic": pos},
    )
    yield World(container, clock, approvals, pos, conn.id)
    run(container.close())


def actions(world: World, pid: str) -> list[str]:
    entries = world.container.audit.list(limit=1000)
    return [e.action for e in entries if pid in str(e.inputs) or pid in str(e.outputs)]


def test_modes_route_proposals(world: World) -> None:
    modes = world.container.modes
    assert world.status(world.propose("default")) == "shadow"  # the default: compare only
    modes.set_mode(WF, world.store("a"), "off", actor="user:boss")
    assert world.status(world.propose("off")) == "discarded"
    modes.set_mode(WF, world.store("a"), "draft", actor="user:boss")
    assert world.status(world.propose("draft")) == "pending"
    modes.set_mode(WF, world.store("a"), "auto", actor="user:boss", auto_limit="20")
    auto = world.propose("auto", value="12.00")
    assert world.status(auto) == "applied"
    big = world.propose("auto-big", value="25.00")
    assert world.status(big) == "pending"
    assert list(world.pos.writes) == [auto]  # shadow, off, draft, over-limit: nothing written
    assert world.approvals.get(auto).result["reference"] == "adj-1"
    assert actions(world, auto) == ["proposal.auto_approved", "proposal.applied"]
    changes = world.container.audit.list(action="mode.changed")
    assert [(c.inputs["before"]["mode"], c.outputs["mode"]) for c in changes] == [
        ("shadow", "off"),
        ("off", "draft"),
        ("draft", "auto"),
    ]


def test_a_store_manager_approves_and_it_is_written_once_and_audited(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    manager = world.person("store_manager", "mia", "a")
    record = run(world.approvals.approve(pid, manager, comment="counted twice"))
    assert record.status == "applied"
    assert world.pos.writes == {pid: {"sku": "SKU-1", "location_external_id": "a", "delta": -3}}
    run(world.approvals.write_approved())  # the sweep finds nothing more to write
    assert len(world.pos.writes) == 1
    with pytest.raises(ApprovalError, match="not pending"):
        run(world.approvals.approve(pid, world.person("admin", "root")))
    [approved] = world.container.audit.list(action="proposal.approved")
    assert approved.actor == "user:mia" and approved.store == world.store("a")
    assert approved.outputs["approvals"][0]["comment"] == "counted twice"
    assert world.container.audit.verify().ok


def test_who_may_not_approve(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    with pytest.raises(ApprovalError) as refused:
        run(world.approvals.approve(pid, world.person("associate", "al", "a")))
    assert refused.value.status == 403
    with pytest.raises(UnknownProposal):  # another store's manager does not even see it
        run(world.approvals.approve(pid, world.person("store_manager", "bo", "b")))
    with pytest.raises(ApprovalError) as wrong_kind:
        run(world.approvals.approve(pid, world.person("viewer", "vi")))
    assert wrong_kind.value.status == 403
    assert world.status(pid) == "pending" and not world.pos.writes


def test_whoever_proposed_cannot_approve_their_own(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "auto", actor="user:boss")  # manual: always draft
    manager = world.person("store_manager", "mia", "a")
    p = Proposal(
        id="11111111-1111-1111-1111-111111111111",
        kind="stock_adjustment",
        workflow="manual",
        connection_id=world.connection_id,
        location_external_id="a",
        created_at=world.clock.now(),
        summary="found 2 more in the back",
        payload={"sku": "SKU-1", "location_external_id": "a", "delta": 2},
    )
    record = world.approvals.submit(p, manager)
    assert record.status == "pending" and record.proposal.proposed_by == "user:mia"
    with pytest.raises(ApprovalError) as own:
        run(world.approvals.approve(p.id, manager))
    assert own.value.code == "own_proposal"
    run(world.approvals.approve(p.id, world.person("buyer", "ben", "a")))
    assert world.status(p.id) == "applied"


def test_thresholds_need_a_regional_manager_and_two_approvers(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    world.container.modes.set_rule(
        actor="user:boss", kind="stock_adjustment", regional_above="50", two_approvers_above="100"
    )
    mid = world.propose("mid", value="60.00")
    with pytest.raises(ApprovalError) as senior:
        run(world.approvals.approve(mid, world.person("store_manager", "mia", "a")))
    assert senior.value.code == "needs_regional_manager"
    run(world.approvals.approve(mid, world.person("regional_manager", "rex", "a", "b")))
    assert world.status(mid) == "applied"

    high = world.propose("high", value="150.00")
    rex = world.person("regional_manager", "rex", "a")
    first = run(world.approvals.approve(high, rex))
    assert first.status == "pending" and len(first.approvals) == 1
    with pytest.raises(ApprovalError, match="already approved"):
        run(world.approvals.approve(high, rex))
    assert high not in world.pos.writes
    second = run(world.approvals.approve(high, world.person("admin", "ada")))
    assert second.status == "applied" and [a["by"] for a in second.approvals] == [
        "user:rex",
        "user:ada",
    ]


def test_edit_then_approve_writes_the_edited_payload(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1", delta=-4, value="16.00")
    manager = world.person("store_manager", "mia", "a")
    with pytest.raises(ApprovalError) as bad:
        run(world.approvals.approve(pid, manager, edits={"sku": "OTHER"}))
    assert bad.value.field == "edits.sku"
    record = run(world.approvals.approve(pid, manager, edits={"delta": -1}))
    assert record.status == "applied"
    assert world.pos.writes[pid]["delta"] == -1
    assert record.proposal.value == Money.from_decimal("4.00", "GBP")
    assert record.approvals[0]["edited"] is True
    [entry] = world.container.audit.list(action="proposal.approved")
    assert entry.inputs["edits"] == {"delta": -1} and entry.inputs["before"]["delta"] == -4


def test_reject_needs_a_reason_and_expiry_is_audited(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    manager = world.person("store_manager", "mia", "a")
    pid = world.propose("p1")
    with pytest.raises(ApprovalError) as no_reason:
        world.approvals.reject(pid, manager, reason="  ")
    assert no_reason.value.field == "reason"
    rejected = world.approvals.reject(pid, manager, reason="count was wrong")
    assert rejected.status == "rejected" and rejected.reason == "count was wrong"

    stale = world.propose("p2")
    world.clock.advance(hours=71)
    assert world.approvals.expire_due() == 0
    world.clock.advance(hours=2)
    assert world.approvals.expire_due() == 1
    assert world.status(stale) == "expired"
    with pytest.raises(ApprovalError):
        run(world.approvals.approve(stale, manager))
    assert world.container.audit.list(action="proposal.expired")[0].store == world.store("a")
    assert not world.pos.writes


def test_revert_undoes_on_the_pos(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1", delta=-3)
    manager = world.person("store_manager", "mia", "a")
    run(world.approvals.approve(pid, manager))
    reverted = run(world.approvals.revert(pid, manager, reason="found the missing stock"))
    assert reverted.status == "reverted"
    assert world.pos.writes[f"{pid}:revert"]["delta"] == 3
    assert reverted.result["reverted"]["reference"] == "undo-adj-1"


def test_transient_write_failures_are_retried_and_refusals_fail(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    manager = world.person("store_manager", "mia", "a")
    world.pos.fail_next.append(WriteBackError("POS busy (429)", retryable=True))
    pid = world.propose("p1")
    record = run(world.approvals.approve(pid, manager))
    assert record.status == "approved" and record.result["error"] == "writeback_failed"
    world.clock.advance(seconds=30)  # the first retry is due
    assert run(world.approvals.write_approved()) == 1
    assert world.status(pid) == "applied" and pid in world.pos.writes

    world.pos.fail_next.append(WriteBackError("unknown SKU", retryable=False))
    refused = world.propose("p2")
    assert run(world.approvals.approve(refused, manager)).status == "failed"
    assert world.approvals.get(refused).result["detail"] == "unknown SKU"


def test_a_guardrail_rolls_a_rollout_back_when_people_override_it(world: World) -> None:
    modes = world.container.modes
    stores = [world.store("a"), world.store("b")]
    rollout = modes.start_rollout(
        WF,
        actor="user:rex",
        stores=stores,
        canary=True,
        target_mode="draft",
        fallback_mode="shadow",
        guardrail=Guardrail(max_override_share=0.5, window_hours=24, min_decisions=3),
    )
    assert rollout.enrolled == (world.store("a"),)
    assert modes.mode_for(WF, world.store("a")).mode == "draft"
    assert modes.mode_for(WF, world.store("b")).mode == "shadow"
    rollout = modes.advance(rollout.id, actor="user:rex")
    assert rollout.status == "completed" and modes.mode_for(WF, world.store("b")).mode == "draft"

    manager = world.person("store_manager", "mia", "a")
    run(world.approvals.approve(world.propose("k1"), manager))
    world.approvals.reject(world.propose("k2"), manager, reason="wrong")
    assert modes.get_rollout(rollout.id).status == "completed"  # 2 decisions: too few to judge
    world.approvals.reject(world.propose("k3"), manager, reason="wrong again")
    after = modes.get_rollout(rollout.id)
    assert after.status == "rolled_back" and "67%" in (after.reason or "")
    assert modes.mode_for(WF, world.store("a")).mode == "shadow"
    assert modes.mode_for(WF, world.store("b")).mode == "shadow"
    [entry] = world.container.audit.list(action="rollout.rolled_back")
    assert entry.actor == f"guardrail:{rollout.id}"
    assert world.container.audit.verify().ok


def test_auto_mode_leaves_to_people_what_the_rules_give_two_approvers(world: World) -> None:
    modes = world.container.modes
    modes.set_mode(WF, "*", "auto", actor="user:boss", auto_limit="1000")
    modes.set_rule(actor="user:boss", kind="stock_adjustment", two_approvers_above="100")
    small = world.propose("small", value="50.00")
    big = world.propose("big", value="500.00")  # within the auto limit, above the rule
    assert world.status(small) == "applied"
    waiting = world.approvals.get(big)
    assert waiting.status == "pending" and waiting.required_approvals == 2
    assert waiting.approvals == () and list(world.pos.writes) == [small]


def test_tightened_rules_hold_what_awaits_approval_and_looser_ones_do_not_lower_it(
    world: World,
) -> None:
    modes = world.container.modes
    modes.set_mode(WF, "*", "draft", actor="user:boss")
    big, small = world.propose("big", value="500.00"), world.propose("small", value="50.00")
    assert world.approvals.get(big).required_approvals == 1
    # when the rules are tightened while both wait: above £100 two approvers, a regional manager
    modes.set_rule(
        actor="user:boss", kind="stock_adjustment", two_approvers_above="100", regional_above="100"
    )
    assert world.approvals.apply_rules("stock_adjustment", actor="user:boss") == 1
    # then the big one needs them; the small one is as it was
    after = world.approvals.get(big)
    assert (after.required_role, after.required_approvals) == ("regional_manager", 2)
    assert world.approvals.get(small).required_approvals == 1
    with pytest.raises(ApprovalError) as err:
        run(world.approvals.approve(big, world.person("store_manager", "mia", "a")))
    assert err.value.status == 403
    [entry] = world.container.audit.list(action="proposal.rules_applied")
    assert entry.inputs["proposal_id"] == big and entry.actor == "user:boss"
    assert entry.inputs["before"] == {"required_role": None, "required_approvals": 1}
    # and loosening them again lowers nothing already asked for
    modes.set_rule(actor="user:boss", kind="stock_adjustment")
    assert world.approvals.apply_rules(None, actor="user:boss") == 0
    assert world.approvals.get(big).required_approvals == 2


def test_a_transfer_is_decided_only_by_whom_both_its_stores_are_in_scope(world: World) -> None:
    world.container.modes.set_mode("replenishment", "*", "draft", actor="user:boss")
    world.pos.kinds = world.pos.reversible = frozenset({"stock_adjustment", "transfer"})
    # stock moves out of store a into store b: the proposal is the receiving store's
    p = Proposal(
        id=proposal_id("replenishment", "transfer", "t1"),
        kind="transfer",
        workflow="replenishment",
        proposed_by="workflow:replenishment@1.0",
        connection_id=world.connection_id,
        location_external_id="b",
        created_at=world.clock.now(),
        summary="Move 30 of SKU-1 from a to b",
        payload={"sku": "SKU-1", "from_location": "a", "to_location": "b", "quantity": 30},
    )
    with world.container.uow() as uow:
        assert uow.proposals.add(p)
    run(world.approvals.route_new())
    receiving = world.person("store_manager", "bo", "b")
    with pytest.raises(ApprovalError) as approve:
        run(world.approvals.approve(p.id, receiving))
    with pytest.raises(ApprovalError) as reject:
        world.approvals.reject(p.id, receiving, reason="not needed")
    for refused in (approve.value, reject.value):
        assert refused.status == 403
        assert refused.detail == "this transfer moves stock out of a store outside your scope"
    assert world.status(p.id) == "pending" and not world.pos.writes

    run(world.approvals.approve(p.id, world.person("store_manager", "mia", "a", "b")))
    assert world.status(p.id) == "applied"
    with pytest.raises(ApprovalError) as revert:
        run(world.approvals.revert(p.id, receiving, reason="undo"))
    assert revert.value.status == 403 and world.status(p.id) == "applied"
    assert list(world.pos.writes) == [p.id]


def test_the_sweep_leaves_a_proposal_alone_while_its_approver_writes_it(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    manager = world.person("store_manager", "mia", "a")

    async def approve_while_the_sweep_runs() -> list[Any]:
        return await asyncio.gather(
            world.approvals.approve(pid, manager),
            world.approvals.write_approved(),
            world.approvals.write_approved(),
        )

    approved, *swept = run(approve_while_the_sweep_runs())
    assert approved.status == "applied"
    assert swept == [0, 0]  # the approver's claim kept both sweeps off it
    assert world.pos.applies == [pid]  # the POS was asked once
    assert len(world.container.audit.list(action="proposal.applied")) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("action", ["sweep", "approve", "revert", "step"])
def test_governance_waits_for_a_busy_database_without_stopping_the_server(
    world: World, action: str
) -> None:
    """SQLite has one writer at a time. While a long write holds it (a store's plan being
    saved), the governance sweep's routing, a manager's approval, a revert and the record of a
    step a write-back completed (a transfer's first adjustment) wait for it in worker threads:
    the server's event loop goes on answering meanwhile — here, it is the loop that lets the
    long write finish."""
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1", route=action != "sweep")
    manager = world.person("store_manager", "mia", "a")
    if action == "revert":
        assert run(world.approvals.approve(pid, manager)).status == "applied"
    holding, release = threading.Event(), threading.Event()
    released_by: list[str] = []

    def long_write() -> None:
        with world.container.engine.begin():  # SQLite's writer, held until released
            holding.set()
            released_by.append("the loop" if release.wait(timeout=20) else "the timeout")

    writer = threading.Thread(target=long_write)

    async def hold_the_writer() -> None:
        writer.start()
        await asyncio.to_thread(holding.wait)

    if action == "step":  # the POS has done the write's first step when the long write starts
        world.pos.step, world.pos.before_step = "out", hold_the_writer

    async def go() -> None:
        if action != "step":
            await hold_the_writer()
        task: asyncio.Task[Any] = asyncio.create_task(
            world.approvals.sweep()
            if action == "sweep"
            else world.approvals.revert(pid, manager, reason="counted again")
            if action == "revert"
            else world.approvals.approve(pid, manager)
        )
        await asyncio.to_thread(holding.wait)
        for _ in range(50):  # other work of the loop: it runs while governance waits
            await asyncio.sleep(0)
        assert not task.done()  # nothing is recorded while the write is held
        release.set()
        await task
        await asyncio.to_thread(writer.join)

    run(go())
    assert released_by == ["the loop"]
    assert world.status(pid) == {"sweep": "pending", "revert": "reverted"}.get(action, "applied")


def test_a_list_continued_from_another_stores_proposal_says_no_more_than_an_unknown_id(
    world: World,
) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    ours = []
    for key in ("a1", "a2"):
        ours.append(world.propose(key))
        world.clock.advance(minutes=1)
    theirs = world.propose("b1", loc="b")  # the newest
    manager = world.person("store_manager", "mia", "a")
    assert [r.id for r in world.approvals.list(manager)] == ours[::-1]
    assert [r.id for r in world.approvals.list(manager, before=ours[1])] == [ours[0]]
    # a cursor naming store b's proposal reads as one naming nothing
    assert world.approvals.list(manager, before=theirs) == []
    assert world.approvals.list(manager, before="nope") == []
    # while whoever sees store b continues from it
    admin = world.person("admin", "boss")
    assert [r.id for r in world.approvals.list(admin, before=theirs)] == ours[::-1]


def test_a_claim_left_by_a_crashed_writer_lapses(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    # given an approval whose process died before it asked the POS (approved and claimed)
    with world.container.engine.begin() as db:
        db.execute(
            update(proposals)
            .where(proposals.c.id == pid)
            .values(status="approved", write_claimed_at=world.clock.now())
        )
    assert run(world.approvals.write_approved()) == 0 and world.pos.applies == []
    # then the sweep takes it over once the lease has run out
    world.clock.advance(minutes=11)
    assert run(world.approvals.write_approved()) == 1
    assert world.status(pid) == "applied" and world.pos.applies == [pid]


def test_an_unexpected_write_error_defers_the_proposal_and_spares_the_others(
    world: World,
) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    manager = world.person("store_manager", "mia", "a")
    first, second = world.propose("p1"), world.propose("p2")
    # given a write-back that breaks in a way it did not foresee (a disk error), twice
    world.pos.fail_next.append(NotADirectoryError("documents/ is a file"))
    record = run(world.approvals.approve(first, manager))
    # then the approval is kept, the error is recorded and audited, nothing escapes
    assert record.status == "approved" and record.result["error"] == "writeback_error"
    assert "NotADirectoryError" in record.result["detail"]
    [deferred] = world.container.audit.list(action="proposal.write_deferred")
    assert deferred.inputs["proposal_id"] == first
    world.pos.fail_next.append(WriteBackError("POS busy (503)", retryable=True))
    assert run(world.approvals.approve(second, manager)).status == "approved"
    # and one sweep writes both once the trouble has passed and their retries are due
    world.clock.advance(seconds=30)
    assert run(world.approvals.write_approved()) == 2
    assert (world.status(first), world.status(second)) == ("applied", "applied")
    assert sorted(world.pos.writes) == sorted([first, second])


def test_a_write_the_pos_keeps_deferring_is_retried_less_and_less_often(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    # given a POS that is down: the approval's write and the next four are deferred
    world.pos.fail_next.extend(WriteBackError("POS busy (503)", retryable=True) for _ in range(5))
    record = run(world.approvals.approve(pid, world.person("store_manager", "mia", "a")))
    assert record.status == "approved" and record.result["attempts"] == 1
    # then each retry waits twice as long as the one before: 30 s, 60 s, 120 s, 240 s
    for wait, attempt in ((30, 2), (60, 3), (120, 4), (240, 5)):
        world.clock.advance(seconds=wait - 1)
        assert run(world.approvals.write_approved()) == 0  # not due yet: the POS is left alone
        world.clock.advance(seconds=1)
        assert run(world.approvals.write_approved()) == 1
        after = world.approvals.get(pid)
        assert after.status == "approved" and after.result["attempts"] == attempt
        retry_at = world.clock.now() + timedelta(seconds=2 * wait)
        assert after.result["retry_at"] == retry_at.isoformat()
    assert world.pos.applies == [pid] * 5
    deferred = world.container.audit.list(action="proposal.write_deferred")
    assert sorted(e.outputs["result"]["attempts"] for e in deferred) == [1, 2, 3, 4, 5]
    # and once the POS is back, the retry that comes due writes it
    world.clock.advance(seconds=480)
    assert run(world.approvals.write_approved()) == 1
    assert world.status(pid) == "applied" and list(world.pos.writes) == [pid]


def test_the_steps_a_deferred_write_completed_are_kept_and_handed_to_its_retry(
    world: World,
) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    # a write in two steps whose first is done on the POS when the second fails
    world.pos.step = "out"
    world.pos.fail_next.append(WriteBackError("POS busy (503)", retryable=True))
    record = run(world.approvals.approve(pid, world.person("store_manager", "mia", "a")))

    assert record.status == "approved"
    assert record.result["progress"] == {"out": {"reference": "out-1"}}
    [deferred] = world.container.audit.list(action="proposal.write_deferred")
    assert deferred.outputs["result"]["progress"] == {"out": {"reference": "out-1"}}

    world.clock.advance(seconds=30)
    assert run(world.approvals.write_approved()) == 1
    # the retry was told the first step is done (so it does not do it again)
    assert world.pos.progress_seen == [{}, {"out": {"reference": "out-1"}}]
    assert world.status(pid) == "applied"


def test_deferred_writes_are_retried_at_most_an_hour_apart(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    world.pos.fail_next.extend(WriteBackError("POS busy (503)", retryable=True) for _ in range(12))
    run(world.approvals.approve(pid, world.person("store_manager", "mia", "a")))
    for _ in range(11):
        world.clock.advance(hours=1)
        assert run(world.approvals.write_approved()) == 1
    after = world.approvals.get(pid)
    assert after.result["attempts"] == 12
    assert after.result["retry_at"] == (world.clock.now() + timedelta(hours=1)).isoformat()


def test_two_people_reverting_at_once_undo_it_on_the_pos_once(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    mia, ben = world.person("store_manager", "mia", "a"), world.person("buyer", "ben", "a")
    run(world.approvals.approve(pid, mia))

    async def both() -> list[Any]:
        return await asyncio.gather(
            world.approvals.revert(pid, mia, reason="found stock"),
            world.approvals.revert(pid, ben, reason="the count was right"),
            return_exceptions=True,
        )

    outcomes = run(both())
    # whichever claim the database took first wins (the claims run in worker threads)
    [won] = [o for o in outcomes if not isinstance(o, BaseException)]
    [lost] = [o for o in outcomes if isinstance(o, BaseException)]
    assert won.status == "reverted" and won.decided_by in ("user:mia", "user:ben")
    assert isinstance(lost, ApprovalError) and lost.status == 409
    assert lost.detail.startswith("only an applied proposal can be reverted")
    assert world.pos.reverts == [f"{pid}:revert"]  # the POS was asked once
    [entry] = world.container.audit.list(action="proposal.reverted")
    assert entry.actor == won.decided_by
    assert world.container.audit.verify().ok


def test_a_revert_the_pos_fails_can_be_tried_again(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    manager = world.person("store_manager", "mia", "a")
    run(world.approvals.approve(pid, manager))
    world.pos.fail_revert.append(WriteBackError("POS busy (503)", retryable=True))
    with pytest.raises(WriteBackError):
        run(world.approvals.revert(pid, manager, reason="found stock"))
    assert world.status(pid) == "applied"
    assert world.container.audit.list(action="proposal.reverted") == []

    assert run(world.approvals.revert(pid, manager, reason="found stock")).status == "reverted"
    assert world.pos.reverts == [f"{pid}:revert", f"{pid}:revert"]  # same idempotency key


def test_a_revert_left_unfinished_by_a_crash_can_be_retried_once_its_claim_lapses(
    world: World,
) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    pid = world.propose("p1")
    manager = world.person("store_manager", "mia", "a")
    run(world.approvals.approve(pid, manager))
    with world.container.engine.begin() as db:  # what a process that died mid-revert leaves
        db.execute(
            update(proposals)
            .where(proposals.c.id == pid)
            .values(status="reverting", updated_at=world.clock.now())
        )
    with pytest.raises(ApprovalError, match="this one is reverting"):
        run(world.approvals.revert(pid, manager, reason="found stock"))
    assert world.pos.reverts == []
    world.clock.advance(minutes=10)
    assert run(world.approvals.revert(pid, manager, reason="found stock")).status == "reverted"


def test_an_unknown_value_counts_as_above_every_threshold(world: World) -> None:
    modes = world.container.modes
    modes.set_mode(WF, world.store("a"), "auto", actor="user:boss", auto_limit="20")
    unknown = world.approvals.get(world.propose("unknown", value=None, delta=-10_000))
    assert unknown.status == "pending" and unknown.proposal.value is None
    assert unknown.reason is not None and "value unknown" in unknown.reason
    assert unknown.id not in world.pos.writes
    [queued] = world.container.audit.list(action="proposal.queued")
    assert "value unknown" in queued.outputs["reason"]

    modes.set_mode(WF, world.store("a"), "draft", actor="user:boss")
    modes.set_rule(
        actor="user:boss", kind="stock_adjustment", regional_above="50", two_approvers_above="100"
    )
    ruled = world.approvals.get(world.propose("ruled", value=None, delta=-10_000))
    assert ruled.required_role == "regional_manager" and ruled.required_approvals == 2
    with pytest.raises(ApprovalError) as senior:
        run(world.approvals.approve(ruled.id, world.person("store_manager", "mia", "a")))
    assert senior.value.code == "needs_regional_manager"


def test_an_unknown_value_goes_through_where_no_threshold_is_set(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "auto", actor="user:boss")  # no auto_limit
    record = world.approvals.get(world.propose("unknown", value=None))
    assert record.status == "applied" and record.reason is None


def _order(world: World, key: str, lines: list[dict[str, Any]], **inputs: Any) -> str:
    value = None if any(ln["unit_cost"] is None for ln in lines) else "10.00"
    p = Proposal(
        id=proposal_id(WF, "draft_purchase_order", key),
        kind="draft_purchase_order",
        workflow=WF,
        proposed_by="workflow:stock_counts@1.0",
        connection_id=world.connection_id,
        location_external_id="a",
        created_at=world.clock.now(),
        summary=key,
        payload={"vendor": {"external_id": "v1"}, "currency": "GBP", "lines": lines},
        value=None if value is None else Money.from_decimal(value, "GBP"),
        inputs=inputs,
    )
    with world.container.uow() as uow:
        assert uow.proposals.add(p)
    run(world.approvals.route_new())
    return p.id


def test_merging_an_uncosted_line_into_an_order_leaves_its_value_unknown(world: World) -> None:
    world.container.modes.set_mode(WF, "*", "draft", actor="user:boss")
    world.container.modes.set_rule(
        actor="user:boss", kind="draft_purchase_order", regional_above="50"
    )
    draft = _order(world, "draft", [{"sku": "A", "quantity": 1, "unit_cost": "10.00"}])
    assert world.approvals.get(draft).required_role is None
    request = _order(
        world, "merge", [{"sku": "B", "quantity": 10_000, "unit_cost": None}], merge_into=draft
    )
    assert world.status(request) == "merged"

    merged = world.approvals.get(draft)
    assert [ln["sku"] for ln in merged.proposal.payload["lines"]] == ["A", "B"]
    assert merged.proposal.value is None  # not the 10.00 of the draft before
    assert merged.required_role == "regional_manager"
    assert merged.reason is not None and "value unknown" in merged.reason
    with pytest.raises(ApprovalError) as senior:
        run(world.approvals.approve(draft, world.person("store_manager", "mia", "a")))
    assert senior.value.code == "needs_regional_manager"


def test_a_rollout_keeps_each_stores_auto_limit_and_a_roll_back_restores_it(
    world: World,
) -> None:
    modes = world.container.modes
    a, b = world.store("a"), world.store("b")
    modes.set_mode(WF, a, "auto", actor="user:boss", auto_limit="20")
    rollout = modes.start_rollout(WF, actor="user:rex", stores=[a, b], target_mode="auto")
    assert modes.mode_for(WF, a).mode == "auto" and modes.mode_for(WF, a).auto_limit == 20
    assert modes.mode_for(WF, b).auto_limit is None  # it had none: nothing changes
    big = world.propose("big", value="5000.00")
    assert world.status(big) == "pending" and big not in world.pos.writes
    modes.roll_back(rollout.id, actor="user:rex", reason="not yet")
    assert (modes.mode_for(WF, a).mode, modes.mode_for(WF, a).auto_limit) == ("draft", 20)

    raised = modes.start_rollout(
        WF, actor="user:rex", stores=[a], target_mode="auto", auto_limit="100"
    )
    assert raised.auto_limit == 100 and modes.mode_for(WF, a).auto_limit == 100
    back = modes.roll_back(raised.id, actor="user:rex", reason="too many overrides")
    assert back.status == "rolled_back"
    assert (modes.mode_for(WF, a).mode, modes.mode_for(WF, a).auto_limit) == ("draft", 20)
    [*_, entry] = world.container.audit.list(action="rollout.rolled_back")
    assert entry.outputs["auto_limits"] == {a: "20"}
    with pytest.raises(InvalidSetting) as not_auto:
        modes.start_rollout(WF, actor="user:rex", stores=[a], target_mode="draft", auto_limit="5")
    assert not_auto.value.field == "auto_limit"
