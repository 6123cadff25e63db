"""redact() and the logging filter."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from tillwise.governance.secrets import (
    REDACTED,
    KnownSecrets,
    RedactingFilter,
    SecretBox,
    install_log_redaction,
    is_sensitive_key,
    redact,
)

TOKEN = "tw_0123456789abcdef_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"


def test_redact_masks_known_values_and_token_patterns() -> None:
    text = f"delivery signed with whsec_abc123xyz using {TOKEN}; Authorization: Bearer {TOKEN}"
    out = redact(text, known=["whsec_abc123xyz"])
    assert "whsec_abc123xyz" not in out and TOKEN not in out
    assert out.count(REDACTED) == 3
    assert redact("client_secret=s3cr3tv4lue&mode=x") == f"client_secret={REDACTED}&mode=x"
    assert redact('{"password": "hunter22"}') == f'{{"password": "{REDACTED}"}}'
    fernet = SecretBox([SecretBox.generate_key()]).encrypt("x").decode()
    assert redact(f"blob {fernet}") == f"blob {REDACTED}"


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "actor token:abc123 did tokens:write on store loc_1 (secret_count=2)"
    assert redact(text) == text
    assert redact({"token_id": "abc", "n": 3, "ok": True, "none": None}) == {
        "token_id": "abc",
        "n": 3,
        "ok": True,
        "none": None,
    }


def test_redact_walks_structures_and_masks_sensitive_keys() -> None:
    value = {
        "webhookSecret": "x1y2z3",
        "nested": [{"api_key": "k"}, {"note": "uses whsec_abc123xyz"}],
        "headers": {"Authorization": "Bearer abcdefghijkl"},
        "tuple": ("whsec_abc123xyz",),
        "empty_secret": "",
    }
    assert redact(value, known=KnownSecrets(["whsec_abc123xyz"])) == {
        "webhookSecret": REDACTED,
        "nested": [{"api_key": REDACTED}, {"note": f"uses {REDACTED}"}],
        "headers": {"Authorization": REDACTED},
        "tuple": (REDACTED,),
        "empty_secret": "",
    }


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("secret", True),
        ("webhook_secret", True),
        ("clientSecret", True),
        ("password", True),
        ("access_token", True),
        ("Authorization", True),
        ("apiKey", True),
        ("token_id", False),
        ("secret_count", False),
        ("name", False),
        ("tokens_used", False),
    ],
)
def test_sensitive_keys(key: str, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


def test_known_secrets_ignores_short_values() -> None:
    known = KnownSecrets(["abc", "long-enough-1"])
    assert known.snapshot() == {"long-enough-1"}
    known.discard("long-enough-1")
    assert len(known) == 0


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, RedactingFilter]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tillwise.test.redaction")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    flt = install_log_redaction(handler, known=KnownSecrets(["whsec_abc123xyz"]))
    yield logger, stream, flt
    logger.removeHandler(handler)


def test_filter_masks_message_args_and_keeps_the_record(
    captured: tuple[logging.Logger, io.StringIO, RedactingFilter],
) -> None:
    logger, stream, flt = captured
    logger.info("verifying with %s and %r", "whsec_abc123xyz", {"token": TOKEN})
    flt.known.add("late-registered-value")
    logger.warning("got late-registered-value from %s", "POS")
    logger.info("nothing secret here: %d deliveries", 3)
    out = stream.getvalue()
    assert "whsec_abc123xyz" not in out and TOKEN not in out
    assert "late-registered-value" not in out
    assert "nothing secret here: 3 deliveries" in out
    assert out.count("\n") == 3


def test_filter_masks_exception_text(
    captured: tuple[logging.Logger, io.StringIO, RedactingFilter],
) -> None:
    logger, stream, _ = captured
    try:
        raise ValueError(f"bad signature with whsec_abc123xyz for {TOKEN}")
    except ValueError:
        logger.exception("webhook failed")
    out = stream.getvalue()
    assert "ValueError" in out and "webhook failed" in out
    assert "whsec_abc123xyz" not in out and TOKEN not in out


def test_install_on_root_handlers() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        flt = install_log_redaction()
        assert flt in handler.filters
    finally:
        root.removeHandler(handler)
