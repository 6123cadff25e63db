"""The audit log: append-only and hash-chained, so an edit, a deletion or a reordering shows.

Each entry's ``hash`` is SHA-256 (hex) over the canonical JSON — sorted keys, no whitespace,
ASCII — of ``{id, at, actor, action, store, inputs, outputs, prev_hash}``, where ``at`` is the
ISO 8601 UTC time with microseconds and ``prev_hash`` is the previous entry's hash (64 zeros
for the first entry). :meth:`AuditLog.verify` recomputes the chain.

Appends are serialized so two writers can never fork the chain: on SQLite the engine's
``BEGIN IMMEDIATE`` already holds the database write lock; on PostgreSQL the append takes
``LOCK TABLE audit_log IN EXCLUSIVE MODE`` (readers are not blocked) until its transaction ends.
Ids are assigned as previous id + 1 under that lock — not by a sequence, which would leave
gaps on rollback — so a missing id means a deleted entry. ``id`` is also the primary key, so
even a writer that bypassed the lock would fail rather than fork.

:meth:`AuditLog.append_in` audits inside the caller's transaction (the entry commits or rolls
back with the caller's work). Call it last in that transaction: the lock is held to commit.
Under PostgreSQL use READ COMMITTED (the default) for such transactions.

What the chain cannot show on its own: removal of the newest entries (truncation). Anchor the
head (:meth:`AuditLog.head`) elsewhere — a log line, a ticket — if that matters.

Inputs and outputs are redacted (:func:`~tillwise.governance.secrets.redact`) and normalized
to plain JSON before they are hashed and stored; never pass secrets anyway.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import csv
import hashlib
import io
import json
import logging
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path, PurePath
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Connection, Engine, and_, insert, or_, select, text
from sqlalchemy.engine import Row

from tillwise.files import write_atomically
from tillwise.governance.secrets import KnownSecrets, redact
from tillwise.ports.clock import Clock
from tillwise.store.engine import read_only
from tillwise.store.tables_governance import audit_log

GENESIS_HASH = "0" * 64
log = logging.getLogger(__name__)
_MAX_LIST = 10_000


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    store: str | None
    inputs: Any
    outputs: Any
    prev_hash: str
    hash: str


EXPORT_FORMATS = ("jsonl", "csv")
EXPORT_COLUMNS = ("id", "at", "actor", "action", "store", "inputs", "outputs", "prev_hash", "hash")


def _csv_line(values: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(list(values))
    return buffer.getvalue()


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int  # entries verified intact (all of them when ok)
    first_broken_id: int | None = None
    reason: str | None = None


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    id: int,
    at: datetime,
    actor: str,
    action: str,
    store: str | None,
    inputs: Any,
    outputs: Any,
    prev_hash: str,
) -> str:
    doc = {
        "id": id,
        "at": _iso(at),
        "actor": actor,
        "action": action,
        "store": store,
        "inputs": inputs,
        "outputs": outputs,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(doc).encode("ascii")).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID | PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"audit inputs/outputs must be JSON data; got {type(value).__name__}")


def _plain(value: Any) -> Any:
    # Integral floats become ints: JSONB stores numbers as numerics and may hand 1e16 back as
    # the integer 10000000000000000; the stored document must hash the same on both databases.
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        if "\x00" in value:  # PostgreSQL's JSONB cannot store NUL
            raise ValueError("audit inputs/outputs may not contain NUL characters")
        return value
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def normalize_payload(value: Any) -> Any:
    """``value`` as it will be stored and hashed: plain JSON data, no NaN/Infinity."""
    if value is None:
        return None
    try:
        dumped = json.dumps(value, default=_json_default, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"audit inputs/outputs: {exc}") from None
    return _plain(json.loads(dumped))


def _check_text(name: str, value: str | None, limit: int, *, required: bool) -> None:
    if value is None:
        if required:
            raise ValueError(f"audit {name} is required")
        return
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"audit {name} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"audit {name} is longer than {limit} characters")


def _entry(row: Row[Any]) -> AuditEntry:
    m = row._mapping
    return AuditEntry(**{f.name: m[f.name] for f in fields(AuditEntry)})


class AuditLog:
    """Append to, read and verify the audit log on ``engine``."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        known_secrets: KnownSecrets | None = None,
        anchor_path: Path | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._known = known_secrets if known_secrets is not None else KnownSecrets()
        self._anchor_path = anchor_path

    # ------------------------------------------------------------------ anchoring

    def anchor(self) -> tuple[int, str] | None:
        """The newest (id, hash) recorded outside the database, if any."""
        if self._anchor_path is None:
            return None
        try:
            data = json.loads(self._anchor_path.read_text(encoding="utf-8"))
            return int(data["id"]), str(data["hash"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"audit anchor {self._anchor_path} is unreadable: {exc}") from None

    def record_anchor(self) -> tuple[int, str] | None:
        """Copy the newest entry's id and hash to the anchor file (only ever forward), so that
        deleting the newest entries — which leaves a valid, shorter chain — is detected."""
        if self._anchor_path is None:
            return None
        head = self.head()
        current = self.anchor()
        if head is None or (current is not None and current[0] >= head.id):
            return current
        anchor = json.dumps({"id": head.id, "hash": head.hash}).encode("utf-8")
        write_atomically(self._anchor_path, anchor, mode=0o600)
        return head.id, head.hash

    async def run_anchor(self, stop: asyncio.Event, *, interval: float = 10.0) -> None:
        """Keep the anchor within ``interval`` seconds of the head until ``stop``."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.record_anchor)
            except Exception:
                log.exception("could not record the audit anchor")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    # ------------------------------------------------------------------ writing

    def append(
        self,
        *,
        actor: str,
        action: str,
        store: str | None = None,
        inputs: Any = None,
        outputs: Any = None,
    ) -> AuditEntry:
        """Append one entry in its own transaction."""
        with self._engine.begin() as conn:
            return self.append_in(
                conn, actor=actor, action=action, store=store, inputs=inputs, outputs=outputs
            )

    def append_in(
        self,
        connection: Connection,
        *,
        actor: str,
        action: str,
        store: str | None = None,
        inputs: Any = None,
        outputs: Any = None,
    ) -> AuditEntry:
        """Append one entry inside the caller's transaction on ``connection``."""
        _check_text("actor", actor, 200, required=True)
        _check_text("action", action, 100, required=True)
        _check_text("store", store, 200, required=False)
        clean_inputs = normalize_payload(redact(inputs, known=self._known))
        clean_outputs = normalize_payload(redact(outputs, known=self._known))
        at = self._clock.now()
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("the clock returned a naive datetime; audit times must be UTC-aware")
        at = at.astimezone(UTC)

        self._lock(connection)
        last = connection.execute(
            select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
        ).first()
        new_id = 1 if last is None else int(last.id) + 1
        prev_hash = GENESIS_HASH if last is None else last.hash
        fields: dict[str, Any] = {
            "id": new_id,
            "at": at,
            "actor": actor,
            "action": action,
            "store": store,
            "inputs": clean_inputs,
            "outputs": clean_outputs,
            "prev_hash": prev_hash,
        }
        entry = AuditEntry(**fields, hash=entry_hash(**fields))
        connection.execute(insert(audit_log).values(**asdict(entry)))
        return entry

    @staticmethod
    def _lock(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            # EXCLUSIVE: conflicts with itself and with any other writer's ROW EXCLUSIVE;
            # plain SELECTs (ACCESS SHARE) go on. Released at commit/rollback.
            connection.execute(text(f"LOCK TABLE {audit_log.name} IN EXCLUSIVE MODE"))
        # SQLite: the engine began this transaction with BEGIN IMMEDIATE (the write lock).

    # ------------------------------------------------------------------ reading

    def get(self, entry_id: int) -> AuditEntry | None:
        with read_only(self._engine) as conn:
            row = conn.execute(select(audit_log).where(audit_log.c.id == entry_id)).first()
        return None if row is None else _entry(row)

    def head(self) -> AuditEntry | None:
        """The newest entry (anchor its hash elsewhere to detect truncation)."""
        with read_only(self._engine) as conn:
            row = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(1)).first()
        return None if row is None else _entry(row)

    def list(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        store: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        after_id: int | None = None,
        before_id: int | None = None,
        newest_first: bool = False,
        stores: Collection[str] | None = None,
        connection_entries: Mapping[str, Collection[str]] | None = None,
    ) -> builtins.list[AuditEntry]:
        """Entries matching every given filter, by id (oldest first unless ``newest_first``).

        ``since`` is inclusive and ``until`` exclusive; ``after_id`` pages forward (ids greater
        than it), ``before_id`` backward; ``stores`` keeps only entries about those stores (a
        principal's scope), and ``connection_entries`` (connection id → actions) adds those
        actions' entries about a whole connection. ``limit`` is capped at 10,000.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        for name, moment in (("since", since), ("until", until)):
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        query = select(audit_log)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        if store is not None:
            query = query.where(audit_log.c.store == store)
        if stores is not None:
            scope: list[ColumnElement[bool]] = [audit_log.c.store.in_(sorted(stores))]
            scope += [
                and_(audit_log.c.store == conn, audit_log.c.action.in_(sorted(actions)))
                for conn, actions in sorted((connection_entries or {}).items())
            ]
            query = query.where(or_(*scope))
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if until is not None:
            query = query.where(audit_log.c.at < until)
        if after_id is not None:
            query = query.where(audit_log.c.id > after_id)
        order = audit_log.c.id.desc() if newest_first else audit_log.c.id.asc()
        query = query.order_by(order).limit(min(limit, _MAX_LIST))
        with read_only(self._engine) as conn:
            return [_entry(row) for row in conn.execute(query)]

    def export(
        self,
        format: str,
        *,
        actor: str | None = None,
        action: str | None = None,
        store: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        stores: Collection[str] | None = None,
        connection_entries: Mapping[str, Collection[str]] | None = None,
    ) -> Iterator[str]:
        """Matching entries, oldest first, as JSON Lines or CSV text chunks (with the hashes,
        so an exported copy can be checked against the chain). CSV carries ``inputs`` and
        ``outputs`` as JSON text."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {EXPORT_FORMATS}")
        if format == "csv":
            yield _csv_line(EXPORT_COLUMNS)
        after: int | None = None
        while True:
            page = self.list(
                actor=actor,
                action=action,
                store=store,
                since=since,
                until=until,
                stores=stores,
                connection_entries=connection_entries,
                limit=1000,
                after_id=after,
            )
            for entry in page:
                row = {
                    "id": entry.id,
                    "at": entry.at.isoformat(),
                    "actor": entry.actor,
                    "action": entry.action,
                    "store": entry.store,
                    "inputs": entry.inputs,
                    "outputs": entry.outputs,
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                }
                if format == "jsonl":
                    yield json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
                else:
                    yield _csv_line(
                        json.dumps(row[c], ensure_ascii=False, sort_keys=True)
                        if c in ("inputs", "outputs")
                        else row[c]
                        for c in EXPORT_COLUMNS
                    )
            if len(page) < 1000:
                return
            after = page[-1].id

    # ------------------------------------------------------------------ verifying

    def verify(self, *, batch_size: int = 1000) -> AuditVerification:
        """Recompute the whole chain, oldest first; report the first entry that fails.

        Detected: an edited entry (its hash no longer matches), a deleted entry (a gap in the
        ids, or — for the first entry — a non-genesis ``prev_hash``), an entry whose hash was
        recomputed after an edit, a reordered or forged chain (``prev_hash`` not the hash of the
        entry before).
        """
        checked = 0
        expected_id = 1
        prev_hash = GENESIS_HASH
        last_id = 0
        while True:
            with read_only(self._engine) as conn:
                rows = conn.execute(
                    select(audit_log)
                    .where(audit_log.c.id > last_id)
                    .order_by(audit_log.c.id)
                    .limit(batch_size)
                ).all()
            if not rows:
                return self._check_anchor(checked)
            for row in rows:
                entry = _entry(row)
                broken = self._check(entry, expected_id, prev_hash)
                if broken is not None:
                    return AuditVerification(
                        ok=False, checked=checked, first_broken_id=entry.id, reason=broken
                    )
                checked += 1
                expected_id = entry.id + 1
                prev_hash = entry.hash
                last_id = entry.id

    def _check_anchor(self, checked: int) -> AuditVerification:
        """The chain is intact as far as it goes: does it still reach the anchor?"""
        anchor = self.anchor()
        if anchor is not None:
            anchored_id, anchored_hash = anchor
            entry = self.get(anchored_id)
            if entry is None:
                return AuditVerification(
                    ok=False,
                    checked=checked,
                    first_broken_id=anchored_id,
                    reason=(
                        f"entries from {checked + 1} to at least {anchored_id} were deleted: the "
                        f"anchor recorded entry {anchored_id}, the log now ends at {checked}"
                    ),
                )
            if entry.hash != anchored_hash:
                return AuditVerification(
                    ok=False,
                    checked=checked,
                    first_broken_id=anchored_id,
                    reason=f"entry {anchored_id} differs from the anchor (the tail was rewritten)",
                )
        self.record_anchor()
        return AuditVerification(ok=True, checked=checked)

    @staticmethod
    def _check(entry: AuditEntry, expected_id: int, prev_hash: str) -> str | None:
        if entry.id != expected_id:
            missing = (
                f"entry {expected_id}"
                if entry.id == expected_id + 1
                else f"entries {expected_id}–{entry.id - 1}"
            )
            return f"{missing} missing before entry {entry.id} (deleted)"
        if entry.prev_hash != prev_hash:
            before = "the genesis value" if expected_id == 1 else f"entry {entry.id - 1}'s hash"
            return (
                f"prev_hash does not match {before} (an earlier entry was changed, or the "
                f"chain was reordered or forged)"
            )
        recomputed = entry_hash(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            store=entry.store,
            inputs=entry.inputs,
            outputs=entry.outputs,
            prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash:
            return "hash mismatch: the entry was edited after it was written"
        return None
