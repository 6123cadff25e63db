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

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import body_of, make_container, pump, run, signed_headers
from tillwise.api.app import create_app
from tillwise.bootstrap import Container
from tillwise.ports.repositories import ScorerSnapshot
from tillwise.store.repositories.risk import SqlRiskRepository
from tillwise.store.tables_risk import risk_scores
from tillwise.workflows.risk.baselines import NO_SALES
from tillwise.workflows.risk.events import RiskEvent
from tillwise.workflows.risk.models import SupervisedModel
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
    features: tuple[float, ...] = ()


@dataclass
class DoubleScorer:
    """Flags anything over £100 for review; remembers what it observed and learned."""

    observed: list[str] = field(default_factory=list)
    learned: list[tuple[tuple[float, ...], bool]] = field(default_factory=list)
    version: str = "d1"

    def score(self, event: RiskEvent) -> _Assessment:
        big = event.amount > 10_000
        reasons = (
            (_Reason("high_value_return", 0.9, {"amount": event.amount}, "big"),) if big else ()
        )
        return _Assessment(
            event.id,
            event.store,
            0.7 if big else 0.1,
            "review" if big else "allow",
            reasons,
            version=self.version,
            features=(float(event.amount),),
        )

    def observe(self, event: RiskEvent) -> None:
        self.observed.append(event.id)

    def assess(self, event: RiskEvent) -> _Assessment:
        out = self.score(event)
        self.observe(event)
        return out

    def learn(self, labels: Sequence[tuple[Sequence[float], bool]]) -> None:
        self.learned = [(tuple(v), y) for v, y in labels]
        self.version = f"learned-{len(labels)}"

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


def _send(
    container: Container,
    conn: str,
    events: list[tuple[str, dict[str, Any]]],
    *,
    worker: Container | None = None,
) -> None:
    """Post the events to ``container``'s API; ``worker``: the process that handles them, when
    it is another one."""
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
    run(pump(worker or container))


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


def _decide(container: Container, case_id: str, state: str) -> None:
    """A reviewer's decision through the API of ``container``'s process."""
    _, token = container.tokens.create("admin", name="reviewer", actor="t")
    with TestClient(create_app(container)) as client:
        for step in ("in_review", state):
            resp = client.post(
                f"/v1/risk/cases/{case_id}/state",
                headers={"Authorization": f"Bearer {token}"},
                json={"state": step},
            )
            assert resp.status_code == 200, resp.text


