"""Write-back: carrying out an approved proposal on the POS (and undoing it where it can).

Each platform's connector provides one :class:`WriteBack`; governance calls it only for a
proposal that its store's mode and the approval rules allow. Writes carry an idempotency key
(derived from the proposal id), so a retried write has one effect on the POS.

Errors::

    WriteBackError            the POS refused or could not be reached
    ├── NotSupported          this connector cannot write this kind (or cannot reverse it)
    └── (retryable=True)      a transient failure: 429 / 5xx / network, after the client's retries
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tillwise.domain.proposals import Proposal

if TYPE_CHECKING:
    from .platform import ConnectionContext


class WriteBackError(Exception):
    code = "writeback_failed"

    def __init__(self, detail: str, *, retryable: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable


class NotSupported(WriteBackError):
    code = "writeback_not_supported"


@dataclass
class WriteProgress:
    """The steps of one write already done on the POS, kept across its attempts.

    A write made of several requests that the POS cannot deduplicate (a transfer's two stock
    adjustments) records each step as it completes (:meth:`record`, saved by governance with
    the proposal before the write goes on); a retry finds it in ``done`` and goes on from there
    instead of doing it again. Saving is awaited: governance keeps the database work off the
    server's event loop."""

    done: dict[str, Any] = field(default_factory=dict)
    # governance: keep with the proposal
    save: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    async def record(self, step: str, facts: Any) -> None:
        self.done[step] = facts
        if self.save is not None:
            await self.save(dict(self.done))

    async def remember(self, step: str, facts: Any) -> Any:
        """What an earlier attempt recorded for ``step``; else ``facts``, recorded now (the
        time a write was first made, the stock level it started from ...)."""
        if step not in self.done:
            await self.record(step, facts)
        return self.done[step]


@dataclass(frozen=True)
class WriteTarget:
    """Where and how to write: the connection, its POS API base URL and its credentials."""

    connection_id: str
    platform: str
    api_base_url: str | None
    secrets: Sequence[str] = ()  # decrypted; never logged
    # OAuth platforms: the connection's config and credentials (refreshed and saved as needed)
    context: ConnectionContext | None = None
    # the steps earlier attempts of this write completed (governance gives one per write)
    progress: WriteProgress | None = None


@dataclass(frozen=True)
class WriteResult:
    """What the POS answered: its reference for the write, and details for the audit log."""

    reference: str
    details: dict[str, Any] = field(default_factory=dict)


class WriteBack(Protocol):
    kinds: frozenset[str]  # proposal kinds this connector can write
    reversible: frozenset[str]  # kinds it can also undo

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult: ...

    async def revert(
        self,
        target: WriteTarget,
        proposal: Proposal,
        applied: WriteResult,
        *,
        idempotency_key: str,
    ) -> WriteResult: ...
