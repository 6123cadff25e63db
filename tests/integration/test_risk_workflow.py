"""The risk workflow's scorer state on the SQL store, with a test double for the scorer (the
contract of tillwise.workflows.risk.scorer): rebuilt from recent events when there is no
snapshot, restored from the snapshot when there is one, snapshots saved as configured, and every
score stored with its model and version."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import body_of, make_container, pump, run, signed_headers
from tillwise.api.app import create_app
from tillwise.bootstrap import Container
from tillwise.ports.repositories import ScorerSnapshot
from tillwise.workflows.risk.events import RiskEvent
from tillwise.workflows.risk.workflow import (
    RiskConfig,
    ScorerFactory,
    ScorerState,
    default_factory,
)

SECRET = "whsec_risk"


@dataclass(frozen=True)
class _Reason:
    code: str
    weight: float
    evidence: dict[str, Any]
    text: str


@dataclass(frozen=True)
class _Assessment:
    event_id: str
    store: str
    score: float
    decision: str
    reasons: tuple[_Reason, ...]
    model: str = "double"
    version: str = "d1"


@dataclass
class DoubleScorer:
    """Flags anything over £100 for review; remembers what it observed and learned."""

    observed: list[str] = field(default_factory=list)
    learned: list[tuple[str, bool]] = field(default_factory=list)

    def score(self, event: RiskEvent) -> _Assessment:
        big = event.amount > 10_000
        reasons = (
            (_Reason("high_value_return", 0.9, {"amount": event.amount}, "big"),) if big else ()
        )
        return _Assessment(
            event.id, event.store, 0.7 if big else 0.1, "review" if big else "allow", reasons
        )

    def observe(self, event: RiskEvent) -> None:
        self.observed.append(event.id)

    def assess(self, event: RiskEvent) -> _Assessment:
        out = self.score(event)
        self.observe(event)
        return out

    def learn(self, labels: Sequence[tuple[RiskEvent, bool]]) -> None:
        self.learned = [(e.id, y) for e, y in labels]

    def snapshot(self) -> bytes:
        return json.dumps({"observed": self.observed}).encode()

    @classmethod
    def restore(cls, data: bytes) -> DoubleScorer:
        return cls(observed=list(json.loads(data)["observed"]))


FACTORY = ScorerFactory(new=DoubleScorer, restore=DoubleScorer.restore)


@pytest.fixture
def container(sqlite_url: str, tmp_path: Path) -> Iterator[Container]:
    c = make_container(sqlite_url, tmp_path)
    yield c
    run(c.close())


def _install(container: Container, **config: Any) -> ScorerState:
    state = ScorerState(container.uow, config=RiskConfig(**config), factory=FACTORY)
    container.__dict__["_risk_state"] = state  # what build_workers hands the risk workflow
    return state


def _send(container: Container, conn: str, events: list[tuple[str, dict[str, Any]]]) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(container)) as client:
        for n, (event, data) in enumerate(events):
            body = body_of(
                {"event": event, "created_at": f"2024-01-15T10:{n:02d}:00Z", "data": data}
            )
            now = int(container.clock.now().timestamp())
            resp = client.post(
                f"/webhooks/generic/{conn}", content=body, headers=signed_headers(body, SECRET, now)
            )
            assert resp.status_code in (200, 202), resp.text
    run(pump(container))


def _refund(rid: str, amount: int) -> tuple[str, dict[str, Any]]:
    return (
        "refund.created",
        {
            "id": rid,
            "location_id": "loc-a",
            "employee_id": "emp-1",
            "total_money": {"amount": amount, "currency": "GBP"},
        },
    )


def test_scores_cases_snapshots_and_a_restart_restores_warm(container: Container) -> None:
    conn = container.connections.create("generic", "POS", [SECRET], actor="t").id
    state = _install(container, snapshot_every=2, manager_refund_over=None)
    store = ("location.updated", {"id": "loc-a", "name": "A", "time_zone": "Europe/London"})
    _send(container, conn, [store, _refund("R1", 500), _refund("R2", 20_000), _refund("R3", 50)])
    scorer = state.for_reading()
    assert isinstance(scorer, DoubleScorer) and scorer.observed == ["R1", "R2", "R3"]
    cases = container.risk_cases.list()
    assert [(c.event_id, c.decision, c.severity) for c in cases] == [("R2", "review", "medium")]
    assert (cases[0].model, cases[0].version) == ("double", "d1")
    assert cases[0].sla_due > cases[0].created_at
    with container.uow() as uow:
        snap = uow.risk.snapshot("default")
    assert snap is not None and json.loads(snap.data)["observed"] == ["R1", "R2"]  # every 2

    # a restarted worker restores the snapshot (not a rebuild)
    restarted = ScorerState(container.uow, config=RiskConfig(), factory=FACTORY)
    with container.uow() as uow:
        warm = restarted.ensure(uow)
    assert isinstance(warm, DoubleScorer) and warm.observed == ["R1", "R2"]


def test_without_a_snapshot_the_scorer_is_rebuilt_from_recent_events(
    container: Container,
) -> None:
    conn = container.connections.create("generic", "POS", [SECRET], actor="t").id
    _install(container, snapshot_every=1000)
    store = ("location.updated", {"id": "loc-a", "name": "A"})
    _send(container, conn, [store, _refund("R1", 500), _refund("R2", 700)])
    fresh = ScorerState(container.uow, config=RiskConfig(rebuild_limit=1), factory=FACTORY)
    with container.uow() as uow:
        assert uow.risk.snapshot("default") is None
        rebuilt = fresh.ensure(uow)
    assert isinstance(rebuilt, DoubleScorer) and rebuilt.observed == ["R2"]  # the newest one


def test_a_refused_snapshot_is_rebuilt_from_recent_events(container: Container) -> None:
    """The product scorer refuses a tampered snapshot (no pickle, nothing run); the worker
    logs it and rebuilds from the events instead of crashing."""
    conn = container.connections.create("generic", "POS", [SECRET], actor="t").id
    _install(container, snapshot_every=1000)
    store = ("location.updated", {"id": "loc-a", "name": "A"})
    _send(container, conn, [store, _refund("R1", 500), _refund("R2", 700)])
    from tillwise.workflows.risk import RiskScorer

    good = RiskScorer().snapshot()
    for data in (good[:-10], b"TWRISK1\n" + good[8:], b"\x80\x05junk"):
        with container.uow() as uow:
            uow.risk.save_snapshot(
                ScorerSnapshot(
                    name="default",
                    data=data,
                    model="tillwise-risk",
                    version="x",
                    events_seen=99,
                    labels_learned=0,
                    saved_at=container.clock.now(),
                )
            )
        fresh = ScorerState(container.uow, config=RiskConfig(), factory=default_factory())
        with container.uow() as uow:
            rebuilt = fresh.ensure(uow)
        assert isinstance(rebuilt, RiskScorer)
        assert fresh.events_seen == 2 and rebuilt.events == 2  # rebuilt, not restored
