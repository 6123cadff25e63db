"""Golden tests: every Square corpus payload of a kind Tillwise stores → canonical JSON written
by hand (tests/fixtures/payloads/square/*.expected.json) from Square's documented semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from tillwise.connectors.square.normalize import normalize
from tillwise.ports.platform import PayloadError

from ._golden import PAYLOADS, canon, combined, deliveries, load, resolve

CASES = sorted(PAYLOADS.glob("*.expected.json"), key=lambda p: p.name)


def _corpus_files() -> set[str]:
    return {p.name for p in PAYLOADS.glob("*.json") if not p.name.endswith(".expected.json")}


def test_every_corpus_payload_of_a_stored_kind_has_a_golden() -> None:
    covered = {load(c)["payload"] for c in CASES}
    not_golden = {  # requests we send, OAuth bodies, signature vectors, cash drawers
        "api__batch_change_inventory_request.json",
        "api__create_order_request.json",
        "api__refund_payment_request.json",
        "api__update_customer_request.json",
        "api__obtain_token_request.json",
        "api__obtain_token_response.json",
        "api__list_cash_drawer_shifts_response.json",
    }
    corpus = {n for n in _corpus_files() if not n.startswith("square_webhook_")}
    assert corpus - not_golden <= covered
    assert len(corpus) >= 59


@pytest.mark.parametrize("case_file", CASES, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_golden(case_file: Path) -> None:
    case = load(case_file)
    items = deliveries(case)
    if "error" in case:
        with pytest.raises(PayloadError) as err:
            for delivery in items:
                normalize(delivery)
        assert err.value.field == case["error"]
        return
    got = combined([normalize(d) for d in items])
    want = resolve({k: case.get(k, []) for k in ("records", "events", "fetches")}, case["event_id"])
    assert canon(got["records"]) == canon(want["records"])
    assert canon(got["events"]) == canon(want["events"])
    assert got["fetches"] == want["fetches"]
