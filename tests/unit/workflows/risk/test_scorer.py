"""The scorer: decisions, snapshot/restore, the supervised model and model versions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tillwise.workflows.risk import RiskScorer
from tillwise.workflows.risk.models import MIN_LABELS

from .streams import T0, codes, normal_days, other, refunds_to_label, sale

END = T0 + timedelta(days=10)


def test_decisions_follow_the_thresholds() -> None:
    s = RiskScorer(review_threshold=0.4, manager_threshold=0.7)
    assert s.decide(0.39) == "allow"
    assert s.decide(0.4) == "review"
    assert s.decide(0.7) == "require_manager"
    with pytest.raises(ValueError):
        RiskScorer(review_threshold=0.9, manager_threshold=0.5)


def test_every_score_is_in_0_1_and_names_its_model_and_version() -> None:
    s = RiskScorer(first_fit=200)
    seen = []
    for e in normal_days(5):
        a = s.assess(e)
        assert 0.0 <= a.score <= 1.0 and a.decision in ("allow", "review", "require_manager")
        assert a.model == "tillwise-risk"
        seen.append(a.version)
    assert seen[0] == "rules-1.if-0.sup-0"
    assert seen[-1] == "rules-1.if-1.sup-0"  # the anomaly model was fitted from the stream


def test_refunds_above_the_manager_amount_need_a_manager() -> None:
    s = RiskScorer(manager_refund_amount=50000)
    small = s.score(other("refund", "r-1", END, "emp-1", amount=1000, receipt_id="s"))
    big = s.score(other("refund", "r-2", END, "emp-1", amount=60000, receipt_id="s"))
    assert small.decision == "allow"
    assert big.decision == "require_manager" and "manager_threshold" in codes(big)


def test_snapshot_restore_round_trip_gives_equal_scores() -> None:
    events = list(normal_days(8))
    a = RiskScorer(first_fit=300)
    for e in events[:400]:
        a.assess(e)
    b = RiskScorer.restore(a.snapshot())
    rest = events[400:] + [
        other("no_sale", f"ns-{k}", END + timedelta(minutes=k), "emp-1") for k in range(8)
    ]
    for e in rest:
        assert a.assess(e) == b.assess(e)
    with pytest.raises(ValueError):
        RiskScorer.restore(b"not a snapshot")


def test_the_supervised_model_waits_for_labels_and_its_version_is_recorded() -> None:
    s = RiskScorer(first_fit=10**9)
    for e in normal_days(10):
        s.assess(e)
    refunds = refunds_to_label(MIN_LABELS + 10, END)
    for e in refunds:
        assert "sup-0" in s.assess(e).version
    # confirmed: the refunds without a receipt; dismissed: those with one
    few = [(e, e.receipt_id is None) for e in refunds[:6]]
    s.learn(few)
    assert "sup-0" in s.version and not s.supervised.fitted  # not enough labels yet
    s.learn([(e, e.receipt_id is None) for e in refunds])
    assert s.version.endswith("sup-1")
    n = len(refunds)
    probe_bad = other("refund", "p-1", END + timedelta(minutes=10 * n), "emp-2", amount=2300)
    probe_ok = other(
        "refund",
        "p-2",
        END + timedelta(minutes=10 * n),
        "emp-2",
        amount=2300,
        receipt_id="conn:store-1-s5",
    )
    bad, ok = s.score(probe_bad), s.score(probe_ok)
    assert bad.version.endswith("sup-1")
    assert bad.score > ok.score
    assert "learned" in codes(bad)
    s.learn([(sale("z", END + timedelta(hours=10), "emp-1"), False)])
    assert s.version.endswith("sup-2")  # retrained: the recorded version changes


def test_state_stays_bounded() -> None:
    s = RiskScorer(max_sales=100, max_customers=50)
    for k, e in enumerate(normal_days(3)):
        s.assess(sale(e.id, e.occurred_at, e.employee_id or "", customer=f"c{k}"))
    assert len(s.sales) <= 100 and len(s.customers) <= 50
