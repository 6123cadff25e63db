"""Vendor terms from a CSV: what a buyer of a Shopify or Square store (whose POS knows a vendor's
name at most) types into a spreadsheet, read exactly, every mistake named by row and column,
and laid over the POS's vendor field by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tillwise.domain.catalog import Cleared, ItemTerms, Vendor, VendorItem, VendorTerms
from tillwise.domain.ids import SourceRef
from tillwise.domain.money import Money
from tillwise.workflows.replenishment.terms import (
    InvalidTermsFile,
    read_terms,
    write_terms,
)

KNOWN = {"vendor:apple": "Apple", "ven-06": "Far East Homewares"}
HEADER = (
    "vendor,vendor_name,email,lead_time_days,review_period_days,min_order_value,currency,"
    "sku,unit_cost,case_pack,moq,vendor_sku"
)


def gbp(text: str) -> Money:
    return Money.from_decimal(text, "GBP")


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "terms.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def errors_of(path: Path, **kw: object) -> list[str]:
    with pytest.raises(InvalidTermsFile) as err:
        read_terms(path, known=KNOWN, **kw)  # type: ignore[arg-type]
    return err.value.errors


def test_vendors_are_found_by_id_or_name_and_a_new_one_gets_shopifys_id(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "vendor:apple,,orders@apple.example,21,7,,,IPOD2008PINK,120.00,6,12,MB-PINK",
        "  far EAST   homewares ,,,,,250,GBP,,,,,",  # by name, ignoring case and spacing
        "far east homewares,,,,,,,85123A,,24,,",  # only the case pack of this item
        "Bolt & Nut Supply,,,5,,,,B-1,0.40,100,,",  # new: named by its first row
    )
    apple, fareast, bolt = read_terms(path, known=KNOWN, currency="gbp").terms
    assert apple == VendorTerms(
        vendor_external_id="vendor:apple",
        email="orders@apple.example",
        lead_time_days=21,
        review_period_days=7,
        items=(
            ItemTerms(
                sku="IPOD2008PINK",
                unit_cost=gbp("120.00"),
                case_pack=6,
                moq=12,
                vendor_sku="MB-PINK",
            ),
        ),
    )
    assert fareast.vendor_external_id == "ven-06" and fareast.min_order_value == gbp("250")
    assert fareast.items == (ItemTerms(sku="85123A", case_pack=24),)
    assert fareast.name is None and fareast.lead_time_days is None  # not given: unchanged
    assert bolt.vendor_external_id == "vendor:bolt & nut supply"
    assert (bolt.name, bolt.lead_time_days) == ("Bolt & Nut Supply", 5)
    assert bolt.items[0].unit_cost == gbp("0.40")  # --currency for rows without one


def test_every_mistake_is_named_by_file_row_and_column_and_nothing_is_read(
    tmp_path: Path,
) -> None:
    path = csv_file(
        tmp_path,
        "vendor:apple,,not-an-email,21,0,,,A-1,,0,,",
        ",,,,,,,A-2,,,,",
        "vendor:apple,,,14,,,,A-3,1.2x,,-1,",
        "ven-06,,,,,100,,,,,,",
        "ven-06,,,,,,XYZ,A-4,3,,,",
        "ven-06,,,,,,,,2.00,,,",
        "ven-06,,,,,,GBP,A-5,,,,",
        "ven-06,,,,,,GBP,A-5,,2,,",
        "ven-06,,,400,,,,,,,,",
        "ven-06,,,,,,GBP,A-6,0.125,,,",
        "ven-06,,,,,,GBP,A-7,1e30,,,",
        "ven-06,,,,,,GBP,A-8,9999999999999,,,",
        "ven-06,,,,,,,A-9,,1_0,,",  # Python's int() would read 10
    )
    source = str(path)
    assert errors_of(path) == [
        f"{source}: row 2, column 'email': not an e-mail address (got 'not-an-email')",
        f"{source}: row 2, column 'review_period_days': must be between 1 and 90 (got '0')",
        f"{source}: row 2, column 'case_pack': must be between 1 and 1000000 (got '0')",
        f"{source}: row 3, column 'vendor': required (got '')",
        f"{source}: row 4, column 'lead_time_days': differs from row 2 (21) (got 14)",
        f"{source}: row 4, column 'unit_cost': not an amount (got '1.2x')",
        f"{source}: row 4, column 'moq': must be between 0 and 1000000 (got '-1')",
        f"{source}: row 5, column 'min_order_value': an amount needs a currency column or "
        "--currency (got '100')",
        f"{source}: row 6, column 'currency': unknown ISO 4217 currency code 'XYZ' (got 'XYZ')",
        f"{source}: row 7, column 'unit_cost': an item's term needs the row's sku (got '2.00')",
        f"{source}: row 9, column 'sku': listed twice for this vendor (got 'A-5')",
        f"{source}: row 10, column 'lead_time_days': must be between 0 and 365 (got '400')",
        f"{source}: row 11, column 'unit_cost': Decimal('0.125') has more than 2 decimal places "
        "for GBP (got '0.125')",
        f"{source}: row 12, column 'unit_cost': not an amount (got '1e30')",
        f"{source}: row 13, column 'unit_cost': must be an amount from 0 to 1,000,000,000,000 "
        "(got '9999999999999')",
        f"{source}: row 14, column 'case_pack': not a whole number (got '1_0')",
    ]


def test_a_cell_too_long_for_its_column_or_with_a_control_character_is_named(
    tmp_path: Path,
) -> None:
    path = csv_file(
        tmp_path,
        f"ven-06,,,,,,GBP,A-1,1.00,,,{'V' * 200}",
        f"ven-06,{'N' * 300},,,,,,,,,,",
        f"{'W' * 250},,,,,,,,,,,",  # a new vendor's id is 'vendor:' + its name
        "ven-06,,orders@fe.example\x00,,,,,,,,,",
    )
    source = str(path)
    assert errors_of(path) == [
        f"{source}: row 2, column 'vendor_sku': at most 128 characters (got 200) "
        f"(got '{'V' * 60}…')",
        f"{source}: row 3, column 'vendor_name': at most 255 characters (got 300) "
        f"(got '{'N' * 60}…')",
        f"{source}: row 4, column 'vendor': a new vendor's name is at most 248 characters "
        f"(got '{'W' * 60}…')",
        f"{source}: row 5, column 'email': contains a control character "
        "(got 'orders@fe.example\\x00')",
    ]


def test_past_the_first_errors_the_file_says_how_many_there_were(tmp_path: Path) -> None:
    path = csv_file(tmp_path, *[f"ven-06,,,x{k},,,,,,,," for k in range(25)])
    with pytest.raises(InvalidTermsFile) as err:
        read_terms(path, known=KNOWN)
    assert len(err.value.errors) == 20 and err.value.total == 25
    assert str(err.value).endswith("(the first 20 shown)")


def test_a_column_named_twice_is_refused_at_the_header(tmp_path: Path) -> None:
    # the buyer's own SKU and the vendor's code under "SKU": headers match whatever their case
    path = csv_file(tmp_path, "ven-06,85123A,1.40,FE-7731", header="vendor,sku,unit_cost,SKU")
    assert errors_of(path) == [f"{path}: row 1: the column 'sku' is named twice"]


def test_a_file_with_a_misspelt_column_or_no_vendor_column_is_refused_at_its_header(
    tmp_path: Path,
) -> None:
    [message] = errors_of(csv_file(tmp_path, "ven-06,7", header="vendor,leadtime"))
    assert message.startswith(f"{tmp_path / 'terms.csv'}: row 1: unknown column 'leadtime';")
    [message] = errors_of(csv_file(tmp_path, "A-1,2", header="sku,case_pack"))
    assert "row 1: the column 'vendor' is missing" in message
    [message] = errors_of(csv_file(tmp_path, "ven-06,7,extra", header="vendor,lead_time_days"))
    assert "row 2, column '*': 3 cells for 2 columns" in message


def test_terms_lie_over_the_pos_vendor_field_by_field() -> None:
    pos = Vendor(
        source=SourceRef(platform="generic", connection_id="c1", external_id="ven-06"),
        name="Far East Homewares",
        email="orders@far-east.example",
        lead_time_days=14,
        min_order_value=gbp("250.00"),
        items=(VendorItem(sku="85123A", unit_cost=gbp("1.53"), case_pack=12, moq=48),),
    )
    terms = VendorTerms(
        vendor_external_id="ven-06",
        lead_time_days=21,
        items=(ItemTerms(sku="85123A", moq=24), ItemTerms(sku="NEW-1", case_pack=6)),
    )
    vendor = terms.applied_to(pos, "c1")
    assert vendor is not None
    assert (vendor.name, vendor.email, vendor.lead_time_days) == (
        "Far East Homewares",
        "orders@far-east.example",
        21,
    )
    assert vendor.min_order_value == gbp("250.00")
    assert vendor.items == (
        VendorItem(sku="85123A", unit_cost=gbp("1.53"), case_pack=12, moq=24),
        VendorItem(sku="NEW-1", case_pack=6),
    )
    # a vendor only the terms know needs a name
    assert VendorTerms(vendor_external_id="vendor:x").applied_to(None, "c1") is None
    made = VendorTerms(vendor_external_id="vendor:x", name="X").applied_to(None, "c1")
    assert made is not None and made.source.platform == "tillwise" and made.name == "X"
    # a later import changes what it gives and keeps the rest
    later = terms.merged(
        VendorTerms(vendor_external_id="ven-06", items=(ItemTerms(sku="85123A", case_pack=6),))
    )
    assert later.lead_time_days == 21
    assert later.items[0] == ItemTerms(sku="85123A", case_pack=6, moq=24)
    assert later.given() == (
        ["lead_time_days"],
        {"85123A": ["case_pack", "moq"], "NEW-1": ["case_pack"]},
    )
    # taken back: the lead time and 85123A's MOQ go back to the POS's (14 days, 48)
    back = later.without(Cleared(frozenset({"lead_time_days"}), {"85123A": frozenset({"moq"})}))
    assert back is not None
    again = back.applied_to(pos, "c1")
    assert again is not None and again.lead_time_days == 14
    assert again.items[0] == VendorItem(sku="85123A", unit_cost=gbp("1.53"), case_pack=6, moq=48)
    everything = Cleared(
        items={"85123A": frozenset({"case_pack"}), "NEW-1": frozenset({"case_pack"})}
    )
    assert back.without(everything) is None  # nothing left
    with pytest.raises(ValueError, match="not a vendor term: 'colour'"):
        Cleared(items={"85123A": frozenset({"colour"})})


def test_an_export_imports_back_to_the_same_vendors(tmp_path: Path) -> None:
    vendors = [
        Vendor(
            source=SourceRef(platform="generic", connection_id="c1", external_id="ven-06"),
            name="Far East Homewares",
            email="orders@far-east.example",
            lead_time_days=14,
            review_period_days=7,
            min_order_value=gbp("250.00"),
            items=(
                VendorItem(sku="85099B", unit_cost=gbp("1.17"), case_pack=2, moq=4),
                VendorItem(sku="85123A", unit_cost=gbp("1.53"), case_pack=12, moq=48),
            ),
        ),
        Vendor(
            source=SourceRef(platform="shopify", connection_id="c1", external_id="vendor:apple"),
            name="Apple",
        ),
    ]
    path = tmp_path / "out.csv"
    assert write_terms(vendors, path) == 4
    back = read_terms(path, known={v.external_id: v.name for v in vendors}).terms
    # laid over the bare vendors (a name, no terms), the file gives every term back
    bare = {v.external_id: Vendor(source=v.source, name=v.name) for v in vendors}
    rebuilt = {t.vendor_external_id: t.applied_to(bare[t.vendor_external_id], "c1") for t in back}
    assert rebuilt == {v.external_id: v for v in vendors}


def test_only_what_differs_from_the_vendor_as_plans_see_it_is_kept() -> None:
    pos = Vendor(
        source=SourceRef(platform="generic", connection_id="c1", external_id="ven-06"),
        name="Far East Homewares",
        lead_time_days=14,
        items=(VendorItem(sku="85123A", unit_cost=gbp("1.53"), case_pack=12, moq=48),),
    )
    same = VendorTerms(
        vendor_external_id="ven-06",
        name="Far East Homewares",
        lead_time_days=14,
        items=(ItemTerms(sku="85123A", unit_cost=gbp("1.53"), case_pack=12, moq=48),),
    )
    assert same.beyond(pos) is None  # an export imported back pins nothing
    changed = VendorTerms(
        vendor_external_id="ven-06",
        lead_time_days=21,
        items=(ItemTerms(sku="85123A", case_pack=12, moq=24), ItemTerms(sku="NEW-1")),
    )
    assert changed.beyond(pos) == VendorTerms(
        vendor_external_id="ven-06",
        lead_time_days=21,
        items=(ItemTerms(sku="85123A", moq=24), ItemTerms(sku="NEW-1")),
    )
    assert changed.beyond(None) == changed  # a vendor plans do not know yet: all of it


def test_pos_in_a_terms_cell_takes_it_back_and_sets_nothing(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "ven-06,,POS,pos,,Pos,,,,,,",  # e-mail, lead time and minimum order: the POS's again
        "ven-06,,,,7,,,85123A,POS,24,,",  # the item's cost the POS's, its pack set to 24
        "ven-06,,,,,,,22423,,,pos,",  # only a term taken back: no item set
    )
    read = read_terms(path, known=KNOWN)
    [fareast] = read.terms
    assert fareast == VendorTerms(
        vendor_external_id="ven-06",
        review_period_days=7,
        items=(ItemTerms(sku="85123A", case_pack=24),),
    )
    assert read.cleared == {
        "ven-06": Cleared(
            frozenset({"email", "lead_time_days", "min_order_value"}),
            {"85123A": frozenset({"unit_cost"}), "22423": frozenset({"moq"})},
        )
    }
    # a term taken back on one row and given on another is a contradiction, named
    path = csv_file(tmp_path, "ven-06,,,POS,,,,,,,,", "ven-06,,,21,,,,,,,,")
    assert errors_of(path) == [
        f"{path}: row 3, column 'lead_time_days': differs from row 2 (POS) (got 21)"
    ]


def test_amounts_are_read_as_spreadsheets_write_them(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "ven-06,,,,,12.,GBP,A-1,.5,,,")
    [terms] = read_terms(path, known=KNOWN).terms
    assert terms.min_order_value == gbp("12") and terms.items[0].unit_cost == gbp("0.50")
