"""The two learned models beside the rules, both cheap at score time.

* :class:`AnomalyModel` — scikit-learn ``IsolationForest`` over transaction and employee-day
  features (:func:`features`), refit from a bounded reservoir of the stream's recent events.
  After a fit the trees are copied into plain numpy arrays and walked all at once (no
  scikit-learn call on the scoring path). Its output
  is the event's empirical quantile among the training events' scores; only the extreme tail
  (above :data:`ANOMALY_FROM`) becomes a reason, ``anomaly``, with weight up to
  :data:`ANOMALY_MAX`.
* :class:`SupervisedModel` — logistic regression on the same features plus every rule's
  weight, trained from reviewers' decisions once there are enough of both kinds
  (:data:`MIN_LABELS`, :data:`MIN_PER_CLASS`), and calibrated with isotonic regression fitted
  on out-of-fold predictions (so its output is a probability that a reviewer confirms).
  Stored as arrays (coefficients, scaling, the isotonic steps) and applied with a dot product.

Both carry a version that changes with every fit; the scorer records them with every score.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .events import RiskEvent
from .signals import RULE_CODES, EmployeeDay, Facts

FEATURES = (
    "kind_sale",
    "kind_refund",
    "kind_void",
    "kind_no_sale",
    "kind_price_override",
    "amount_vs_store_median",  # log((amount + 1) / (store median sale + 1))
    "discount_share",
    "override",
    "lines",  # log1p
    "tenders",
    "keyed_card",
    "gift_card_lines",
    "hour_rarity",  # -log(activity of this hour vs the average hour)
    "no_receipt",
    "no_customer",
    "emp_day_events",  # log1p of what the employee did today, before this event
    "emp_day_refunds",
    "emp_day_no_sales",
    "emp_day_voids",
    "emp_day_overrides",
    "emp_day_discounted",
)
N_FEATURES = len(FEATURES)
ANOMALY_FROM, ANOMALY_TO = 0.997, 0.9998  # quantiles of the training scores
ANOMALY_MAX = 0.35
MIN_LABELS = 20
MIN_PER_CLASS = 5


def features(
    e: RiskEvent, f: Facts, day: EmployeeDay | None, store_median: float, hour_share: float
) -> np.ndarray:
    kind = e.kind
    x = np.zeros(N_FEATURES)
    x[0] = kind in ("sale", "cart")
    x[1] = kind == "refund"
    x[2] = kind == "void"
    x[3] = kind == "no_sale"
    x[4] = kind == "price_override"
    x[5] = math.log((e.amount + 1.0) / (store_median + 1.0)) if kind != "no_sale" else 0.0
    x[6] = f.disc_frac
    x[7] = 1.0 if e.override_count else 0.0
    x[8] = math.log1p(len(e.lines))
    x[9] = len(e.tenders)
    x[10] = f.keyed
    x[11] = f.gift_lines > 0
    x[12] = -math.log(min(max(hour_share, 0.0), 4.0) + 0.01)
    x[13] = f.receipt_status in ("none", "unknown", "exceeds")
    x[14] = e.customer_id is None
    if day is not None:
        x[15] = math.log1p(day.events)
        x[16] = math.log1p(day.refunds)
        x[17] = math.log1p(day.no_sales)
        x[18] = math.log1p(day.voids)
        x[19] = math.log1p(day.overrides)
        x[20] = math.log1p(day.discounted)
    return x


def _c(n: float) -> float:
    """Average path length of an unsuccessful search in a binary search tree of n points."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n


