"""Products, variants (the sellable SKU), vendors and their supply terms; GTIN validation and
normalization.

Supply terms have one home each: what a vendor asks of every order (lead time, minimum order
value) on the :class:`Vendor`; what it asks per SKU (unit cost, case pack, minimum order
quantity) on the vendor's :class:`VendorItem` list; a store's shelf limit per SKU on the
:class:`~tillwise.domain.inventory.InventoryLevel` (``max_stock``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import InvalidGtin
from .ids import SourceRecord
from .money import Money


def gtin_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the digits before it (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_gtin(code: str) -> str:
    """Validate a GTIN-8, UPC-A (12), EAN-13 or GTIN-14 and return it as GTIN-14.

    Raises :class:`InvalidGtin` naming what is wrong (length, non-digits, check digit).
    """
    digits = code.strip().replace(" ", "").replace("-", "")
    if not digits.isdigit():
        raise InvalidGtin(f"GTIN {code!r} must contain only digits")
    if len(digits) not in (8, 12, 13, 14):
        raise InvalidGtin(f"GTIN {code!r} must have 8, 12, 13 or 14 digits, not {len(digits)}")
    expected = gtin_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        raise InvalidGtin(f"GTIN {code!r} has check digit {digits[-1]}, expected {expected}")
    return digits.zfill(14)


class Variant(SourceRecord):
    """A sellable item: one SKU (with an optional GTIN) of a product."""

    kind: str = "variant"
    product_external_id: str | None = None
    sku: str = Field(min_length=1, max_length=128)
    name: str
    gtin: str | None = None
    price: Money | None = None
    vendor_external_id: str | None = None

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, v: str | None) -> str | None:
        return None if v in (None, "") else normalize_gtin(v)


class Product(SourceRecord):
    kind: str = "product"
    name: str
    vendor_external_id: str | None = None
    variants: tuple[Variant, ...] = ()


class VendorItem(BaseModel):
    """What one vendor asks for one SKU: its cost, the pack it ships in, its minimum quantity."""

    model_config = ConfigDict(frozen=True)

    sku: str = Field(min_length=1, max_length=128)
    unit_cost: Money | None = None
    case_pack: int = Field(default=1, ge=1)  # order in multiples of this many units
    moq: int = Field(default=0, ge=0)  # minimum order quantity in units (0: none)
    vendor_sku: str | None = None  # the vendor's own code, when it differs


class Vendor(SourceRecord):
    kind: str = "vendor"
    name: str
    email: str | None = None
    lead_time_days: int | None = Field(default=None, ge=0)
    # (omitted from the serialized record while unset: records from before them read the same)
    min_order_value: Money | None = Field(default=None, exclude_if=lambda v: v is None)
    items: tuple[VendorItem, ...] = Field(default=(), exclude_if=lambda v: not v)

    def item(self, sku: str) -> VendorItem | None:
        return next((i for i in self.items if i.sku == sku), None)
