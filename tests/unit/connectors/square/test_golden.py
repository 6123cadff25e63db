"""Golden tests: every Square corpus payload of a kind Tillwise stores → canonical JSON written
by hand (tests/fixtures/payloads/square/*.expected.json) from Square's documented semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from tillwise.connectors.square.normalize import normalize
from tillwise.ports.platform import PayloadError

from .._coverage import assert_corpus_covered
from ._golden import PAYLOADS, canon, combined, deliveries, load, resolve

CASES = sorted(PAYLOADS.glob("*.expected.json"), key=lambda p: p.name)


# corpus files that hold none of the stored kinds (docs/platforms/square.md, "What becomes what")
NOT_STORED = {
    "api__batch_change_inventory_request.json": "a request Tillwise sends (stock write-back)",
    "api__create_order_request.json": "a request Tillwise sends, not an order that happened",
    "api__refund_payment_request.json": "a request Tillwise sends, not a refund that happened",
    "api__update_customer_request.json": "a request Tillwise sends (customer note write-back)",
    "api__obtain_token_request.json": "an OAuth body (token exchange request)",
    "api__obtain_token_response.json": "an OAuth body (access and refresh tokens)",
    "api__list_cash_drawer_shifts_response.json": (
        "a cash drawer session summary (float, expected vs counted cash): no employee, no "
        "worked time, so not a Shift; no individual drawer opens, so not a no-sale TillEvent "
        "(those are ListCashDrawerShiftEvents NO_SALE entries, not in the corpus)"
    ),
}


def test_every_corpus_payload_of_a_stored_kind_has_a_golden() -> None:
    assert_corpus_covered(
        PAYLOADS,
        NOT_STORED,
        at_least=59,
        # signature vectors, checked by test_verify.py
        ignore=lambda name: name.startswith("square_webhook_"),
    )


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
