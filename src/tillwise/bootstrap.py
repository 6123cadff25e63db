"""The composition root: settings → concrete store, inbox, bus, connectors, governance services.

This is the only module that names implementations. Nothing is built at import time:
call :func:`build_container` and close it when done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tillwise.ports.clock import Clock, SystemClock
from tillwise.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tillwise.governance.audit import AuditLog
    from tillwise.governance.connections import Connections
    from tillwise.governance.tokens import Tokens
    from tillwise.ports.bus import Bus, DeadLetters
    from tillwise.ports.inbox import Inbox
    from tillwise.ports.platform import Connector
    from tillwise.ports.repositories import UnitOfWorkFactory


@dataclass
class Container:
    """Everything the API, the CLI and the workers need, built once from settings."""

    settings: Settings
    engine: Engine
    uow: UnitOfWorkFactory
    inbox: Inbox
    bus: Bus
    dead_letters: DeadLetters
    connectors: dict[str, Connector]
    connections: Connections
    tokens: Tokens
    audit: AuditLog
    clock: Clock = field(default_factory=SystemClock)
