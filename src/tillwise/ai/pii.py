"""Personal data out, placeholders in: tokenize before anything reaches a model, restore after.

A :class:`PiiTokenizer` is one *session* — one LLM call. It replaces the personal data of
customers and employees with placeholders such as ``<<PERSON_1>>``, ``<<EMAIL_1>>``,
``<<PHONE_1>>``, ``<<ADDRESS_1>>``, ``<<CARD_1>>``, ``<<LOYALTY_1>>``, and puts the real values
back into the model's answer with :meth:`PiiTokenizer.restore_text`.

What is tokenized
-----------------
Two sources, applied together.

*Structured data* (:meth:`PiiTokenizer.tokenize_data` on dicts/lists as POS platforms send
them). Keys are compared in snake case (``lastName`` → ``last_name``). The whole value under a
personal key becomes one placeholder and is remembered as a *known value*:

=============  ==========================================================================
kind           keys
=============  ==========================================================================
PERSON         ``first_name``, ``last_name``, ``given_name``, ``family_name``,
               ``contact_first_name``, ``cardholder_name``, … anywhere; ``name``,
               ``display_name``, ``username`` only inside a person (an object under
               ``customer``, ``employee``, ``team_member``, ``user``, ``contact(s)``,
               ``billing_address``, ``shipping_address``, ``default_address``,
               ``addresses``, ``destination``, …, or one that has a first/last name)
EMAIL          ``email``, ``email_address``, ``contact_email``, ``buyer_email_address``,
               ``*_email``, ``emails``
PHONE          ``phone``, ``phone_number``, ``mobile``, ``fax``, ``telephone``, ``*_phone``
ADDRESS        street lines (``address1``, ``address_line_1``, ``physical_address1``,
               ``street``…), ``city``/``locality``/``suburb``, ``zip``/``postal_code``/
               ``postcode``; ``province``/``state``/``administrative_district_level_1`` and
               latitude/longitude inside an address object — except inside a business object
               (``shop``, ``location``, ``outlet``, ``merchant``, ``vendor``, …), whose address
               is not personal
CARD           ``last4``/``last_4``, ``first6``, ``bin``/``iin`` (6–8 digits),
               ``card_number``, ``credit_card_number``, ``credit_card_bin``, ``pan``,
               gift-card numbers; ``number``/``fingerprint`` inside a card object
LOYALTY        ``loyalty_id``, ``loyalty_number``, ``membership_number``, ``member_id``,
               ``customer_code`` (not balances, points or values)
BIRTHDATE      ``birthday``, ``birth_date``, ``date_of_birth``, ``dob``
COMPANY        ``company``, ``company_name`` inside a person (a customer's employer)
PERSONAL       ``sex``/``gender``, IP addresses (``browser_ip``…), national/tax/passport
               numbers, social handles (``twitter``…), a person's ``website``
=============  ==========================================================================

*Free text* (every other string in the data, every dict key, and every prompt string through
:meth:`PiiTokenizer.tokenize_text`):

- e-mail addresses;
- phone numbers written as phone numbers: with a ``+`` country code, an ``(area)`` code or
  ``555-625-1199``-style groups (7–15 digits). A bare run of digits is *not* taken for a phone
  number (it is far more often an id), unless it is a known value;
- card numbers: 13–19 digits, optionally grouped by spaces or hyphens, starting 2–6 (the
  card networks' ranges) and passing the Luhn check; masked cards (``xxxx-xxxx-xxxx-4242``,
  x in either case, ``•••• 4242``, ``**********8904``) and "ending in 4242";
- every *known value* collected from the structured data (and any added with
  :meth:`PiiTokenizer.add_known`), case-insensitively, longest first, on word boundaries.
  A full name also makes its parts known (``Bob Norman`` → ``Bob``, ``Norman``), and a first
  and last name in one object make the full name known; a phone matches however it is
  punctuated, with or without its country code; a card also makes its last four digits
  known. Values shorter than 3 characters (2 for name parts) and generic
  placeholders such as ``Employee`` or ``WALKIN`` are replaced where they stand in the data but
  not searched for in free text.

What is not tokenized
---------------------
Money amounts, quantities, SKUs, product and tax names, dates and times (other than a birth
date), order numbers, record ids (customer, order, store and location ids are pseudonymous
references the answer must keep), ``country``, ``country_code`` and ``province_code``, and the
addresses, names and phones of businesses are left as they are — though a business e-mail or
phone number under an ``email``/``phone`` key is still replaced (harmless). Names that appear
only in free text and nowhere in structured data cannot be recognised (there is no name
detection): register them with :meth:`PiiTokenizer.add_known`. A known value that is also an
ordinary word (a customer called "Will") is replaced wherever the word appears; the prompt reads
a little oddly, the data stays in.

Stability and restoring
-----------------------
Within one session the same value always gets the same placeholder — compared after
normalizing (case for names and e-mails, punctuation for phone and card numbers) — and a
placeholder always restores to the value's first-seen spelling. Placeholders are numbered per
kind in order of appearance (``<<PERSON_1>>``, ``<<PERSON_2>>``…). With ``key=`` the number is
replaced by the first hex digits of HMAC-SHA256(key, kind + normalized value), so the same value
gets the same placeholder across calls (an auditor can see "the same customer" without seeing
who); keep that key secret. Only placeholders issued by this session are restored; anything
else in a model's answer is left alone. :meth:`PiiTokenizer.restore_data` gives back structured
data exactly, types included.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

__all__ = ["PiiKind", "PiiTokenizer", "TOKEN_PATTERN", "luhn_valid"]


class PiiKind(StrEnum):
    PERSON = "PERSON"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    ADDRESS = "ADDRESS"
    CARD = "CARD"
    LOYALTY = "LOYALTY"
    BIRTHDATE = "BIRTHDATE"
    COMPANY = "COMPANY"
    PERSONAL = "PERSONAL"


TOKEN_PATTERN = re.compile(r"<<(?P<kind>[A-Z]+)_(?P<id>[0-9a-f]+)>>")

# --------------------------------------------------------------------------- structured keys

_PERSON_CONTAINERS = frozenset(
    {
        "customer", "customers", "buyer", "buyers", "recipient", "recipients", "cardholder",
        "card_holder", "employee", "employees", "team_member", "team_members", "staff",
        "user", "users", "contact", "contacts", "member", "members", "person", "people",
        "billing_address", "shipping_address", "default_address", "addresses", "destination",
        "billing", "shipping", "billing_details", "shipping_details", "owner", "cashier",
        "associate", "guest", "client", "customer_details", "buyer_details", "profile",
        "account_holder", "sender", "receiver", "contact_address", "mailing_address",
        "home_address", "customer_address", "ship_to", "bill_to", "shipto", "billto",
    }
)  # fmt: skip
_BUSINESS_CONTAINERS = frozenset(
    {
        "shop", "shops", "location", "locations", "assigned_location", "origin_address",
        "outlet", "outlets", "store", "stores", "merchant", "merchants", "business",
        "retailer", "warehouse", "warehouses", "vendor", "vendors", "supplier", "suppliers",
        "brand", "register", "registers", "company", "organization", "organisation",
    }
)  # fmt: skip
_NAME_KEYS = frozenset(
    {
        "first_name", "last_name", "given_name", "family_name", "middle_name", "surname",
        "firstname", "lastname", "full_name", "fullname", "maiden_name", "nickname",
        "contact_name", "cardholder_name", "card_holder_name", "holder_name", "buyer_name",
        "customer_name", "employee_name", "recipient_name", "billing_name", "shipping_name",
        "preferred_name", "legal_name",
    }
)  # fmt: skip
_NAME_SUFFIXES = ("_first_name", "_last_name", "_given_name", "_family_name", "_full_name")
_PERSON_MARKER_KEYS = frozenset(
    {"first_name", "last_name", "given_name", "family_name", "firstname", "lastname"}
)
_FULL_NAME_PAIRS = (
    ("first_name", "last_name"),
    ("given_name", "family_name"),
    ("firstname", "lastname"),
    ("contact_first_name", "contact_last_name"),
)
_CONTEXT_NAME_KEYS = frozenset({"name", "display_name", "username", "user_name", "login"})
_COMPANY_KEYS = frozenset({"company", "company_name", "employer", "organization"})
_EMAIL_KEY = re.compile(r"(?:^|_)(?:e_?mail|emails|email_address(?:es)?)$")
_PHONE_KEY = re.compile(
    r"(?:^|_)(?:phones?|phone_numbers?|mobile|mobile_number|mobile_phone|cell|cellphone"
    r"|cell_phone|telephone|tel|fax|fax_number|sms_number)$"
)
_BIRTH_KEYS = frozenset({"birthday", "birth_date", "birthdate", "date_of_birth", "dob"})
_PERSONAL_KEYS = frozenset(
    {
        "sex", "gender", "ssn", "social_security_number", "national_id", "national_id_number",
        "personal_id", "tax_id_number", "passport", "passport_number", "driver_license",
        "drivers_license", "driving_licence", "driver_license_number", "ip", "ip_address",
        "browser_ip", "client_ip", "remote_ip", "customer_ip", "twitter", "instagram",
        "facebook", "linkedin", "tiktok", "social_handle",
    }
)  # fmt: skip
_PERSON_ONLY_PERSONAL_KEYS = frozenset({"website", "homepage", "url"})
_CARD_KEYS = frozenset(
    {
        "last4", "last_4", "last_four", "last_digits", "card_last4", "card_last_4",
        "card_last_four", "card_number", "credit_card_number", "masked_number", "masked_pan",
        "masked_card_number", "pan", "account_number", "iban", "gan", "gift_card_number",
        "gift_card_code", "gift_card_gan", "card_fingerprint",
    }
)  # fmt: skip
_CARD_PREFIX_KEYS = frozenset(
    {"bin", "iin", "first6", "first_6", "first_six", "card_bin", "credit_card_bin"}
)
_CARD_CONTEXT_KEYS = frozenset({"number", "fingerprint", "code", "value"})
_LOYALTY_KEY = re.compile(
    r"^(?:loyalty|(?:loyalty_|rewards?_|club_)?(?:loyalty|member|membership|rewards?|club)"
    r"_(?:id|number|no|num|card|card_number|account|account_id|account_number|code))$"
)
_LOYALTY_KEYS = frozenset({"customer_code", "customer_number", "loyalty_card_number"})
_STREET_KEY = re.compile(
    r"^(?:(?:physical|postal|billing|shipping|mailing|home|street)_)?"
    r"(?:address|address_?\d|address_line_?\d|addr_?\d?|street|street_?\d|street_address"
    r"|street_name|line_?\d|house_number|apartment|apt|unit)$"
)
_LOCALITY_KEY = re.compile(
    r"^(?:(?:physical|postal|billing|shipping|mailing|home)_)?"
    r"(?:city|town|locality|sublocality(?:_?\d)?|suburb|district|neighbou?rhood"
    r"|zip|zip_code|zipcode|postal_code|postcode|post_code)$"
)
_REGION_KEY = re.compile(r"^(?:province|state|region|county|administrative_district_level_\d)$")
_PREFIXED_REGION_KEY = re.compile(r"^(?:physical|postal|billing|shipping|mailing|home)_state$")
_GEO_KEYS = frozenset({"latitude", "longitude", "lat", "lng", "lon"})
_INHERIT_KEYS = frozenset(
    {"number", "value", "address", "e164", "formatted", "national", "international"}
)

# --------------------------------------------------------------------------- free text

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![\w-])"
)
_EMAIL_FULL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(
    r"""
    (?<![\w+/@.-])(?<!\d[.,])
    (?:
        \+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){2,5}   # +1 650-354-7217, +1(502)-459-2181
      | \(\d{2,5}\)[ .-]?\d{2,4}(?:[ .-]?\d{2,4}){1,2}          # (639) 372 1289
      | (?:1[ .-])?\d{3}[.-]\d{3}[.-]\d{4}                       # 555-625-1199, 1-212-555-4250
      | \d{3}[ ]\d{3}[ ]\d{4}                                    # 555 625 1199
      | 0\d{1,4}[ ]\d{3,4}[ ]\d{3,4}                             # 020 7946 0958
    )
    (?![\w@])(?![.,-]?\d)
    """,
    re.VERBOSE,
)
_CARD = re.compile(r"(?<![\w.,-])[2-6](?:[ -]?\d){12,18}(?![\w-])(?![.,]\d)")
_MASKED_CARD = re.compile(r"(?<![\w*•])[Xx*•]{4,}(?:[ -]?[Xx*•]{4}){0,3}[ -]?\d{1,4}(?!\d)")
_CARD_ENDING = re.compile(
    r"(?i)\b(?:ending(?:\s+(?:in|with))?|last\s*(?:4|four)(?:\s+digits)?)[:\s]+(?P<digits>\d{4})"
    r"(?!\d)"
)
_SEPARATORS = r"[\s().-]{0,3}"
_WORD = re.compile(r"\w+")
_MIN_KNOWN_LEN = 3
_MIN_NAME_PART_LEN = 2
_MIN_PHONE_DIGITS = 7
_PHONE_SUFFIX = 10
_NAME_PARTICLES = frozenset(
    {
        "de", "la", "da", "del", "della", "van", "von", "der", "den", "di", "le", "du", "al",
        "el", "bin", "ibn", "mr", "mrs", "ms", "miss", "dr", "jr", "sr", "and", "the", "of",
    }
)  # fmt: skip
_GENERIC_VALUES = frozenset(
    {
        "employee", "customer", "owner", "manager", "admin", "administrator", "cashier",
        "guest", "walkin", "walk-in", "walk in", "user", "staff", "test", "api user",
        "unknown", "n/a", "none", "null", "default", "anonymous", "store", "shop", "team",
    }
)  # fmt: skip


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _snake(key: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)
    snake = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", snake)
    return re.sub(r"[^0-9a-z]+", "_", snake.lower()).strip("_")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _is_address_container(key: str) -> bool:
    return key in {"address", "addresses", "destination"} or key.endswith(
        ("_address", "_addresses")
    )


@dataclass(frozen=True)
class _Ctx:
    person: bool = False
    business: bool = False
    parent: str = ""
    card: bool = False
    inherit: PiiKind | None = None


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: PiiKind | None  # None: a placeholder already in the text, kept as it is
    text: str


def _scalar_text(value: Any) -> str | None:
    """The text of a scalar that may carry personal data (None for booleans, None, empties)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float | Decimal):
        return str(value)
    return None


