"""The risk repository (scores, cases, labels, the scorer's snapshot) and the review queue's
decisions, held to one specification on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.factories import envelope
from tillwise.governance.audit import AuditLog
from tillwise.governance.principal import Principal, permissions_of
from tillwise.governance.risk import RiskCaseError, RiskCases, UnknownCase
from tillwise.ports.repositories import RiskCaseDraft, RiskScoreRow, ScorerSnapshot
from tillwise.store.engine import make_engine, make_session_factory
from tillwise.store.unit_of_work import SqlUnitOfWorkFactory

AT = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    engine = make_engine(database_url)
    yield SqlUnitOfWorkFactory(make_session_factory(engine), clock=FixedClock(AT))
    engine.dispose()


def _score(key: str = "refund.created:r1", *, employee: str = "emp-1") -> RiskScoreRow:
    return RiskScoreRow(
        event_key=key,
        event_id=key.rsplit(":", 1)[-1],
        kind="refund",
        connection_id="conn_1",
        location_external_id="loc-a",
        employee_id=employee,
        occurred_at=AT,
        local_day=date(2024, 1, 15),
        currency="GBP",
        amount=30_000,
        score=0.91,
        decision="review",
        reasons=({"code": "refund_without_receipt", "weight": 0.6, "evidence": {}, "text": "x"},),
        model="tillwise-risk",
        version="rules-1",
        scored_at=AT,
        features=(0.25, 1.0, 0.0),
    )


def _case(score: RiskScoreRow, case_id: str = "case-1") -> RiskCaseDraft:
    return RiskCaseDraft(
        id=case_id,
        score=score,
        record_id=None,
        register_id="reg-1",
        customer_id=None,
        severity="high",
        summary="Refund of 300.00 GBP by employee emp-1.",
        sla_due=AT + timedelta(hours=4),
        event={"id": score.event_id, "kind": "refund"},
    )


def test_a_score_and_a_case_are_written_once(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as work:
        assert not work.risk.scored("refund.created:r1")
        assert work.risk.record_score(_score())
        assert work.risk.open_case(_case(_score()))
    with uow() as work:
        assert work.risk.scored("refund.created:r1") and not work.risk.scored("refund.created:r2")
        assert not work.risk.record_score(_score())  # the same event again: nothing written
        assert not work.risk.open_case(_case(_score()))


def test_snapshots_replace_the_previous_one(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as work:
        assert work.risk.snapshot("default") is None
        for n in (1, 2):
            work.risk.save_snapshot(
                ScorerSnapshot("default", bytes([n]) * 10, "m", f"v{n}", n * 100, n, AT)
            )
    with uow() as work:
        snap = work.risk.snapshot("default")
    assert snap is not None
    assert (snap.data, snap.version, snap.events_seen, snap.labels_learned) == (
        b"\x02" * 10,
        "v2",
        200,
        2,
    )
    assert snap.saved_at == AT


def test_recent_events_are_the_newest_in_time_order(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as work:
        for n in range(5):
            work.events.append(
                envelope(f"e{n}", type="sale.completed", time=AT + timedelta(minutes=n))
            )
        work.events.append(envelope("other", type="inventory.updated", time=AT))
    with uow() as work:
        recent = work.risk.recent_events({"sale.completed", "refund.created"}, 3)
    assert [e.id for e in recent] == ["e2", "e3", "e4"]


def _person(role: str, stores: set[str] | None) -> Principal:
    return Principal(
        kind="user",
        id=f"u-{role}",
        name=role,
        role=role,
        permissions=permissions_of(role, None),
        stores=None if stores is None else frozenset(stores),
    )


def test_a_decision_is_audited_and_becomes_a_label(
    database_url: str, uow: SqlUnitOfWorkFactory
) -> None:
    engine = make_engine(database_url)
    try:
        clock = FixedClock(AT + timedelta(hours=1))
        audit = AuditLog(engine, clock)
        cases = RiskCases(engine, audit, clock)
        with uow() as work:
            work.risk.record_score(_score())
            work.risk.open_case(_case(_score()))
        lp = _person("loss_prevention", {"conn_1:loc-a"})
        outsider = _person("loss_prevention", {"conn_1:loc-b"})
        with pytest.raises(UnknownCase):
            cases.get("case-1", outsider)
        assert [c.id for c in cases.list(lp)] == ["case-1"] and cases.list(outsider) == []
        assert cases.set_state("case-1", "in_review", lp).owner == "loss_prevention"
        decided = cases.set_state("case-1", "dismissed", lp, note="refund was genuine")
        assert decided.state == "dismissed" and decided.decided_by == "user:u-loss_prevention"
        with pytest.raises(RiskCaseError):
            cases.set_state("case-1", "confirmed", lp)
        [entry] = audit.list(action="risk.case_dismissed")
        assert entry.inputs["note"] == "refund was genuine" and entry.outputs["label"] is False
        with uow() as work:
            [label] = work.risk.labels()
            assert (label.case_id, label.label, label.event["id"]) == ("case-1", False, "r1")
            assert label.features == (0.25, 1.0, 0.0)  # as stored with its event's score
            assert work.risk.unlearned_count() == 1
            work.risk.mark_learned(["case-1"], "sup-1", AT)
        with uow() as work:
            assert work.risk.unlearned_count() == 0
            assert work.risk.labels()[0].learned_version == "sup-1"
        recent = cases.employee_recent(decided)
        assert [(e["event_id"], e["decision"]) for e in recent] == [("r1", "review")]
        report = cases.reports(lp, store="conn_1:loc-a")
        assert report["cases"] == 1 and report["scored"] == 1
        assert report["by_employee"][0]["dismissed"] == 1
    finally:
        engine.dispose()
