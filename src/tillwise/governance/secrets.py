"""Secrets at rest and out of logs: :class:`SecretBox` (Fernet), key loading, redaction.

Keys
----
A key is Fernet's: url-safe base64 of 32 random bytes (``SecretBox.generate_key()``).
Several keys may be given, newest first — ``TILLWISE_SECRET_KEY="new,old"`` or one key per
line in the key file. The first encrypts; all of them decrypt (``MultiFernet``), so a key can
be rotated without a flag day: put the new key first, re-encrypt the stored values
(``Connections.reencrypt_all``: every connection's webhook secrets and OAuth credentials), then
drop the old key.

:func:`load_or_create_key` resolves the key in this order:

1. ``TILLWISE_SECRET_KEY`` (``settings.secret_key``), validated.
2. ``settings.secret_key_file`` if configured: read it, or create it (mode 0600) if missing.
3. For a SQLite file database: ``<database file without suffix>.key`` beside it
   (``tillwise.db`` → ``tillwise.key``), created 0600 if missing. In-memory SQLite:
   ``./tillwise.key``.
4. For any other database (PostgreSQL) with neither of 1–2 configured: **refuse**
   (:class:`SecretKeyError`). Such a database is shared by several processes and hosts; a key
   created silently in one host's working directory would make the stored secrets unreadable
   everywhere else and be lost with that container. Configure the key explicitly instead.

A key file that other users can read is used but logged as a warning.

Redaction
---------
:func:`redact` masks secrets in strings and (recursively) in dicts and lists: values under
sensitive keys (``secret``, ``password``, ``token``, ``authorization``, ``api_key``…), our
own API token format, bearer credentials, Fernet ciphertexts and any registered known value.
:class:`RedactingFilter` applies the same to log records (message, args, exception text).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

if TYPE_CHECKING:
    from tillwise.settings import Settings

log = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
DEFAULT_KEY_FILE_NAME = "tillwise.key"


class SecretKeyError(ValueError):
    """The encryption key is missing, malformed or cannot be read or created."""

    code = "secret_key_error"


class SecretDecryptionError(ValueError):
    """Ciphertext that none of the configured keys can decrypt (wrong key, or corrupt data)."""

    code = "secret_decryption_error"


def _parse_key(raw: str, source: str) -> bytes:
    key = raw.strip().encode("ascii", errors="replace")
    try:
        decoded = base64.b64decode(key, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != 32:
        # Never echo the value: a near-miss key is still a secret.
        raise SecretKeyError(
            f"{source} is not a valid key: expected url-safe base64 of 32 bytes "
            f"(44 characters); generate one with "
            f'`python -c "from cryptography.fernet import Fernet; '
            f'print(Fernet.generate_key().decode())"`'
        )
    return key


def _split_keys(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text) if part]


class SecretBox:
    """Encrypts and decrypts short secrets (webhook secrets, OAuth tokens) with Fernet.

    ``keys`` are newest first: the first encrypts, every one decrypts.
    """

    def __init__(self, keys: Sequence[str | bytes], *, source: str = "secret key") -> None:
        if isinstance(keys, str | bytes):
            keys = [keys]
        if not keys:
            raise SecretKeyError(f"{source}: no key given")
        parsed = [
            _parse_key(
                k.decode("ascii", "replace") if isinstance(k, bytes) else k,
                f"{source} (key {i + 1})" if len(keys) > 1 else source,
            )
            for i, k in enumerate(keys)
        ]
        self._fernet = MultiFernet([Fernet(k) for k in parsed])
        self.key_count = len(parsed)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> bytes:
        if not isinstance(plaintext, str):
            raise TypeError("SecretBox.encrypt takes a str")
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, token: bytes, *, ttl: int | None = None) -> str:
        """``ttl``: refuse tokens older than this many seconds (Fernet's own timestamp)."""
        try:
            return self._fernet.decrypt(bytes(token), ttl=ttl).decode("utf-8")
        except InvalidToken:
            raise SecretDecryptionError(
                "cannot decrypt a stored secret: it was encrypted with a key that is not "
                "configured (check TILLWISE_SECRET_KEY / the key file; during a rotation list "
                "the new key first and the old key after it), or the stored value is corrupt"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt ``token`` under the first (newest) key."""
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken:
            raise SecretDecryptionError(
                "cannot rotate a stored secret: none of the configured keys decrypts it"
            ) from None

    def __repr__(self) -> str:  # never show keys
        return f"SecretBox(keys={self.key_count})"


# --------------------------------------------------------------------------- key loading


def default_key_path(database_url: str) -> Path | None:
    """Where the key file lives by default, or ``None`` (non-SQLite: must be configured)."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split(":///", 1)[-1] if ":///" in database_url else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        return Path.cwd() / DEFAULT_KEY_FILE_NAME
    db = Path(path)
    key = db.with_name(db.stem + ".key")
    return key if key != db else db.with_name(db.name + ".key")


def load_or_create_key(settings: Settings) -> SecretBox:
    """The :class:`SecretBox` for ``settings`` (see the module docstring for the rules)."""
    if settings.secret_key is not None:
        raw = settings.secret_key.get_secret_value()
        keys = _split_keys(raw)
        if not keys:
            raise SecretKeyError("TILLWISE_SECRET_KEY is set but empty")
        return SecretBox(keys, source="TILLWISE_SECRET_KEY")
    path = settings.secret_key_file
    if path is None:
        path = default_key_path(settings.database_url)
    if path is None:
        raise SecretKeyError(
            "no encryption key configured for a non-SQLite database: set TILLWISE_SECRET_KEY, "
            "or TILLWISE_SECRET_KEY_FILE to a key file shared by every process (it is created "
            "if missing). Tillwise will not create one silently, because a key made on one "
            "host would leave the secrets unreadable on the others."
        )
    return SecretBox(_read_or_create_key_file(Path(path)), source=f"key file {path}")


def _read_or_create_key_file(path: Path) -> list[str]:
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    _create_key_file(path)
    return _read_key_file(path)


def _read_key_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError:
        raise SecretKeyError(f"key file {path} is not a text file of keys") from None
    except OSError as exc:
        raise SecretKeyError(f"cannot read key file {path}: {exc.strerror}") from exc
    if os.name == "posix":
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning(
                "key file %s is readable by other users (mode %o); chmod 600 it", path, mode
            )
    keys = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not keys:
        raise SecretKeyError(f"key file {path} is empty")
    return keys


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` with mode 0600, atomically; never overwrite an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (SecretBox.generate_key() + "\n").encode("ascii")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, fails if another process created the file meanwhile
        except FileExistsError:
            return
        except OSError:
            # Filesystems without hard links: exclusive create, then write.
            try:
                fd2 = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return
            try:
                os.fchmod(fd2, 0o600)
                os.write(fd2, data)
                os.fsync(fd2)
            finally:
                os.close(fd2)
    finally:
        tmp.unlink(missing_ok=True)
    log.warning("created a new encryption key file %s (mode 0600): back it up", path)


# --------------------------------------------------------------------------- redaction

_SENSITIVE_KEY = re.compile(
    r"(?:^|[_\-. ])(?:secrets?|passwords?|passwd|passphrase|tokens?|api_?key|authorization"
    r"|credentials?|private_key|cookies?|signature)$",
    re.IGNORECASE,
)


def is_sensitive_key(key: str) -> bool:
    """``webhook_secret``, ``clientSecret``, ``password``, ``access_token`` → True;
    ``token_id``, ``secret_count`` → False (the last word of the key decides)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)
    return bool(_SENSITIVE_KEY.search(snake))


# Each pattern masks its ``secret`` group (or the whole match if it has none).
DEFAULT_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Our API tokens: tw_<id>_<secret>.
    re.compile(r"\btw_[0-9a-f]{8,32}_[A-Za-z0-9_\-]{16,}"),
    # Fernet ciphertext (version byte 0x80 → "gAAAAA").
    re.compile(r"gAAAAA[A-Za-z0-9_\-]{20,}={0,2}"),
    # Authorization header values.
    re.compile(r"(?i)\b(?:bearer|basic)\s+(?P<secret>[A-Za-z0-9._~+/\-]{6,}=*)"),
    # key=value and "key": "value" for sensitive-looking keys.
    re.compile(
        r"(?i)\b(?:[a-z_]*secret|password|passwd|[a-z_]*token|api_?key)"
        r"(?:\s*=\s*|[\"']\s*:\s*[\"'])(?P<secret>[^\s\"'&,;}]+)"
    ),
)

_MIN_KNOWN_SECRET_LEN = 6


class KnownSecrets:
    """A thread-safe set of secret values to mask wherever they appear (e.g. webhook secrets).

    Values shorter than 6 characters are ignored: masking "abc" everywhere would mangle logs
    and tell a reader what the secret is.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        if not isinstance(value, str) or len(value) < _MIN_KNOWN_SECRET_LEN:
            return
        with self._lock:
            self._values = self._values | {value}

    def discard(self, value: str) -> None:
        with self._lock:
            self._values = self._values - {value}

    def snapshot(self) -> frozenset[str]:
        return self._values

    def __len__(self) -> int:
        return len(self._values)


def _redact_str(text: str, known: Iterable[str], patterns: Sequence[re.Pattern[str]]) -> str:
    # Longest first so a secret containing another is masked whole.
    for value in sorted(known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern in patterns:
        text = pattern.sub(_mask_match, text)
    return text


def _mask_match(match: re.Match[str]) -> str:
    if "secret" not in match.re.groupindex or match.start("secret") < 0:
        return REDACTED
    whole, base = match.group(0), match.start()
    return whole[: match.start("secret") - base] + REDACTED + whole[match.end("secret") - base :]


def redact(
    value: Any,
    *,
    known: KnownSecrets | Iterable[str] = (),
    patterns: Sequence[re.Pattern[str]] = DEFAULT_PATTERNS,
) -> Any:
    """A copy of ``value`` with secrets masked as ``[REDACTED]``.

    Strings are scanned for known values and token patterns; in mappings, the value under a
    sensitive-looking key is replaced whole; lists, tuples and sets are walked. Other values
    (numbers, None, booleans) are returned unchanged.
    """
    known_values = known.snapshot() if isinstance(known, KnownSecrets) else frozenset(known)
    return _redact(value, known_values, patterns)


def _redact(value: Any, known: frozenset[str], patterns: Sequence[re.Pattern[str]]) -> Any:
    if isinstance(value, str):
        return _redact_str(value, known, patterns)
    if isinstance(value, bytes | bytearray):
        return _redact_str(bytes(value).decode("utf-8", "replace"), known, patterns)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and is_sensitive_key(k) and v not in (None, "", [], {}):
                out[k] = REDACTED
            else:
                out[k] = _redact(v, known, patterns)
        return out
    if isinstance(value, list | tuple):
        items = [_redact(v, known, patterns) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, set | frozenset):
        return [_redact(v, known, patterns) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Masks secrets in log records; never drops a record.

    Attach it to handlers (it then sees records from every logger), e.g. with
    :func:`install_log_redaction`. ``known`` may be shared with the services that see
    secrets (``Connections(..., known_secrets=...)``) so their values are masked too.
    """

    def __init__(
        self,
        known: KnownSecrets | None = None,
        patterns: Sequence[re.Pattern[str]] = DEFAULT_PATTERNS,
    ) -> None:
        super().__init__()
        self.known = known if known is not None else KnownSecrets()
        self.patterns = tuple(patterns)

    def filter(self, record: logging.LogRecord) -> bool:
        known = self.known.snapshot()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for the handler to report
            return True
        cleaned = _redact_str(message, known, self.patterns)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = _redact_str(text, known, self.patterns)
        elif record.exc_text:
            record.exc_text = _redact_str(record.exc_text, known, self.patterns)
        if record.stack_info:
            record.stack_info = _redact_str(record.stack_info, known, self.patterns)
        return True


def install_log_redaction(
    target: logging.Handler | logging.Logger | None = None,
    *,
    known: KnownSecrets | None = None,
) -> RedactingFilter:
    """Attach a :class:`RedactingFilter` to a handler, or to every handler of a logger
    (default: the root logger). Returns the filter so more secrets can be registered."""
    flt = RedactingFilter(known)
    if isinstance(target, logging.Handler):
        target.addFilter(flt)
        return flt
    logger = target if target is not None else logging.getLogger()
    for handler in logger.handlers:
        handler.addFilter(flt)
    return flt
