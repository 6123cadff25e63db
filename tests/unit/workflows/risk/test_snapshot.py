"""The scorer's snapshot is a versioned JSON document: a round trip scores identically, and
anything damaged, tampered with, pickled or of another version is refused with a clear error."""

from __future__ import annotations

import json
import pickle
import zlib
from datetime import timedelta

import numpy as np
import pytest

from tillwise.workflows.risk import RiskScorer
from tillwise.workflows.risk.models import MIN_LABELS
from tillwise.workflows.risk.snapshot import MAGIC, VERSION, SnapshotError

from .streams import T0, normal_days, other, refunds_to_label

END = T0 + timedelta(days=8)


def _document(data: bytes) -> dict:
    return json.loads(zlib.decompress(data[len(MAGIC) :]))


def _pack(doc: dict) -> bytes:
    return MAGIC + zlib.compress(json.dumps(doc).encode())


@pytest.fixture(scope="module")
def trained() -> tuple[RiskScorer, list]:
    """A scorer with a fitted isolation forest and a fitted supervised model."""
    s = RiskScorer(first_fit=300)
    events = list(normal_days(8))
    for e in events[:500]:
        s.assess(e)
    refunds = refunds_to_label(MIN_LABELS + 10, END)
    s.learn([(s.assess(e).features, e.receipt_id is None) for e in refunds])
    assert s.anomaly.fitted and s.supervised.fitted
    rest = events[500:] + [
        other("no_sale", f"ns-{k}", END + timedelta(hours=6, minutes=k), "emp-1") for k in range(8)
    ]
    return s, rest


def test_a_round_trip_scores_identically(trained: tuple[RiskScorer, list]) -> None:
    a, rest = trained
    data = a.snapshot()
    assert data.startswith(MAGIC) and b"pickle" not in data
    doc = _document(data)
    assert doc["format"] == "tillwise-risk-scorer" and doc["version"] == VERSION
    b = RiskScorer.restore(data)
    assert b.version == a.version
    assert np.array_equal(a.anomaly.thr, b.anomaly.thr)
    assert np.array_equal(a.supervised.coef, b.supervised.coef)
    assert b.snapshot() == data  # nothing lost or changed
    for e in rest:
        assert a.score(e) == b.score(e)
    for e in rest:
        assert a.assess(e) == b.assess(e)  # and they learn alike from here


def test_damaged_tampered_and_pickled_snapshots_are_refused(
    trained: tuple[RiskScorer, list],
) -> None:
    data = trained[0].snapshot()
    with pytest.raises(SnapshotError, match="not a risk scorer snapshot"):
        RiskScorer.restore(b"not a snapshot")
    old = b"TWRISK1\n" + zlib.compress(pickle.dumps({"review_threshold": 0.5}))
    with pytest.raises(SnapshotError, match="not a risk scorer snapshot"):
        RiskScorer.restore(old)  # the pickle format of earlier builds is never unpickled
    with pytest.raises(SnapshotError, match="damaged"):
        RiskScorer.restore(data[:-40])
    doc = _document(data)
    with pytest.raises(SnapshotError, match="version 99 is not supported"):
        RiskScorer.restore(_pack({**doc, "version": 99}))
    evil = json.loads(json.dumps(doc))
    evil["scorer"]["anomaly"] = {"$c": "os.system", "v": ["echo owned"]}
    with pytest.raises(SnapshotError, match="unknown class 'os.system'"):
        RiskScorer.restore(_pack(evil))
    bad = json.loads(json.dumps(doc))
    bad["scorer"]["review_threshold"] = "0.5"
    with pytest.raises(SnapshotError, match="review_threshold"):
        RiskScorer.restore(_pack(bad))
    extra = json.loads(json.dumps(doc))
    extra["scorer"]["__class__"] = "x"
    with pytest.raises(SnapshotError, match="scorer attributes"):
        RiskScorer.restore(_pack(extra))
    forest = json.loads(json.dumps(doc))
    anomaly = forest["scorer"]["anomaly"]["v"]
    anomaly[anomaly.index(next(x for x in anomaly if isinstance(x, dict) and "$a" in x))] = {
        "$a": "bm90IGFuIGFycmF5"  # "not an array"
    }
    with pytest.raises(SnapshotError, match="damaged array"):
        RiskScorer.restore(_pack(forest))
