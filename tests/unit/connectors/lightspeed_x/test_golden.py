"""Golden tests: every X-Series corpus payload → canonical records + events, compared with JSON
written by hand in tests/fixtures/payloads/lightspeed_x/*.expected.json (from the documented
semantics in docs/platforms/lightspeed_x.md, not from the code's output)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tillwise.connectors.lightspeed_x import make_connector
from tillwise.connectors.lightspeed_x.webhooks import sign
from tillwise.ports.inbox import RawDelivery

from .._coverage import assert_corpus_covered
from ._golden import (
    CONNECTION,
    FIXTURES,
    RECEIVED,
    SECRET,
    compare,
    form_body,
    resolve,
    resource_body,
)

CASES = sorted(p.name.removesuffix(".expected.json") for p in FIXTURES.glob("*.expected.json"))
connector = make_connector({"client_secret": SECRET})
CONFIG = {"currency": "NZD"}  # the connection's (X-Series objects name no currency)


def test_every_corpus_file_has_a_golden() -> None:
    assert_corpus_covered(FIXTURES, {}, at_least=28)  # every X-Series corpus file is a stored kind


def _deliver(case: dict[str, Any]) -> RawDelivery:
    if "form" in case:
        body = form_body(case["source"], case["form"])
        verified = connector.verify(body, {"X-Signature": sign(body, SECRET)}, [SECRET], RECEIVED)
        assert verified.topic == case["topic"]
        if "event_id_prefix" in case:
            assert verified.event_id.startswith(case["event_id_prefix"])
        else:
            assert verified.event_id == case["event_id"]
        event_id, topic = verified.event_id, verified.topic
    else:
        body, event_id, topic = resource_body(case), case["event_id"], case["topic"]
    return RawDelivery(
        platform="lightspeed-x",
        connection_id=CONNECTION,
        event_id=event_id,
        topic=topic,
        body=body,
        received_at=RECEIVED,
    )


@pytest.mark.parametrize("case_name", CASES)
def test_golden(case_name: str) -> None:
    case = json.loads((FIXTURES / f"{case_name}.expected.json").read_text())
    delivery = _deliver(case)
    batch = connector.normalize(delivery, CONFIG)
    expected = resolve(case, CONNECTION, delivery.event_id)
    problems = compare(
        expected["records"],
        [r.model_dump(mode="json") for r in batch.records],
        [r.model_dump(mode="json", exclude_defaults=True) for r in batch.records],
        "records",
    )
    problems += compare(
        expected["events"],
        [e.model_dump(mode="json") for e in batch.events],
        [e.model_dump(mode="json", exclude_defaults=True) for e in batch.events],
        "events",
    )
    fetches = [f.model_dump(mode="json") for f in batch.fetches]
    if fetches != expected.get("fetches", []):
        problems.append(f"fetches: expected {expected.get('fetches', [])}, got {fetches}")
    assert not problems, "\n".join(problems)
