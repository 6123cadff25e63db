"""Shapes with no corpus payload (items, stock, customers, employees, shifts, merchant),
built from the field names in Clover's REST v3 reference; expected values written by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tillwise.connectors.clover import make_connector
from tillwise.domain.catalog import Product, Variant
from tillwise.domain.customers import Customer
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location
from tillwise.domain.staff import Employee, Shift
from tillwise.ports.platform import PayloadError

from ._golden import RECEIVED, delivery

connector = make_connector({})
HREF = "https://api.clover.com/v3/merchants/MERCHANT00001"


def _records(resource: str, obj: dict[str, Any]) -> tuple[Any, ...]:
    body = json.dumps(obj).encode()
    return connector.normalize(delivery(body, f"resource:{resource}", "e:1")).records


def test_item_with_stock_is_product_variant_and_level() -> None:
    product, variant, level = _records(
        "items",
        {
            "id": "ITEM000000001",
            "href": f"{HREF}/items/ITEM000000001",
            "name": "Roast Beef",
            "price": 1499,
            "priceType": "FIXED",
            "code": "4006381333931",
            "modifiedTime": 1700000000000,
            "itemStock": {"quantity": 12.5},
        },
    )
    assert isinstance(product, Product) and isinstance(variant, Variant)
    assert variant.sku == "ITEM000000001" and variant.gtin == "04006381333931"
    assert variant.price is not None and variant.price.amount == 1499
    assert isinstance(level, InventoryLevel)
    assert (level.location_external_id, level.on_hand) == ("MERCHANT00001", Decimal("12.5"))
    assert level.as_of == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_variable_price_item_has_no_price_and_bad_code_no_gtin() -> None:
    _, variant = _records(
        "items", {"id": "ITEM2", "name": "Deli", "price": 0, "priceType": "VARIABLE", "code": "x1"}
    )
    assert variant.price is None and variant.gtin is None


def test_item_stock_uses_received_time_without_modified_time() -> None:
    [level] = _records(
        "item_stocks", {"item": {"id": "ITEM1"}, "quantity": 3, "merchant": {"id": "M1"}}
    )
    assert (level.sku, level.on_hand, level.as_of) == ("ITEM1", Decimal(3), RECEIVED)
    with pytest.raises(PayloadError) as err:
        _records("item_stocks", {"item": {"id": "ITEM1"}, "quantity": 3})
    assert err.value.field == "$"


def test_customer_employee_shift_merchant() -> None:
    [c] = _records(
        "customers",
        {
            "id": "CUST1",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "marketingAllowed": True,
            "emailAddresses": {"elements": [{"emailAddress": "ada@example.com"}]},
            "phoneNumbers": {"elements": [{"phoneNumber": "+15551234567"}]},
            "addresses": {"elements": [{"country": "us"}]},
        },
    )
    assert isinstance(c, Customer)
    assert (c.email, c.phone, c.country_code, c.accepts_marketing) == (
        "ada@example.com",
        "+15551234567",
        "US",
        True,
    )
    [e] = _records(
        "employees",
        {
            "id": "EMP1",
            "name": "Jo Ann Smith",
            "role": "MANAGER",
            "deletedTime": 1,
            "href": f"{HREF}/employees/EMP1",
        },
    )
    assert isinstance(e, Employee)
    assert (e.first_name, e.last_name, e.role, e.active) == ("Jo", "Ann Smith", "MANAGER", False)
    assert e.location_external_ids == ("MERCHANT00001",)
    [s] = _records(
        "shifts",
        {
            "id": "SH1",
            "employee": {"id": "EMP1"},
            "inTime": 1700000000000,
            "overrideInTime": 1699999000000,
            "outTime": 1700003600000,
        },
    )
    assert isinstance(s, Shift)
    assert s.starts_at == datetime.fromtimestamp(1699999000, tz=UTC)
    assert s.ends_at == datetime.fromtimestamp(1700003600, tz=UTC)
    [loc] = _records(
        "merchant",
        {
            "id": "MERCHANT00001",
            "name": "Jeff's",
            "address": {"country": "US"},
            "properties": {"timezone": "America/Los_Angeles"},
        },
    )
    assert isinstance(loc, Location)
    assert (loc.name, loc.time_zone, loc.country_code) == ("Jeff's", "America/Los_Angeles", "US")