def test_a_batch_retried_after_a_rollback_is_counted_once(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker handles a batch in one transaction; a transient database error rolls it back
    and each event is handled again on its own. The scorer (in memory, outside the transaction)
    counts each no-sale once, and each stored score is the one made the first time."""
    conn = container.connections.create("generic", "POS", [SECRET], actor="t").id
    store = ("location.updated", {"id": "loc-a", "name": "A"})
    _send(container, conn, [store])
    record = SqlRiskRepository.record_score
    calls = []

    def flaky(self: SqlRiskRepository, row: Any) -> bool:
        calls.append(row.event_id)
        if len(calls) == 3:
            raise RuntimeError("database is locked")
        return record(self, row)

    monkeypatch.setattr(SqlRiskRepository, "record_score", flaky)
    drawers = [
        (
            "drawer.opened",
            {
                "id": f"NS-{k}",
                "location_id": "loc-a",
                "employee_id": "emp-1",
                "opened_at": f"2024-01-15T14:3{k}:00Z",
            },
        )
        for k in range(3)
    ]
    _send(container, conn, drawers)
    assert calls == ["NS-0", "NS-1", "NS-2", "NS-0", "NS-1", "NS-2"]  # a batch, then one by one

    scorer = container.risk_state().for_reading()
    employee = scorer.stores[f"{conn}:loc-a"].peers.employees["emp-1"]  # type: ignore[attr-defined]
    assert employee.v[NO_SALES] == pytest.approx(3.0, abs=1e-3)
    with container.engine.connect() as db:
        rows = db.execute(select(risk_scores).order_by(risk_scores.c.event_id)).all()
    today = [
        next(r["evidence"]["no_sales_today"] for r in row.reasons if r["code"] == "no_sale_drawer")
        for row in rows
    ]
    assert [row.event_id for row in rows] == ["NS-0", "NS-1", "NS-2"] and today == [1, 2, 3]


def test_labels_and_the_snapshot_name_the_version_that_learned(container: Container) -> None:
    conn = container.connections.create("generic", "POS", [SECRET], actor="t").id
    _install(container, learn_after_labels=1, manager_refund_over=None)
    store = ("location.updated", {"id": "loc-a", "name": "A"})
    _send(container, conn, [store, _refund("R1", 20_000)])
    [case] = container.risk_cases.list()
    assert case.version == "d1"
    _decide(container, case.id, "confirmed")  # this process scores events: it learns now
    with container.uow() as uow:
        [label] = uow.risk.labels()
        snapshot = uow.risk.snapshot("default")
    assert label.learned_version == "learned-1"  # the scorer after learning, not before
    assert snapshot is not None and snapshot.version == "learned-1"


def test_only_the_process_that_scores_events_learns(
    container: Container, sqlite_url: str, tmp_path: Path
) -> None:
    """The API and the worker as separate processes: a decision reaching the API is recorded
    there; the worker learns from it and saves the snapshot (a copy learning in the API process
    would be overwritten by the worker's next snapshot)."""
    conn = container.connections.create("generic", "POS", [SECRET], actor="t").id
    worker = _install(container, learn_after_labels=1, learn_check_every=1)
    api = make_container(sqlite_url, tmp_path)
    try:
        in_api = _install(api, learn_after_labels=1, learn_check_every=1)
        store = ("location.updated", {"id": "loc-a", "name": "A"})
        _send(api, conn, [store, _refund("R1", 20_000)], worker=container)
        [case] = api.risk_cases.list()
        _decide(api, case.id, "confirmed")
        with api.uow() as uow:
            assert uow.risk.unlearned_count() == 1 and uow.risk.snapshot("default") is None
        assert not in_api.loaded  # the API process never built a scorer to learn in

        _send(api, conn, [_refund("R2", 500)], worker=container)  # the worker's next check
        learned = worker.for_reading()
        assert isinstance(learned, DoubleScorer) and learned.learned == [((20_000.0,), True)]
        with api.uow() as uow:
            assert uow.risk.unlearned_count() == 0
            snapshot = uow.risk.snapshot("default")
        assert snapshot is not None and snapshot.labels_learned == 1
        assert DoubleScorer.restore(snapshot.data).observed == ["R1", "R2"]
    finally:
        run(api.close())


def test_a_label_trains_on_the_features_its_event_was_scored_with(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The product scorer learns from the features stored with each score, also when the scorer
    that learns was rebuilt and holds none of them: re-scoring a labelled event against its state
    (the event and every later one observed: a refund among today's twenty, not the first) would
    train on features no score ever saw."""
    conn = container.connections.create("generic", "POS", [SECRET], actor="t").id
    container.__dict__["_risk_state"] = ScorerState(
        container.uow, config=RiskConfig(learn_after_labels=1000)
    )
    store = ("location.updated", {"id": "loc-a", "name": "A"})
    # each refund is over the manager's amount: a case to decide
    _send(container, conn, [store, *(_refund(f"R{k}", 30_000 + k) for k in range(20))])
    for k, case in enumerate(container.risk_cases.list()):
        _decide(container, case.id, "confirmed" if k % 2 else "dismissed")
    with container.engine.connect() as db:
        scored = sorted(tuple(r.features) for r in db.execute(select(risk_scores)))
    fits: list[np.ndarray] = []
    fit = SupervisedModel.fit

    def spy(self: SupervisedModel, xs: np.ndarray, ys: np.ndarray, seed: int = 0) -> None:
        fits.append(xs)
        fit(self, xs, ys, seed=seed)

    monkeypatch.setattr(SupervisedModel, "fit", spy)
    # a worker with no snapshot: rebuilt from the recent events, it learns at its first check
    rebuilt = ScorerState(
        container.uow,
        config=RiskConfig(learn_check_every=1, learn_after_labels=1, snapshot_name="rebuilt"),
    )
    container.__dict__["_risk_state"] = rebuilt
    _send(container, conn, [_refund("R20", 500)])
    [xs] = fits
    assert len(scored) == 20 and sorted(tuple(x) for x in xs.tolist()) == scored
