"""Shared helpers for the Clover tests: fixture paths and the documented id formulas."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tillwise.domain.ids import SourceRef
from tillwise.ports.inbox import RawDelivery

PAYLOADS = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "clover"
# documented in docs/platforms/clover.md ("Canonical events")
DOCUMENTED_EVENT_NAMESPACE = uuid.UUID("5b2e9c1a-7f43-4d8e-b6a0-2c9d4e7f1a38")
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
AUTH = "3b0f2f6e-1c55-4d9e-a9f0-6a1c2f7d9e10"


def batch_key(keys: list[str]) -> str:
    if len(keys) == 1:
        return keys[0]
    return "batch:sha256:" + hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def resolve(value: Any, conn: str, event_id: str) -> Any:
    if isinstance(value, dict):
        return {k: resolve(v, conn, event_id) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [resolve(v, conn, event_id) for v in value]
    if isinstance(value, str) and value.startswith(("$id:", "$envelope:")):
        tag, kind, external_id = value.split(":", 2)
        record_id = SourceRef(
            platform="clover", connection_id=conn, external_id=external_id
        ).canonical_id(kind)
        if tag == "$id":
            return record_id
        key = f"clover\x1f{conn}\x1f{event_id}\x1f{record_id}"
        return str(uuid.uuid5(DOCUMENTED_EVENT_NAMESPACE, key))
    return value


def delivery(body: bytes, topic: str, event_id: str, conn: str = "con_clover") -> RawDelivery:
    return RawDelivery(
        platform="clover",
        connection_id=conn,
        event_id=event_id,
        topic=topic,
        body=body,
        received_at=RECEIVED,
    )


def patched(source: str, patch: dict[str, Any]) -> bytes:
    obj = json.loads((PAYLOADS / source).read_bytes())
    obj.update(patch)
    return json.dumps(obj).encode()
