"""GTINs: UPC-A, EAN-13, GTIN-8 and GTIN-14 validated by their check digit, stored as GTIN-14."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tillwise.domain.catalog import Variant, gtin_check_digit, normalize_gtin
from tillwise.domain.errors import InvalidGtin
from tillwise.domain.ids import SourceRef


@pytest.mark.parametrize(
    ("code", "gtin14"),
    [
        ("036000291452", "00036000291452"),  # UPC-A
        ("4006381333931", "04006381333931"),  # EAN-13
        ("96385074", "00000096385074"),  # GTIN-8 (EAN-8)
        ("10036000291459", "10036000291459"),  # GTIN-14 (a case of the UPC-A item)
        (" 4006381-333931 ", "04006381333931"),  # spaces and dashes as printed
    ],
)
def test_valid_codes_normalize_to_gtin_14(code: str, gtin14: str) -> None:
    assert normalize_gtin(code) == gtin14


def test_check_digit() -> None:
    assert gtin_check_digit("03600029145") == 2
    assert gtin_check_digit("400638133393") == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("036000291453", "has check digit 3, expected 2"),
        ("4006381333932", "has check digit 2, expected 1"),
        ("12345", "must have 8, 12, 13 or 14 digits, not 5"),
        ("036000291452000", "must have 8, 12, 13 or 14 digits, not 15"),
        ("03600029145X", "must contain only digits"),
        ("", "must contain only digits"),
    ],
)
def test_bad_codes_are_rejected_saying_why(code: str, message: str) -> None:
    with pytest.raises(InvalidGtin, match=message):
        normalize_gtin(code)


def test_a_variant_stores_its_gtin_normalized_and_refuses_a_bad_one() -> None:
    source = SourceRef(platform="generic", connection_id="c1", external_id="var_1")
    variant = Variant(source=source, sku="SKU-1", name="Blue L", gtin="036000291452")
    assert variant.gtin == "00036000291452"
    assert Variant(source=source, sku="SKU-1", name="Blue L", gtin="").gtin is None
    with pytest.raises(ValidationError, match="expected 2"):
        Variant(source=source, sku="SKU-1", name="Blue L", gtin="036000291453")
