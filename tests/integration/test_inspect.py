"""`tillwise inspect` on real payloads of every platform: the canonical objects, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tillwise.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
CASES = [  # platform, --topic or --resource, file, a canonical kind it must yield
    (
        "shopify",
        ["--topic", "orders/paid"],
        "shopify/rest_2024-04__order__test_14.json",
        "customer",
    ),
    ("shopify", ["--resource", "orders"], "shopify/rest__order.json", "transaction"),
    ("shopify", ["--topic", "customers/create"], "shopify/rest__customer.json", "customer"),
    (
        "square",
        ["--topic", "customer.created"],
        "square/webhook__customer_created_event.json",
        "customer",
    ),
    ("square", ["--topic", "order.updated"], "square/webhook__order_updated_event.json", None),
    # payments / tenders are records of their own
    (
        "square",
        ["--topic", "payment.created"],
        "square/webhook__payment_created_event.json",
        "payment",
    ),
    ("square", ["--resource", "payments"], "square/api__get_payment_response.json", "payment"),
    ("shopify", ["--resource", "transactions"], "shopify/rest__transaction.json", "payment"),
    (
        "shopify",
        ["--resource", "tender_transactions"],
        "shopify/rest__tender_transactions.json",
        "payment",
    ),
    (
        "clover",
        ["--resource", "payments"],
        "clover/remotepay__payment_preauth_swiped__windows_sample_messages.json",
        "payment",
    ),
    ("clover", ["--topic", "notification"], "clover/webhook__notification_orders__docs.json", None),
    (
        "lightspeed-x",
        ["--topic", "sale.update"],
        "lightspeed_x/webhook__sale_update__docs_example.json",
        None,
    ),
    (
        "lightspeed-x",
        ["--resource", "customers"],
        "lightspeed_x/api2__get_customers__customer_id__200.json",
        "customer",
    ),
    (
        "lightspeed-r",
        ["--resource", "Sale"],
        "lightspeed_r/api__sale_giftcard_load_response__docs_tutorial.json",
        "transaction",
    ),
]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TILLWISE_SECRET_KEY_FILE", str(tmp_path / "k"))
    return CliRunner()


@pytest.mark.parametrize(("platform", "how", "name", "kind"), CASES)
def test_real_payloads_inspect_to_canonical_json(
    cli: CliRunner, platform: str, how: list[str], name: str, kind: str | None
) -> None:
    result = cli.invoke(app, ["inspect", "--platform", platform, *how, str(FIXTURES / name)])
    assert result.exit_code == 0, result.output
    batch = json.loads(result.output)
    assert set(batch) == {"records", "events", "fetches"}
    if kind is not None:
        assert kind in {r["kind"] for r in batch["records"]}
    else:  # a summary or a doorbell: it names what to fetch, or is not a sale yet
        assert batch["fetches"] or batch["records"] == []


def test_a_payload_of_the_wrong_shape_is_named(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "order.json"
    bad.write_text(json.dumps({"id": "x", "line_items": "not a list"}))
    result = cli.invoke(
        app, ["inspect", "--platform", "shopify", "--topic", "orders/create", str(bad)]
    )
    assert result.exit_code == 1 and str(bad) in result.output


def test_currency_is_stated_for_payloads_that_name_none(cli: CliRunner) -> None:
    file = FIXTURES / "lightspeed_x/api2__get_sales__sale_id__200.json"
    args = ["inspect", "--platform", "lightspeed-x", "--resource", "sales"]
    result = cli.invoke(app, [*args, "--currency", "nzd", str(file)])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)["records"]
    assert {r["currency"] for r in records if "currency" in r} == {"NZD"}
    assert "payment" in {r["kind"] for r in records}
