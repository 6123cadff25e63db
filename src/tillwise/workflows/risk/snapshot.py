"""The scorer's snapshot: a versioned JSON document, never a pickle.

A snapshot is stored in the database (``risk_scorer_state``), so reading one must never run
code. The document is plain JSON (compressed with zlib behind the magic line ``TWRISK6``)::

    {"format": "tillwise-risk-scorer", "version": 6, "scorer": {...}}

Values are JSON scalars, lists and objects, plus a few tagged shapes, each one key:

* ``{"$t": [...]}`` a tuple; ``{"$m": [[key, value], ...]}`` a dict whose keys are not strings;
* ``{"$q": [...], "maxlen": n}`` a deque;
* ``{"$a": "<base64>"}`` a numpy array, written by ``np.save(..., allow_pickle=False)`` and read
  with ``allow_pickle=False`` (numbers and booleans only); ``{"$qa": ..., "maxlen": n}`` and
  ``{"$da": [keys], "a": ...}`` a deque, and a dict by string, of equal-shaped arrays, stacked
  into one array;
* ``{"$c": "Name", "v": [...]}`` an instance of one of the scorer's own state classes
  (:data:`CLASSES`), its attributes in declared order. Nothing else can be named: the reader
  builds only these classes, sets only their declared attributes and checks the count.

:func:`load` validates the format, the version, every tag and class, the arrays (dtype, shape)
and the models' shapes, and raises :class:`SnapshotError` (a ``ValueError``) naming what is
wrong; the workflow then rebuilds the scorer from recent events.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from collections import deque
from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .baselines import Counters, HourOfWeek, PeerBook, PeerStat, TailStat, TimeWindow
from .models import N_FEATURES, AnomalyModel, SupervisedModel
from .signals import CustomerMemo, EmployeeDay, SaleMemo, StoreState

if TYPE_CHECKING:
    from .scorer import RiskScorer

FORMAT = "tillwise-risk-scorer"
VERSION = 6
MAGIC = b"TWRISK6\n"
MAX_DOCUMENT = 512 * 1024 * 1024  # bytes of JSON after decompression

CLASSES: dict[str, type] = {
    c.__name__: c
    for c in (
        StoreState,
        PeerBook,
        Counters,
        PeerStat,
        TailStat,
        HourOfWeek,
        TimeWindow,
        EmployeeDay,
        SaleMemo,
        CustomerMemo,
        AnomalyModel,
        SupervisedModel,
    )
}


class SnapshotError(ValueError):
    """The bytes are not a snapshot this version can read (damaged, tampered, other format)."""


def _attrs(cls: type) -> tuple[str, ...]:
    if is_dataclass(cls):
        return tuple(f.name for f in fields(cls))
    return tuple(cls.__slots__)  # type: ignore[attr-defined]


_ATTRS = {name: _attrs(cls) for name, cls in CLASSES.items()}


# -- writing ---------------------------------------------------------------------------------


def _npy(a: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _same_arrays(values: list[Any]) -> bool:
    first = values[0] if values else None
    return (
        isinstance(first, np.ndarray)
        and first.dtype.kind in "fiub"
        and all(
            isinstance(v, np.ndarray) and v.shape == first.shape and v.dtype == first.dtype
            for v in values
        )
    )


def _enc(x: Any) -> Any:
    if x is None or isinstance(x, bool | int | float | str):
        return x
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return {"$a": _npy(x)}
    if isinstance(x, list):
        return [_enc(v) for v in x]
    if isinstance(x, tuple):
        return {"$t": [_enc(v) for v in x]}
    if isinstance(x, deque):
        items = list(x)
        if _same_arrays(items):
            return {"$qa": _npy(np.stack(items)), "maxlen": x.maxlen}
        return {"$q": [_enc(v) for v in items], "maxlen": x.maxlen}
    if isinstance(x, dict):
        if all(isinstance(k, str) for k in x):
            values = list(x.values())
            if _same_arrays(values):
                return {"$da": list(x), "a": _npy(np.stack(values))}
            if any(k.startswith("$") for k in x):
                return {"$m": [[k, _enc(v)] for k, v in x.items()]}
            return {k: _enc(v) for k, v in x.items()}
        return {"$m": [[_enc(k), _enc(v)] for k, v in x.items()]}
    name = type(x).__name__
    if CLASSES.get(name) is type(x):
        return {"$c": name, "v": [_enc(getattr(x, a)) for a in _ATTRS[name]]}
    raise TypeError(f"cannot snapshot a {type(x).__qualname__}")


def dump(scorer: RiskScorer) -> bytes:
    doc = {"format": FORMAT, "version": VERSION, "scorer": _enc(dict(vars(scorer)))}
    raw = json.dumps(doc, separators=(",", ":"), allow_nan=True).encode()
    return MAGIC + zlib.compress(raw, 3)


# -- reading ---------------------------------------------------------------------------------


def _array(text: Any) -> np.ndarray:
    if not isinstance(text, str):
        raise SnapshotError("an array must be base64 text")
    try:
        a = np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise SnapshotError(f"a damaged array: {exc}") from exc
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiub":
        raise SnapshotError("arrays hold numbers only")
    return a


def _maxlen(value: Any) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise SnapshotError("a deque's maxlen must be a count or null")
    return value


def _dec(x: Any) -> Any:
    if x is None or isinstance(x, bool | int | float | str):
        return x
    if isinstance(x, list):
        return [_dec(v) for v in x]
    if not isinstance(x, dict):
        raise SnapshotError(f"unexpected JSON value {type(x).__name__}")
    tag = next((k for k in x if k.startswith("$")), None)
    if tag is None:
        return {k: _dec(v) for k, v in x.items()}
    if tag == "$t" and len(x) == 1 and isinstance(x[tag], list):
        return tuple(_dec(v) for v in x[tag])
    if tag == "$m" and len(x) == 1 and isinstance(x[tag], list):
        out = {}
        for pair in x[tag]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise SnapshotError("a mapping entry must be a [key, value] pair")
            key = _dec(pair[0])
            if not isinstance(key, str | int | float | tuple) or key is None:
                raise SnapshotError("a mapping key must be a string, number or tuple")
            out[key] = _dec(pair[1])
        return out
    if tag == "$a" and len(x) == 1:
        return _array(x[tag])
    if tag == "$q" and set(x) == {"$q", "maxlen"} and isinstance(x[tag], list):
        return deque((_dec(v) for v in x[tag]), maxlen=_maxlen(x["maxlen"]))
    if tag == "$qa" and set(x) == {"$qa", "maxlen"}:
        rows = _array(x[tag])
        if rows.ndim < 1:
            raise SnapshotError("stacked arrays need a first axis")
        return deque((r.copy() for r in rows), maxlen=_maxlen(x["maxlen"]))
    if tag == "$da" and set(x) == {"$da", "a"} and isinstance(x[tag], list):
        keys, rows = x[tag], _array(x["a"])
        if rows.ndim < 1 or len(keys) != len(rows) or not all(isinstance(k, str) for k in keys):
            raise SnapshotError("an array mapping's keys do not match its rows")
        return {k: r.copy() for k, r in zip(keys, rows, strict=True)}
    if tag == "$c" and set(x) == {"$c", "v"} and isinstance(x["v"], list):
        name = x[tag]
        cls = CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise SnapshotError(f"unknown class {name!r} in the snapshot")
        attrs = _ATTRS[name]
        if len(x["v"]) != len(attrs):
            raise SnapshotError(f"{name}: expected {len(attrs)} attributes, got {len(x['v'])}")
        obj: Any = object.__new__(cls)
        for attr, value in zip(attrs, x["v"], strict=True):
            object.__setattr__(obj, attr, _dec(value))
        return obj
    raise SnapshotError(f"malformed tagged value {tag!r}")


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise SnapshotError(f"invalid snapshot: {what}")


def _is_array(a: Any, ndim: int, kind: str) -> bool:
    return isinstance(a, np.ndarray) and a.ndim == ndim and a.dtype.kind in kind


def _validate(state: dict[str, Any], expected: set[str]) -> None:
    _check(set(state) == expected, f"scorer attributes {sorted(set(state) ^ expected)}")
    for name in ("review_threshold", "manager_threshold"):
        v = state[name]
        _check(isinstance(v, int | float) and not isinstance(v, bool), f"{name} is a number")
    _check(0.0 < state["review_threshold"] <= state["manager_threshold"] <= 1.0, "the thresholds")
    for name in ("seed", "max_sales", "max_customers", "max_remembered", "events"):
        _check(isinstance(state[name], int) and not isinstance(state[name], bool), name)
    for name in ("stores", "sales", "customers", "observed", "overrides_routed"):
        _check(isinstance(state[name], dict), f"{name} is a mapping")
    _check(
        all(
            isinstance(v, tuple) and len(v) == 3 and all(isinstance(n, int | float) for n in v)
            for v in state["overrides_routed"].values()
        ),
        "overrides_routed",
    )
    _check(all(isinstance(s, StoreState) for s in state["stores"].values()), "stores")
    _check(all(isinstance(s, SaleMemo) for s in state["sales"].values()), "sales")
    _check(all(isinstance(c, CustomerMemo) for c in state["customers"].values()), "customers")
    _check(isinstance(state["chain_amounts"], TailStat), "chain_amounts")
    chain = state["chain"]
    _check(chain is None or all(isinstance(p, PeerStat) for p in dict(chain).values()), "chain")
    an = state["anomaly"]
    _check(isinstance(an, AnomalyModel), "anomaly model")
    _check(all(_is_array(x, 1, "f") for x in an.reservoir), "anomaly reservoir")
    if an.feat is not None:
        forest = (an.feat, an.thr, an.left, an.right, an.leaf)
        _check(all(_is_array(a, 2, "fiu") for a in forest), "isolation forest arrays")
        _check(len({a.shape for a in forest}) == 1, "isolation forest shapes")
        indices: tuple[Any, ...] = (an.feat, an.left, an.right)
        _check(all(a.dtype.kind in "iu" for a in indices), "forest indices are integers")
        n_nodes = an.feat.shape[1]
        _check(bool(((an.feat >= 0) & (an.feat < N_FEATURES)).all()), "forest features")
        for child in (an.left, an.right):
            _check(bool(((child >= -1) & (child < n_nodes)).all()), "forest children")
        _check(isinstance(an.depth, int) and 0 <= an.depth <= n_nodes, "forest depth")
        _check(_is_array(an.train_scores, 1, "f"), "anomaly training scores")
    sup = state["supervised"]
    _check(isinstance(sup, SupervisedModel), "supervised model")
    if sup.coef is not None:
        linear = (sup.mean, sup.std, sup.coef)
        _check(all(_is_array(a, 1, "f") for a in linear), "supervised coefficients")
        _check(len({a.shape for a in linear}) == 1, "supervised shapes")
        _check(_is_array(sup.iso_x, 1, "f") and _is_array(sup.iso_y, 1, "f"), "isotonic steps")
        _check(sup.iso_x.shape == sup.iso_y.shape and len(sup.iso_x) >= 1, "isotonic shapes")
        _check(isinstance(sup.intercept, float | int), "supervised intercept")


def load(data: bytes, cls: type[RiskScorer]) -> RiskScorer:
    """The scorer in ``data``; :class:`SnapshotError` when it is not a valid snapshot."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SnapshotError("a snapshot is bytes")
    data = bytes(data)
    if not data.startswith(MAGIC):
        first = data.split(b"\n", 1)[0][:20]
        raise SnapshotError(f"not a risk scorer snapshot of format {VERSION} (starts {first!r})")
    try:
        inflate = zlib.decompressobj()
        raw = inflate.decompress(data[len(MAGIC) :], MAX_DOCUMENT)
        if inflate.unconsumed_tail:
            raise SnapshotError("the snapshot is larger than allowed")
        doc = json.loads(raw)
    except (zlib.error, ValueError, RecursionError) as exc:
        if isinstance(exc, SnapshotError):
            raise
        raise SnapshotError(f"a damaged snapshot: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SnapshotError("not a risk scorer snapshot")
    if doc.get("version") != VERSION:
        raise SnapshotError(
            f"risk scorer snapshot version {doc.get('version')!r} is not supported "
            f"(this build reads version {VERSION})"
        )
    try:
        state = _dec(doc.get("scorer"))
        if not isinstance(state, dict):
            raise SnapshotError("the scorer is not an object")
        _validate(state, set(vars(cls())))
    except SnapshotError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        raise SnapshotError(f"invalid snapshot: {exc}") from exc
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj
