"""PiiTokenizer: what is replaced, what is left alone, stability, and exact restoration."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tillwise.ai.pii import TOKEN_PATTERN, PiiKind, PiiTokenizer, luhn_valid

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads" / "pii"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def tokens_in(text: str) -> list[str]:
    return [m.group(0) for m in TOKEN_PATTERN.finditer(text)]


# --------------------------------------------------------------------------- worked examples


def test_person_names_under_personal_keys_and_in_a_note() -> None:
    tok = PiiTokenizer()
    order = {
        "customer": {"first_name": "Jan", "last_name": "Fisher", "note": "VIP"},
        "note": "Jan Fisher asked for gift wrap; call Jan before 5pm",
    }
    out = tok.tokenize_data(order)
    assert out["customer"] == {
        "first_name": "<<PERSON_1>>",
        "last_name": "<<PERSON_2>>",
        "note": "VIP",
    }
    # The full name in the note is one placeholder (longest first); the first name alone is
    # the first name's placeholder.
    assert out["note"] == "<<PERSON_3>> asked for gift wrap; call <<PERSON_1>> before 5pm"
    assert tok.restore_data(out) == order


def test_name_key_counts_only_inside_a_person() -> None:
    tok = PiiTokenizer()
    data = {
        "line_items": [{"name": "IPod Nano - 8gb - green", "sku": "IPOD2008GREEN"}],
        "tax_lines": [{"title": "State Tax", "name": "GST"}],
        "shipping_address": {"name": "Jan Fisher", "country": "United States"},
        "vendor": {"name": "Macro Brewing", "contacts": [{"name": "Joe Burrow"}]},
        "supplier": {"name": "Joe's Fresh Seafood"},
    }
    out = tok.tokenize_data(data)
    assert out["line_items"] == data["line_items"]
    assert out["tax_lines"] == data["tax_lines"]
    assert out["shipping_address"] == {"name": "<<PERSON_1>>", "country": "United States"}
    assert out["vendor"]["name"] == "Macro Brewing"  # a business, not a person
    assert out["vendor"]["contacts"] == [{"name": "<<PERSON_2>>"}]  # its contact is a person
    # A business name is not a person's, but a known name inside it is still replaced.
    assert out["supplier"] == {"name": "<<PERSON_3>>'s Fresh Seafood"}
    assert tok.restore_data(out) == data


def test_name_key_counts_in_an_object_that_has_a_first_or_last_name() -> None:
    tok = PiiTokenizer()
    out = tok.tokenize_data({"data": {"first_name": "Anthony", "name": "Anthony Stark"}})
    assert out == {"data": {"first_name": "<<PERSON_1>>", "name": "<<PERSON_2>>"}}


def test_emails_structured_and_in_free_text() -> None:
    tok = PiiTokenizer()
    out = tok.tokenize_data(
        {
            "payment": {"buyer_email_address": "amelia.earhart@example.com"},
            "contact_email": "bob.norman@mail.example.com",
            "note": (
                "Receipt re-sent to AMELIA.EARHART@example.com "
                "and to jan.fisher+pos@shop.example.org."
            ),
            "do_not_email": False,
        }
    )
    assert out["payment"] == {"buyer_email_address": "<<EMAIL_1>>"}
    assert out["contact_email"] == "<<EMAIL_2>>"
    assert out["note"] == "Receipt re-sent to <<EMAIL_1>> and to <<EMAIL_3>>."
    assert out["do_not_email"] is False


@pytest.mark.parametrize(
    "phone",
    [
        "+1 650-354-7217",
        "+1(502)-459-2181",
        "+12126668929",
        "+557734881234",
        "(639) 372 1289",
        "555-625-1199",
        "1-212-555-4250",
        "555 625 1199",
        "+44 20 7946 0958",
        "020 7946 0958",
        "+001 555 12345678",
    ],
)
def test_phone_numbers_in_free_text(phone: str) -> None:
    tok = PiiTokenizer()
    text = f"Customer called from {phone}, please ring back."
    out = tok.tokenize_text(text)
    assert out == "Customer called from <<PHONE_1>>, please ring back."
    assert tok.restore_text(out) == text


def test_a_known_phone_is_found_however_it_is_written() -> None:
    tok = PiiTokenizer()
    tok.collect({"customer": {"phone": "+16136120707", "mobile": "021111111"}})
    out = tok.tokenize_text(
        "Tried 613.612.0707 and (613) 612-0707, then 021 111 111 and 021111111."
    )
    assert out == "Tried <<PHONE_1>> and <<PHONE_1>>, then <<PHONE_2>> and <<PHONE_2>>."
    assert (
        tok.restore_text(out)
        == "Tried +16136120707 and +16136120707, then 021111111 and 021111111."
    )


def test_addresses_of_people_but_not_of_the_store() -> None:
    tok = PiiTokenizer()
    data = {
        "billing_address": {
            "address1": "512 Ernestina Forks",
            "address2": "Apt. 702",
            "city": "Lakefurt",
            "zip": "24093",
            "province": "Virginia",
            "province_code": "VA",
            "country": "United States",
            "country_code": "US",
        },
        "location": {"address1": "50 Rideau Street", "city": "Ottawa", "zip": "K1N 9J7"},
        "customer": {"address": {"address_line_1": "1018 40th Street", "postal_code": "94608"}},
    }
    out = tok.tokenize_data(data)
    assert out["billing_address"] == {
        "address1": "<<ADDRESS_1>>",
        "address2": "<<ADDRESS_2>>",
        "city": "<<ADDRESS_3>>",
        "zip": "<<ADDRESS_4>>",
        "province": "<<ADDRESS_5>>",
        "province_code": "VA",
        "country": "United States",
        "country_code": "US",
    }
    assert out["location"] == data["location"]
    assert out["customer"]["address"] == {
        "address_line_1": "<<ADDRESS_6>>",
        "postal_code": "<<ADDRESS_7>>",
    }
    assert tok.tokenize_text("Ship to 512 Ernestina Forks, Lakefurt") == (
        "Ship to <<ADDRESS_1>>, <<ADDRESS_3>>"
    )


def test_card_digits_structured_and_in_free_text() -> None:
    tok = PiiTokenizer()
    data = {
        "card_details": {
            "card": {"bin": "411111", "last_4": "1111", "card_brand": "VISA", "exp_year": 2022}
        },
        "cardTransaction": {"last4": "9571", "cardType": "MC", "authCode": "531067"},
        "payment_details": {"credit_card_number": "XXXX-XXXX-XXXX-4242"},
    }
    out = tok.tokenize_data(data)
    assert out["card_details"]["card"] == {
        "bin": "<<CARD_1>>",
        "last_4": "<<CARD_2>>",
        "card_brand": "VISA",
        "exp_year": 2022,
    }
    assert out["cardTransaction"] == {"last4": "<<CARD_3>>", "cardType": "MC", "authCode": "531067"}
    assert out["payment_details"] == {"credit_card_number": "<<CARD_4>>"}
    text = (
        "Paid with 4111 1111 1111 1111 (Luhn-valid), disputes the card ending in 9571 and the "
        "one shown as •••• •••• •••• 4242; gift card **********8904."
    )
    assert tok.tokenize_text(text) == (
        "Paid with <<CARD_5>> (Luhn-valid), disputes the card ending in <<CARD_3>> and the "
        "one shown as <<CARD_6>>; gift card <<CARD_7>>."
    )


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("5500000000000004")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("41111111111a1111")


def test_a_16_digit_number_that_fails_luhn_is_not_a_card() -> None:
    tok = PiiTokenizer()
    text = "Order 4000000000000001 and PO 5105 1051 0510 5101 ship today; card 5105 1051 0510 5100."
    assert not luhn_valid("4000000000000001") and not luhn_valid("5105105105105101")
    assert tok.tokenize_text(text) == (
        "Order 4000000000000001 and PO 5105 1051 0510 5101 ship today; card <<CARD_1>>."
    )


def test_a_card_number_sent_as_a_json_number_under_an_unknown_key() -> None:
    tok = PiiTokenizer()
    out = tok.tokenize_data({"ref": 4111111111111111, "order_id": 4000000000000001})
    assert out == {"ref": "<<CARD_1>>", "order_id": 4000000000000001}


def test_loyalty_ids_but_not_balances() -> None:
    tok = PiiTokenizer()
    data = {
        "customer": {
            "loyalty_id": "LOY-88231",
            "customer_code": "Tony-N4ZJ",
            "membership_number": 7731009,
            "loyalty_balance": "8.60337",
            "enable_loyalty": True,
            "points": 0,
        },
        "line_items": [{"loyalty_value": "65.00000"}],
    }
    out = tok.tokenize_data(data)
    assert out["customer"] == {
        "loyalty_id": "<<LOYALTY_1>>",
        "customer_code": "<<LOYALTY_2>>",
        "membership_number": "<<LOYALTY_3>>",
        "loyalty_balance": "8.60337",
        "enable_loyalty": True,
        "points": 0,
    }
    assert out["line_items"] == data["line_items"]
    assert tok.tokenize_text("member LOY-88231 earned 20 points") == (
        "member <<LOYALTY_1>> earned 20 points"
    )
    assert tok.restore_data(out) == data  # 7731009 comes back as an int


def test_birth_date_and_other_personal_attributes() -> None:
    tok = PiiTokenizer()
    data = {
        "customer": {
            "birthday": "1962-03-04",
            "gender": "F",
            "twitter": "@ironman",
            "created_at": "2022-11-09T21:23:25.519Z",
        },
        "browser_ip": "203.0.113.7",
    }
    out = tok.tokenize_data(data)
    assert out["customer"] == {
        "birthday": "<<BIRTHDATE_1>>",
        "gender": "<<PERSONAL_1>>",
        "twitter": "<<PERSONAL_2>>",
        "created_at": "2022-11-09T21:23:25.519Z",
    }
    assert out["browser_ip"] == "<<PERSONAL_3>>"


def test_known_values_are_matched_case_insensitively_and_longest_first() -> None:
    tok = PiiTokenizer()
    tok.collect({"customer": {"first_name": "Bob", "last_name": "Norman", "name": "Bob Norman"}})
    out = tok.tokenize_text(
        "BOB NORMAN complained; bob said Norman's order was late. Bobby is not Bob."
    )
    assert out == (
        "<<PERSON_1>> complained; <<PERSON_2>> said <<PERSON_3>>'s order was late. "
        "Bobby is not <<PERSON_2>>."
    )
    assert tok.restore_text(out) == (
        "Bob Norman complained; Bob said Norman's order was late. Bobby is not Bob."
    )


def test_add_known_covers_a_name_only_the_caller_knows() -> None:
    tok = PiiTokenizer()
    tok.add_known(PiiKind.PERSON, "Amelia Earhart")
    assert tok.tokenize_text("Shift swap: Earhart covers Amelia's Sunday.") == (
        "Shift swap: <<PERSON_1>> covers <<PERSON_2>>'s Sunday."
    )


def test_generic_placeholder_values_are_not_searched_for_in_free_text() -> None:
    tok = PiiTokenizer()
    out = tok.tokenize_data(
        {"employee": {"name": "Employee"}, "customer": {"customer_code": "WALKIN"}}
    )
    assert out == {
        "employee": {"name": "<<PERSON_1>>"},
        "customer": {"customer_code": "<<LOYALTY_1>>"},
    }
    text = "Which employee served the walkin customer?"
    assert tok.tokenize_text(text) == text


# --------------------------------------------------------------------------- not personal data


def test_amounts_skus_dates_and_ids_are_left_alone() -> None:
    tok = PiiTokenizer()
    tok.collect({"card": {"last_4": "1111"}, "billing_address": {"zip": "40202"}})
    text = (
        "Order #1001 (id 450789469, gid://shopify/Order/450789469) at store L88917AVBK2S5, "
        "location 0624dbcd-ef13-11e6-e986-ed86b4f36850: 3 x IPOD2008GREEN at 199.00 USD, "
        "total 1111.00, tax 11.94, discount -10.00, amount 40202.50 cents 59894; placed "
        "2008-01-10T11:00:00-05:00, due 2024-06-01, at 19:34:33.680Z (epoch 1442511045512); "
        "qty +5; rate 0.06; version 5307658013; tracking 1Z2345; SKU 8-45-123-4567."
    )
    assert tok.tokenize_text(text) == text


def test_structured_non_personal_values_keep_their_types() -> None:
    tok = PiiTokenizer()
    order = load("shopify__rest_2024-04__order__test_14.json")["order"]
    out = tok.tokenize_data(order)
    for key in (
        "id", "name", "order_number", "total_price", "currency", "created_at", "location_id",
        "total_price_set", "line_items", "tax_lines", "discount_codes", "financial_status",
    ):  # fmt: skip
        assert out[key] == order[key], key
    assert out["customer"]["id"] == order["customer"]["id"]  # ids are references, kept


# --------------------------------------------------------------------------- stability


def test_same_value_same_placeholder_within_a_session() -> None:
    tok = PiiTokenizer()
    data = tok.tokenize_data(
        {
            "customer": {"email": "Bob.Norman@Mail.Example.com"},
            "order": {"email": "bob.norman@mail.example.com"},
        }
    )
    assert data["customer"]["email"] == data["order"]["email"] == "<<EMAIL_1>>"
    assert tok.tokenize_text("write to bob.norman@mail.example.com") == "write to <<EMAIL_1>>"
    # A placeholder restores to the first-seen spelling.
    assert tok.restore_text("<<EMAIL_1>>") == "Bob.Norman@Mail.Example.com"


def test_sessions_number_independently_without_a_key() -> None:
    first, second = PiiTokenizer(), PiiTokenizer()
    assert first.tokenize_text("a@example.com b@example.com") == "<<EMAIL_1>> <<EMAIL_2>>"
    assert second.tokenize_text("b@example.com") == "<<EMAIL_1>>"
    assert second.restore_text("<<EMAIL_1>> <<EMAIL_2>>") == "b@example.com <<EMAIL_2>>"


def test_keyed_placeholders_are_stable_across_sessions() -> None:
    key = b"k" * 32
    one = PiiTokenizer(key=key).tokenize_text("mail jan@example.org, then amelia@example.com")
    two = PiiTokenizer(key=key).tokenize_text("mail amelia@example.com")
    other = PiiTokenizer(key=b"x" * 32).tokenize_text("mail amelia@example.com")
    amelia_one, amelia_two = tokens_in(one)[1], tokens_in(two)[0]
    assert amelia_one == amelia_two
    assert re.fullmatch(r"<<EMAIL_[0-9a-f]{10}>>", amelia_one)
    assert tokens_in(one)[0] != amelia_one
    assert tokens_in(other)[0] != amelia_one


# --------------------------------------------------------------------------- restoring


def test_round_trip_of_a_real_payload_is_exact() -> None:
    for name in sorted(p.name for p in PAYLOADS.glob("*.json")):
        tok = PiiTokenizer()
        payload = load(name)
        out = tok.tokenize_data(payload)
        assert out != payload, name
        assert tok.restore_data(out) == payload, name


def test_restores_only_placeholders_this_session_issued() -> None:
    tok = PiiTokenizer()
    text = tok.tokenize_text("Call jan@example.org")
    answer = f"I emailed {tokens_in(text)[0]} and <<PERSON_9>>; <<EMAIL_1 >> stays."
    assert (
        tok.restore_text(answer)
        == "I emailed jan@example.org and <<PERSON_9>>; <<EMAIL_1 >> stays."
    )


def test_placeholders_already_in_text_are_not_tokenized_again() -> None:
    tok = PiiTokenizer()
    tok.add_known(PiiKind.PERSON, "Person")
    once = tok.tokenize_text("Person called")
    assert once == "<<PERSON_1>> called"
    assert tok.tokenize_text(once) == once


def test_shopify_order_personal_fields_are_all_replaced() -> None:
    order = load("shopify__rest_2024-04__order__test_14.json")["order"]
    personal = [
        order["email"],
        order["contact_email"],
        order["phone"],
        order["browser_ip"],
        order["customer"]["first_name"],
        order["customer"]["last_name"],
        order["customer"]["phone"],
        order["customer"]["default_address"]["address1"],
        order["customer"]["default_address"]["phone"],
        order["billing_address"]["name"],
        order["billing_address"]["phone"],
        order["billing_address"]["city"],
        order["billing_address"]["zip"],
        order["shipping_address"]["address1"],
        str(order["shipping_address"]["latitude"]),
    ]
    tok = PiiTokenizer()
    text = json.dumps(tok.tokenize_data(order), ensure_ascii=False)
    for value in personal:
        assert not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE), value