def _classify(key: str, text: str, ctx: _Ctx) -> PiiKind | None:
    """The kind of personal data a scalar under ``key`` holds, or None."""
    kind = _classify_key(key, text, ctx)
    if kind is not None and kind is not PiiKind.EMAIL and _EMAIL_FULL.fullmatch(text.strip()):
        return PiiKind.EMAIL
    return kind


def _classify_key(k: str, text: str, ctx: _Ctx) -> PiiKind | None:
    if k in _NAME_KEYS or k.endswith(_NAME_SUFFIXES):
        return PiiKind.PERSON
    if _EMAIL_KEY.search(k):
        return PiiKind.EMAIL
    if _PHONE_KEY.search(k):
        return PiiKind.PHONE
    if k in _BIRTH_KEYS:
        return PiiKind.BIRTHDATE
    if k in _CARD_KEYS or (ctx.card and k in _CARD_CONTEXT_KEYS):
        return PiiKind.CARD
    if k in _CARD_PREFIX_KEYS:
        return PiiKind.CARD if re.fullmatch(r"\d{6,8}", text.strip()) else None
    if k in _LOYALTY_KEYS or _LOYALTY_KEY.match(k):
        return PiiKind.LOYALTY
    if k in _PERSONAL_KEYS or (ctx.person and k in _PERSON_ONLY_PERSONAL_KEYS):
        return PiiKind.PERSONAL
    if not ctx.business:
        if _STREET_KEY.match(k) or _LOCALITY_KEY.match(k) or _PREFIXED_REGION_KEY.match(k):
            return PiiKind.ADDRESS
        in_address = _is_address_container(ctx.parent)
        if in_address and _REGION_KEY.match(k):
            return PiiKind.ADDRESS
        if in_address and ctx.person and k in _GEO_KEYS:
            return PiiKind.ADDRESS
    if ctx.person and k in _CONTEXT_NAME_KEYS:
        return PiiKind.PERSON
    if ctx.person and k in _COMPANY_KEYS:
        return PiiKind.COMPANY
    if ctx.inherit is not None and k in _INHERIT_KEYS:
        return ctx.inherit
    return None


