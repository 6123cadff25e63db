"""The compiled isolation forest scores exactly as scikit-learn's."""

from __future__ import annotations

import numpy as np

from tillwise.workflows.risk.models import AnomalyModel


def test_compiled_forest_matches_scikit_learn() -> None:
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(0)
    data = rng.normal(size=(600, 5))
    model = AnomalyModel(seed=3, first_fit=600)
    for row in data:
        model.add(row)
    model.fit()
    reference = IsolationForest(n_estimators=100, max_samples=256, random_state=3).fit(data)
    probes = np.vstack([data[:50], rng.normal(scale=4.0, size=(20, 5))])
    ours = np.array([model.raw(x) for x in probes])
    theirs = -reference.score_samples(probes)
    assert np.allclose(ours, theirs, atol=1e-9)
    far = np.full(5, 8.0)
    weight, q = model.weight(far)
    assert q == 1.0 and weight > 0
    assert model.weight(np.zeros(5))[0] == 0.0
