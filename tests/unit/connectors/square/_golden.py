"""The golden harness: a corpus payload → the canonical JSON written by hand beside it.

``<case>.expected.json`` (tests/fixtures/payloads/square/) names its ``payload`` file and:

* a webhook case: ``topic`` and ``event_id`` (what verify must name); the body is signed here
  with a test key and URL, so the pretty-printed corpus copies can go through ``verify``;
* an API case: ``topic`` = ``resource:<name>`` and ``objects_at`` (the key of the response
  holding the object, or the list of objects); each object is normalized as one delivery with
  the case's ``event_id``, and the results are concatenated;
* ``records``, ``events``, ``fetches`` (absent = none), or ``error`` (the PayloadError field).

Placeholders: ``$id:<kind>:<external id>`` = the canonical id; ``$envelope:<kind>:<external
id>`` = the documented envelope id for that subject. Times compare as instants.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tillwise.connectors.square import make_connector
from tillwise.connectors.square.webhooks import SIGNATURE_HEADER, expected_signature
from tillwise.domain.ids import SourceRef
from tillwise.domain.normalized import NormalizedBatch
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import RESOURCE_PREFIX

PAYLOADS = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "square"
# documented in docs/platforms/square.md ("Canonical events")
DOCUMENTED_EVENT_NAMESPACE = uuid.UUID("8b6f0a3e-2c4d-4f7a-9e1b-5d3c7a9f1e24")
KEY = "golden-signature-key"
URL = "https://tillwise.example/webhooks/square/con_sq"
CONNECTION = "con_sq"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
connector = make_connector({})

_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def canonical_id(kind: str, external_id: str) -> str:
    ref = SourceRef(platform="square", connection_id=CONNECTION, external_id=external_id)
    return ref.canonical_id(kind)


def envelope_id(event_id: str, subject: str) -> str:
    key = f"square\x1f{CONNECTION}\x1f{event_id}\x1f{subject}"
    return str(uuid.uuid5(DOCUMENTED_EVENT_NAMESPACE, key))


def canon(value: Any) -> Any:
    """Times as instants (``…41.836Z`` == ``…41.836000Z``), everything else as is."""
    if isinstance(value, dict):
        return {k: canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canon(v) for v in value]
    if isinstance(value, str) and _TIME.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return value


def resolve(value: Any, event_id: str) -> Any:
    if isinstance(value, dict):
        return {k: resolve(v, event_id) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [resolve(v, event_id) for v in value]
    if isinstance(value, str) and value.startswith(("$id:", "$envelope:")):
        tag, kind, external_id = value.split(":", 2)
        cid = canonical_id(kind, external_id)
        return cid if tag == "$id" else envelope_id(event_id, cid)
    return value


def webhook_delivery(body: bytes) -> RawDelivery:
    headers = {SIGNATURE_HEADER: expected_signature(URL, body, KEY)}
    verified = connector.verify(body, headers, [KEY], NOW, url=URL)
    return RawDelivery(
        platform="square",
        connection_id=CONNECTION,
        event_id=verified.event_id,
        topic=verified.topic,
        body=body,
        received_at=NOW,
    )


def resource_deliveries(case: dict[str, Any]) -> list[RawDelivery]:
    body = json.loads((PAYLOADS / case["payload"]).read_bytes())
    found = body[case["objects_at"]]
    objects = found if isinstance(found, list) else [found]
    return [
        RawDelivery(
            platform="square",
            connection_id=CONNECTION,
            event_id=case["event_id"],
            topic=case["topic"],
            body=json.dumps(obj).encode(),
            received_at=NOW,
        )
        for obj in objects
    ]


def deliveries(case: dict[str, Any]) -> list[RawDelivery]:
    if case["topic"].startswith(RESOURCE_PREFIX):
        return resource_deliveries(case)
    delivery = webhook_delivery((PAYLOADS / case["payload"]).read_bytes())
    assert (delivery.event_id, delivery.topic) == (case["event_id"], case["topic"])
    return [delivery]


def combined(batches: list[NormalizedBatch]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"records": [], "events": [], "fetches": []}
    for batch in batches:
        dumped = batch.model_dump(mode="json")
        for key in out:
            out[key] += dumped[key]
    return out


def load(case_file: Path) -> dict[str, Any]:
    return json.loads(case_file.read_text())