def _child_ctx(key: str, mapping: Mapping[Any, Any], ctx: _Ctx) -> _Ctx:
    person, business = ctx.person, ctx.business
    if key in _BUSINESS_CONTAINERS:
        person, business = False, True
    elif key in _PERSON_CONTAINERS:
        person, business = True, False
    if any(isinstance(k, str) and _snake(k) in _PERSON_MARKER_KEYS for k in mapping):
        person, business = True, False
    inherit: PiiKind | None = None
    if _EMAIL_KEY.search(key):
        inherit = PiiKind.EMAIL
    elif _PHONE_KEY.search(key):
        inherit = PiiKind.PHONE
    card = ctx.card or "card" in key.split("_") or key.endswith("card")
    return _Ctx(person=person, business=business, parent=key, card=card, inherit=inherit)


@dataclass
class _KnownIndex:
    by_word: dict[str, list[tuple[PiiKind, int, str]]] = dataclasses.field(default_factory=dict)
    always: list[tuple[PiiKind, int, str]] = dataclasses.field(default_factory=list)
    by_last4: dict[str, list[tuple[PiiKind, int, str]]] = dataclasses.field(default_factory=dict)


class PiiTokenizer:
    """One tokenize → model → restore session (see the module docstring for the rules)."""

    def __init__(self, *, key: bytes | None = None, id_length: int = 10) -> None:
        self._key = key
        self._id_length = id_length
        self._counters: dict[PiiKind, int] = {}
        self._by_norm: dict[tuple[PiiKind, str], str] = {}  # (kind, normalized) → token
        self._originals: dict[str, str] = {}  # token → the value's first-seen spelling
        self._typed: dict[str, Any] = {}  # token → the first structured value it replaced
        self._known: dict[PiiKind, dict[str, str]] = {}  # kind → normalized → spelling
        self._phone_suffixes: dict[str, str] = {}  # last digits → normalized phone
        self._index: _KnownIndex | None = None
        # Known-value patterns compiled in this session, reused across the strings of a payload.
        self._compiled: dict[tuple[str, ...], re.Pattern[str]] = {}

    # ------------------------------------------------------------------ public API

    def add_known(self, kind: PiiKind | str, value: Any) -> None:
        """Treat ``value`` as personal data of ``kind`` wherever it appears in free text."""
        text = _scalar_text(value)
        if text is None:
            return
        kind = PiiKind(kind)
        self._remember(kind, text.strip())
        if kind is PiiKind.PERSON:
            for part in re.split(r"[\s,]+", text.strip()):
                part = part.strip(".'\"()")
                if len(part) >= _MIN_NAME_PART_LEN and part.casefold() not in _NAME_PARTICLES:
                    self._remember(kind, part)
        elif kind is PiiKind.CARD:
            tail = re.search(r"(\d{4})\D*$", text)
            if tail and len(_digits(text)) > 4:
                self._remember(kind, tail.group(1))
        elif kind is PiiKind.BIRTHDATE:
            date_part = re.match(r"\d{4}-\d{2}-\d{2}", text.strip())
            if date_part:
                self._remember(kind, date_part.group(0))

    def collect(self, data: Any) -> None:
        """Learn the known values in structured ``data`` without tokenizing it."""
        self._walk(data, "", _Ctx(), output=False)

    def tokenize_data(self, data: Any) -> Any:
        """A copy of ``data`` with personal values replaced by placeholders (structured keys
        first, then the free-text rules on every other string and every key)."""
        self.collect(data)
        return self._walk(data, "", _Ctx(), output=True)

    def tokenize_text(self, text: str) -> str:
        """``text`` with e-mails, phones, card numbers and every known value replaced."""
        if not text:
            return text
        spans = self._find(text)
        if not spans:
            return text
        out: list[str] = []
        pos = 0
        for span in spans:
            out.append(text[pos : span.start])
            out.append(span.text if span.kind is None else self._token_for(span.kind, span.text))
            pos = span.end
        out.append(text[pos:])
        return "".join(out)

    def restore_text(self, text: str) -> str:
        """``text`` with every placeholder this session issued replaced by its value."""
        if not text or "<<" not in text:
            return text

        def put_back(match: re.Match[str]) -> str:
            token = match.group(0)
            if token in self._originals:
                return self._originals[token]
            return token

        return TOKEN_PATTERN.sub(put_back, text)

    def restore_data(self, data: Any) -> Any:
        """A copy of ``data`` with placeholders restored; a string that is exactly one
        placeholder gets the original value back with its type."""
        if isinstance(data, str):
            if data in self._typed:
                return self._typed[data]
            if data in self._originals:
                return self._originals[data]
            return self.restore_text(data)
        if isinstance(data, Mapping):
            return {self.restore_data(k): self.restore_data(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return type(data)(self.restore_data(v) for v in data)
        return data

    @property
    def placeholder_counts(self) -> dict[str, int]:
        """How many distinct values of each kind were replaced (safe to log or audit)."""
        counts: dict[str, int] = {}
        for kind, _norm in self._by_norm:
            counts[kind.value] = counts.get(kind.value, 0) + 1
        return counts

    def __repr__(self) -> str:  # never show the values
        return f"PiiTokenizer(placeholders={self.placeholder_counts})"

    # ------------------------------------------------------------------ structured data

    def _walk(self, data: Any, key: str, ctx: _Ctx, *, output: bool) -> Any:
        if hasattr(data, "model_dump") and callable(data.model_dump):
            data = data.model_dump(mode="json")
        elif dataclasses.is_dataclass(data) and not isinstance(data, type):
            data = dataclasses.asdict(data)
        if isinstance(data, Mapping):
            child = _child_ctx(key, data, ctx)
            if not output:
                self._learn_full_name(data)
            result: dict[Any, Any] = {}
            for raw_key, value in data.items():
                k = _snake(raw_key) if isinstance(raw_key, str) else ""
                new_value = self._walk_value(value, k, child, output=output)
                if output:
                    new_key = self.tokenize_text(raw_key) if isinstance(raw_key, str) else raw_key
                    result[new_key] = new_value
            return result if output else None
        return self._walk_value(data, key, ctx, output=output)

    def _learn_full_name(self, mapping: Mapping[Any, Any]) -> None:
        """``first_name`` + ``last_name`` in one object: the full name is known too."""
        fields = {_snake(k): v for k, v in mapping.items() if isinstance(k, str)}
        for first_key, last_key in _FULL_NAME_PAIRS:
            first, last = fields.get(first_key), fields.get(last_key)
            if isinstance(first, str) and isinstance(last, str) and first.strip() and last.strip():
                self.add_known(PiiKind.PERSON, f"{first.strip()} {last.strip()}")

    def _walk_value(self, value: Any, key: str, ctx: _Ctx, *, output: bool) -> Any:
        if isinstance(value, Mapping) or hasattr(value, "model_dump"):
            return self._walk(value, key, ctx, output=output)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._walk(value, key, ctx, output=output)
        if isinstance(value, list | tuple):
            items = [self._walk_value(v, key, ctx, output=output) for v in value]
            return items if output else None
        text = _scalar_text(value)
        kind = _classify(key, text, ctx) if text is not None else None
        if kind is not None and text is not None:
            self.add_known(kind, text)
            if not output:
                return None
            token = self._token_for(kind, text.strip())
            self._typed.setdefault(token, value)
            return token
        if not output:
            return None
        if isinstance(value, str):
            return self.tokenize_text(value)
        # A card number sent as a JSON number under a key we do not know.
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if is_int and text is not None and _CARD.fullmatch(text) and luhn_valid(text):
            return self._token_for(PiiKind.CARD, text)
        return value

    # ------------------------------------------------------------------ tokens

    @staticmethod
    def _normalize(kind: PiiKind, text: str) -> str:
        if kind is PiiKind.PHONE:
            digits = _digits(text)
            return digits or text.casefold()
        if kind is PiiKind.CARD:
            digits = _digits(text)
            if len(digits) >= 12 and re.fullmatch(r"[\d\s-]+", text.strip()):
                return digits
        return " ".join(text.casefold().split())

    def _remember(self, kind: PiiKind, text: str) -> None:
        norm = self._normalize(kind, text)
        known = self._known.setdefault(kind, {})
        if norm in known:
            return
        known[norm] = text
        if kind is PiiKind.PHONE and len(norm) >= _MIN_PHONE_DIGITS and norm.isdigit():
            self._phone_suffixes.setdefault(norm[-_PHONE_SUFFIX:], norm)
        self._index = None
        self._compiled.clear()

    def _token_for(self, kind: PiiKind, text: str) -> str:
        norm = self._normalize(kind, text)
        if kind is PiiKind.PHONE and norm.isdigit():
            norm = self._phone_suffixes.get(norm[-_PHONE_SUFFIX:], norm)
        existing = self._by_norm.get((kind, norm))
        if existing is not None:
            return existing
        if self._key is None:
            number = self._counters.get(kind, 0) + 1
            self._counters[kind] = number
            token = f"<<{kind.value}_{number}>>"
        else:
            digest = hmac.new(self._key, f"{kind.value}\x00{norm}".encode(), hashlib.sha256)
            hexdigest = digest.hexdigest()
            length = self._id_length
            token = f"<<{kind.value}_{hexdigest[:length]}>>"
            while token in self._originals:  # a prefix collision within this session
                length += 2
                token = f"<<{kind.value}_{hexdigest[:length]}>>"
        self._by_norm[(kind, norm)] = token
        original = self._known.get(kind, {}).get(norm, text)
        self._originals[token] = original
        self._remember(kind, text)
        return token

    # ------------------------------------------------------------------ free text

    def _known_index(self) -> _KnownIndex:
        if self._index is not None:
            return self._index
        index = _KnownIndex()
        for kind, values in self._known.items():
            for norm, spelling in values.items():
                for length, regex, word in self._alternatives(kind, norm, spelling):
                    alternative = (kind, length, regex)
                    if word is None:
                        index.by_last4.setdefault(norm[-4:], []).append(alternative)
                    elif word == "":
                        index.always.append(alternative)
                    else:
                        index.by_word.setdefault(word, []).append(alternative)
        self._index = index
        return index

    def _known_matchers(self, text: str) -> list[tuple[PiiKind, re.Pattern[str]]]:
        """Patterns for the known values that could occur in ``text`` (looked up by their first
        word or last four digits, so many known values do not slow every string down)."""
        index = self._known_index()
        candidates = list(index.always)
        if index.by_last4:
            digits = _digits(text)
            for at in {digits[i : i + 4] for i in range(len(digits) - 3)}:
                candidates.extend(index.by_last4.get(at, ()))
        for word in set(_WORD.findall(text.lower())):
            candidates.extend(index.by_word.get(word, ()))
        by_kind: dict[PiiKind, list[tuple[int, str]]] = {}
        for kind, length, regex in candidates:
            by_kind.setdefault(kind, []).append((length, regex))
        matchers: list[tuple[PiiKind, re.Pattern[str]]] = []
        for kind, alternatives in by_kind.items():
            ordered = tuple(dict.fromkeys(r for _, r in sorted(alternatives, key=lambda a: -a[0])))
            pattern = self._compiled.get(ordered)
            if pattern is None:
                pattern = self._compiled[ordered] = re.compile("|".join(ordered), re.IGNORECASE)
            matchers.append((kind, pattern))
        return matchers

    @staticmethod
    def _alternatives(
        kind: PiiKind, norm: str, spelling: str
    ) -> Iterable[tuple[int, str, str | None]]:
        """(length, regex, index word) alternatives that find ``spelling`` in free text; the
        index word is None for digit patterns (indexed by their last four digits) and "" for
        values without a word character."""
        if norm.casefold() in _GENERIC_VALUES:
            return
        digit_kind = kind in (PiiKind.PHONE, PiiKind.CARD) and norm.isdigit()
        if digit_kind:
            if kind is PiiKind.PHONE and len(norm) < _MIN_PHONE_DIGITS:
                return
            if kind is PiiKind.CARD and len(norm) < 4:
                return
            lead = r"(?<![\w+])(?<!\d[.,])" + (r"\+?" if kind is PiiKind.PHONE else "")
            tail = r"(?!\w)(?![.,]\d)"
            yield len(norm) + 1, lead + _SEPARATORS.join(norm) + tail, None
            if kind is PiiKind.PHONE and len(norm) > _PHONE_SUFFIX:
                suffix = norm[-_PHONE_SUFFIX:]
                yield len(suffix), lead + _SEPARATORS.join(suffix) + tail, None
            return
        text = spelling.strip()
        minimum = _MIN_NAME_PART_LEN if kind is PiiKind.PERSON else _MIN_KNOWN_LEN
        if len(text) < minimum:
            return
        escaped = r"\s+".join(re.escape(part) for part in text.split())
        lead = r"(?<!\w)(?<!\d[.,])" if text[0].isalnum() else ""
        tail = r"(?!\w)(?![.,]\d)" if text[-1].isalnum() else ""
        first_word = _WORD.search(text.lower())
        yield len(text), lead + escaped + tail, first_word.group(0) if first_word else ""

    def _find(self, text: str) -> list[_Span]:
        found: list[_Span] = []
        for match in TOKEN_PATTERN.finditer(text):
            if match.group(0) in self._originals:
                found.append(_Span(match.start(), match.end(), None, match.group(0)))
        for kind, pattern in self._known_matchers(text):
            for match in pattern.finditer(text):
                found.append(_Span(match.start(), match.end(), kind, match.group(0)))
        for match in _EMAIL.finditer(text):
            found.append(_Span(match.start(), match.end(), PiiKind.EMAIL, match.group(0)))
        for match in _CARD.finditer(text):
            if luhn_valid(_digits(match.group(0))):
                found.append(_Span(match.start(), match.end(), PiiKind.CARD, match.group(0)))
        for match in _MASKED_CARD.finditer(text):
            found.append(_Span(match.start(), match.end(), PiiKind.CARD, match.group(0)))
        for match in _CARD_ENDING.finditer(text):
            start, end = match.span("digits")
            found.append(_Span(start, end, PiiKind.CARD, match.group("digits")))
        for match in _PHONE.finditer(text):
            if _MIN_PHONE_DIGITS <= len(_digits(match.group(0))) <= 15:
                found.append(_Span(match.start(), match.end(), PiiKind.PHONE, match.group(0)))
        # Earliest first, then longest; placeholders already present win their own span.
        found.sort(key=lambda s: (s.start, -(s.end - s.start), s.kind is not None))
        chosen: list[_Span] = []
        end = 0
        for span in found:
            if span.start >= end:
                chosen.append(span)
                end = span.end
        return chosen
