"""Shared helpers: the corpus fixtures, webhook form bodies, and the golden comparison."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tillwise.domain.ids import SourceRef

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "lightspeed_x"
CONNECTION = "con_lsx"
RECEIVED = datetime(2024, 3, 1, tzinfo=UTC)
SECRET = "lsx_client_secret"
# documented in docs/platforms/lightspeed_x.md ("Canonical events")
DOCUMENTED_EVENT_NAMESPACE = uuid.UUID("5c2b7f0e-8d14-4a36-b9e2-71f04c3a8d62")


def form_body(payload_file: str, fields: dict[str, str] | None = None) -> bytes:
    """A webhook delivery as Lightspeed sends it: the docs' JSON in the form field payload."""
    payload = (FIXTURES / payload_file).read_text()
    return urlencode({**(fields or {}), "payload": payload}).encode()


def resource_body(case: dict[str, Any]) -> bytes:
    raw = (FIXTURES / case["source"]).read_bytes()
    if not case.get("embed"):
        return raw
    obj = json.loads(raw)["data"]
    for key, other in case["embed"].items():
        obj[key] = json.loads((FIXTURES / other).read_text())["data"]
    return json.dumps(obj).encode()


def resolve(value: Any, connection_id: str, event_id: str) -> Any:
    if isinstance(value, dict):
        return {
            k: resolve(v, connection_id, event_id)
            for k, v in value.items()
            if not k.startswith("_")
        }
    if isinstance(value, list):
        return [resolve(v, connection_id, event_id) for v in value]
    if isinstance(value, str) and value.startswith("$id:"):
        _, kind, external_id = value.split(":", 2)
        ref = SourceRef(
            platform="lightspeed-x", connection_id=connection_id, external_id=external_id
        )
        return ref.canonical_id(kind)
    if isinstance(value, str) and value.startswith("$envelope:"):
        _, kind, external_id = value.split(":", 2)
        key = f"lightspeed-x\x1f{connection_id}\x1f{event_id}\x1f{kind}:{external_id}"
        return str(uuid.uuid5(DOCUMENTED_EVENT_NAMESPACE, key))
    return value


def _same_scalar(expected: Any, actual: Any) -> bool:
    if expected == actual:
        return True
    if isinstance(expected, str) and isinstance(actual, str):
        try:
            return Decimal(expected) == Decimal(actual)
        except InvalidOperation:
            pass
        try:
            return datetime.fromisoformat(expected) == datetime.fromisoformat(actual)
        except ValueError:
            return False
    return False


def compare(expected: Any, full: Any, nondefault: Any, path: str = "$") -> list[str]:
    """Differences between the hand-written expectation and a dump. A key the expectation
    leaves out must hold its model default (absent from the exclude_defaults dump)."""
    if isinstance(expected, dict):
        if not isinstance(full, dict):
            return [f"{path}: expected an object, got {full!r}"]
        out = []
        nd = nondefault if isinstance(nondefault, dict) else {}
        for key, value in expected.items():
            if key not in full:
                out.append(f"{path}.{key}: missing")
            else:
                out += compare(value, full[key], nd.get(key, {}), f"{path}.{key}")
        out += [
            f"{path}.{k}: unexpected {full[k]!r}" for k in full if k not in expected and k in nd
        ]
        return out
    if isinstance(expected, list):
        if not isinstance(full, list) or len(full) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {full!r}"]
        nd = nondefault if isinstance(nondefault, list) else [{}] * len(full)
        nd = nd + [{}] * (len(full) - len(nd))
        out = []
        for i, (e, f) in enumerate(zip(expected, full, strict=True)):
            out += compare(e, f, nd[i], f"{path}[{i}]")
        return out
    return [] if _same_scalar(expected, full) else [f"{path}: expected {expected!r}, got {full!r}"]