@dataclass
class AnomalyModel:
    """Isolation forest, refit from the stream; scored from numpy arrays."""

    seed: int = 0
    n_trees: int = 100
    max_samples: int = 256
    reservoir_size: int = 8192
    first_fit: int = 2000
    refit_every: int = 20000
    version: int = 0  # fits so far
    seen: int = 0
    since_fit: int = 0
    reservoir: deque[np.ndarray] = field(default_factory=deque)
    # the compiled forest
    feat: np.ndarray | None = None
    thr: np.ndarray | None = None
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    leaf: np.ndarray | None = None
    depth: int = 0
    norm: float = 1.0
    train_scores: np.ndarray | None = None

    def add(self, x: np.ndarray) -> bool:
        """Keep ``x`` for the next fit; ``True`` when a refit is due."""
        self.reservoir.append(x)
        if len(self.reservoir) > self.reservoir_size:
            self.reservoir.popleft()
        self.seen += 1
        self.since_fit += 1
        if self.version == 0:
            return self.seen >= self.first_fit
        return self.since_fit >= self.refit_every

    def fit(self) -> None:
        from sklearn.ensemble import IsolationForest

        data = np.vstack(list(self.reservoir))
        forest = IsolationForest(
            n_estimators=self.n_trees,
            max_samples=min(self.max_samples, len(data)),
            random_state=self.seed + self.version,
        ).fit(data)
        trees = [est.tree_ for est in forest.estimators_]
        n_nodes = max(t.node_count for t in trees)
        shape = (len(trees), n_nodes)
        feat = np.zeros(shape, dtype=np.intp)
        thr = np.zeros(shape)
        left = np.full(shape, -1, dtype=np.intp)
        right = np.full(shape, -1, dtype=np.intp)
        leaf = np.zeros(shape)
        depth = 0
        for i, (t, cols) in enumerate(zip(trees, forest.estimators_features_, strict=True)):
            k = t.node_count
            cols = np.asarray(cols)
            internal = t.children_left[:k] >= 0
            feat[i, :k] = np.where(internal, cols[np.maximum(t.feature[:k], 0)], 0)
            thr[i, :k] = t.threshold[:k]
            left[i, :k] = t.children_left[:k]
            right[i, :k] = t.children_right[:k]
            d = np.zeros(k)
            stack = [0]
            while stack:
                node = stack.pop()
                if t.children_left[node] >= 0:
                    for child in (t.children_left[node], t.children_right[node]):
                        d[child] = d[node] + 1
                        stack.append(child)
            depth = max(depth, int(d.max()) + 1)
            sizes = t.n_node_samples[:k]
            leaf[i, :k] = d + np.array([_c(float(n)) for n in sizes])
        self.feat, self.thr, self.left, self.right, self.leaf = feat, thr, left, right, leaf
        self.depth = depth
        self.norm = _c(float(min(self.max_samples, len(data))))
        self.version += 1
        self.since_fit = 0
        self.train_scores = np.sort(np.array([self.raw(x) for x in data]))

    @property
    def fitted(self) -> bool:
        return self.feat is not None

    def raw(self, x: np.ndarray) -> float:
        """The isolation score ``2 ** (-E[h(x)] / c(n))`` (higher = more anomalous)."""
        assert self.feat is not None and self.thr is not None and self.leaf is not None
        assert self.left is not None and self.right is not None
        rows = np.arange(self.feat.shape[0])
        node = np.zeros(self.feat.shape[0], dtype=np.intp)
        for _ in range(self.depth):
            lft = self.left[rows, node]
            inner = lft >= 0
            if not inner.any():
                break
            go_left = x[self.feat[rows, node]] <= self.thr[rows, node]
            nxt = np.where(go_left, lft, self.right[rows, node])
            node = np.where(inner, nxt, node)
        path = float(self.leaf[rows, node].mean())
        return 2.0 ** (-path / self.norm) if self.norm > 0 else 0.5

    def quantile(self, x: np.ndarray) -> float:
        """Share of the training events less anomalous than ``x``."""
        if self.train_scores is None or not len(self.train_scores):
            return 0.0
        s = self.raw(x)
        return float(np.searchsorted(self.train_scores, s, side="left")) / len(self.train_scores)

    def weight(self, x: np.ndarray) -> tuple[float, float]:
        """(weight of the ``anomaly`` reason, quantile)."""
        if not self.fitted:
            return 0.0, 0.0
        q = self.quantile(x)
        if q <= ANOMALY_FROM:
            return 0.0, q
        return ANOMALY_MAX * min(1.0, (q - ANOMALY_FROM) / (ANOMALY_TO - ANOMALY_FROM)), q


def supervised_vector(
    x: np.ndarray, rule_weights: dict[str, float], anomaly_q: float
) -> np.ndarray:
    rules = np.array([rule_weights.get(code, 0.0) for code in RULE_CODES])
    return np.concatenate([x, rules, [anomaly_q]])


@dataclass
class SupervisedModel:
    """Calibrated logistic regression over features and rule weights, from reviewers' labels."""

    version: int = 0
    n_labels: int = 0
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    coef: np.ndarray | None = None
    intercept: float = 0.0
    iso_x: np.ndarray | None = None
    iso_y: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.coef is not None

    @staticmethod
    def enough(labels: Sequence[bool]) -> bool:
        pos = sum(1 for y in labels if y)
        neg = len(labels) - pos
        return len(labels) >= MIN_LABELS and pos >= MIN_PER_CLASS and neg >= MIN_PER_CLASS

    def fit(self, xs: np.ndarray, ys: np.ndarray, seed: int = 0) -> None:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        mean = xs.mean(axis=0)
        std = xs.std(axis=0)
        std[std < 1e-9] = 1.0
        z = (xs - mean) / std
        lr = LogisticRegression(C=0.3, class_weight="balanced", max_iter=2000)
        folds = int(min(5, ys.sum(), len(ys) - ys.sum()))
        cv = StratifiedKFold(n_splits=max(2, folds), shuffle=True, random_state=seed)
        oof = cross_val_predict(lr, z, ys, cv=cv, method="decision_function")
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, ys)
        lr.fit(z, ys)
        self.mean, self.std = mean, std
        self.coef = lr.coef_[0].copy()
        self.intercept = float(lr.intercept_[0])
        self.iso_x = np.asarray(iso.X_thresholds_, dtype=float)
        self.iso_y = np.asarray(iso.y_thresholds_, dtype=float)
        self.version += 1
        self.n_labels = len(ys)

    def predict(self, v: np.ndarray) -> float:
        assert self.coef is not None and self.mean is not None and self.std is not None
        assert self.iso_x is not None and self.iso_y is not None
        d = float(((v - self.mean) / self.std) @ self.coef + self.intercept)
        return float(np.interp(d, self.iso_x, self.iso_y))

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "labels": self.n_labels}
