"""Products, variants (the sellable SKU), vendors and their supply terms; GTIN validation and
normalization.

Supply terms have one home each: what a vendor asks of every order (lead time, minimum order
value) on the :class:`Vendor`; what it asks per SKU (unit cost, case pack, minimum order
quantity) on the vendor's :class:`VendorItem` list; a store's shelf limit per SKU on the
:class:`~tillwise.domain.inventory.InventoryLevel` (``max_stock``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import InvalidGtin
from .ids import SourceRecord, SourceRef
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
    # the vendor's order cycle: days between orders to it (None: the retailer's review period)
    review_period_days: int | None = Field(
        default=None, ge=1, le=90, exclude_if=lambda v: v is None
    )
    min_order_value: Money | None = Field(default=None, exclude_if=lambda v: v is None)
    items: tuple[VendorItem, ...] = Field(default=(), exclude_if=lambda v: not v)

    def item(self, sku: str) -> VendorItem | None:
        return next((i for i in self.items if i.sku == sku), None)


def _given(new: object, old: object) -> object:
    return new if new is not None else old


class ItemTerms(BaseModel):
    """The retailer's terms for one SKU of a vendor; a field left None keeps what is known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(min_length=1, max_length=128)
    unit_cost: Money | None = None
    case_pack: int | None = Field(default=None, ge=1)
    moq: int | None = Field(default=None, ge=0)
    vendor_sku: str | None = Field(default=None, max_length=128)

    def merged(self, newer: ItemTerms) -> ItemTerms:
        return ItemTerms(
            sku=self.sku,
            **{f: _given(getattr(newer, f), getattr(self, f)) for f in _ITEM_FIELDS},
        )

    def applied_to(self, item: VendorItem | None) -> VendorItem:
        base = item or VendorItem(sku=self.sku)
        return base.model_copy(
            update={f: _given(getattr(self, f), getattr(base, f)) for f in _ITEM_FIELDS}
        )


_ITEM_FIELDS = ("unit_cost", "case_pack", "moq", "vendor_sku")
_VENDOR_FIELDS = ("name", "email", "lead_time_days", "review_period_days", "min_order_value")
ITEM_TERMS = _ITEM_FIELDS  # what a retailer may set per SKU of a vendor
VENDOR_TERMS = _VENDOR_FIELDS  # and per vendor


@dataclass(frozen=True)
class Cleared:
    """Terms a retailer takes back, so that plans use the POS's values again: vendor fields,
    and fields per SKU."""

    fields: frozenset[str] = frozenset()
    items: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        wrong = sorted(self.fields - set(_VENDOR_FIELDS))
        wrong += sorted(f for fs in self.items.values() for f in fs - set(_ITEM_FIELDS))
        if wrong:
            raise ValueError(f"not a vendor term: {wrong[0]!r}")

    def __bool__(self) -> bool:
        return bool(self.fields) or any(self.items.values())

    def as_dict(self) -> dict[str, list[str] | dict[str, list[str]]]:
        items = {sku: sorted(fs) for sku, fs in sorted(self.items.items()) if fs}
        return {"fields": sorted(self.fields), "items": items}


class VendorTerms(BaseModel):
    """What the retailer told Tillwise about a vendor (``tillwise vendors import``), laid over
    what the POS says of it: Shopify and Square know a vendor's name at most, so its lead time,
    e-mail, minimum order value and per-SKU cost, case pack and MOQ come from here. A field set
    here wins over the POS's (field by field, per SKU for items); a vendor the POS does not
    know is made from these terms alone (it then needs a name)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vendor_external_id: str = Field(min_length=1, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    lead_time_days: int | None = Field(default=None, ge=0, le=365)
    review_period_days: int | None = Field(default=None, ge=1, le=90)  # its order cycle
    min_order_value: Money | None = None
    items: tuple[ItemTerms, ...] = ()

    def merged(self, newer: VendorTerms) -> VendorTerms:
        """These terms with ``newer``'s given fields and items on top."""
        items = {i.sku: i for i in self.items}
        for item in newer.items:
            items[item.sku] = items[item.sku].merged(item) if item.sku in items else item
        return VendorTerms(
            vendor_external_id=self.vendor_external_id,
            items=tuple(items[sku] for sku in sorted(items)),
            **{f: _given(getattr(newer, f), getattr(self, f)) for f in _VENDOR_FIELDS},
        )

    def beyond(self, vendor: Vendor | None) -> VendorTerms | None:
        """Only what these terms change of ``vendor`` as plans see it now (None: nothing), so
        that importing an export back pins nothing the POS may later change."""
        if vendor is None:
            return self
        fields = {f: getattr(self, f) for f in _VENDOR_FIELDS}
        fields = {f: v for f, v in fields.items() if v is not None and v != getattr(vendor, f)}
        items = []
        for terms in self.items:
            now = vendor.item(terms.sku)
            given = {f: getattr(terms, f) for f in _ITEM_FIELDS}
            if now is not None:
                given = {f: v for f, v in given.items() if v != getattr(now, f)}
            given = {f: v for f, v in given.items() if v is not None}
            if given or now is None:
                items.append(ItemTerms(sku=terms.sku, **given))
        if not fields and not items:
            return None
        return VendorTerms(vendor_external_id=self.vendor_external_id, items=tuple(items), **fields)

    def given(self) -> tuple[list[str], dict[str, list[str]]]:
        """The vendor fields these terms set, and the fields they set per SKU."""
        items = {i.sku: [f for f in _ITEM_FIELDS if getattr(i, f) is not None] for i in self.items}
        return [f for f in _VENDOR_FIELDS if getattr(self, f) is not None], items

    def without(self, cleared: Cleared) -> VendorTerms | None:
        """These terms with the ``cleared`` ones taken back (None: nothing is left)."""
        fields = {f: getattr(self, f) for f in _VENDOR_FIELDS if f not in cleared.fields}
        items = []
        for item in self.items:
            gone = cleared.items.get(item.sku, frozenset())
            kept = {f: getattr(item, f) for f in _ITEM_FIELDS if f not in gone}
            if any(v is not None for v in kept.values()):
                items.append(ItemTerms(sku=item.sku, **kept))
        if not items and all(v is None for v in fields.values()):
            return None
        return VendorTerms(vendor_external_id=self.vendor_external_id, items=tuple(items), **fields)

    def applied_to(self, vendor: Vendor | None, connection_id: str) -> Vendor | None:
        """The vendor as plans see it: the POS's record with these terms over it (None: the
        POS does not know it and these terms give it no name)."""
        if vendor is None:
            if not self.name:
                return None
            vendor = Vendor(
                source=SourceRef(
                    platform="tillwise",
                    connection_id=connection_id,
                    external_id=self.vendor_external_id,
                ),
                name=self.name,
            )
        items = {i.sku: i for i in vendor.items}
        for terms in self.items:
            items[terms.sku] = terms.applied_to(items.get(terms.sku))
        return vendor.model_copy(
            update={
                "items": tuple(items[sku] for sku in sorted(items)),
                **{f: _given(getattr(self, f), getattr(vendor, f)) for f in _VENDOR_FIELDS},
            }
        )
