"""The workflow contract: a name, the event types it subscribes to, and a handler.

A workflow reads and writes only through the unit of work it is given (ports), never a
connector or a concrete store. The pipeline calls ``handle`` inside a transaction that also
records the event as processed, so a redelivered event has no second effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tillwise.domain.events import Envelope
from tillwise.domain.proposals import Proposal
from tillwise.ports.clock import Clock
from tillwise.ports.repositories import UnitOfWork


@dataclass(frozen=True)
class WorkflowContext:
    uow: UnitOfWork
    clock: Clock


class Workflow(Protocol):
    name: str
    version: str
    subscribes_to: frozenset[str]
    proposes: frozenset[str]  # proposal kinds it makes (empty: it only keeps figures current)

    def handle(self, event: Envelope, ctx: WorkflowContext) -> list[Proposal]: ...
