"""Which connectors the application knows, by platform name (the composition root asks here)."""

from __future__ import annotations

from tillwise.ports.platform import Connector


def default_connectors() -> dict[str, Connector]:
    """A fresh mapping ``platform → connector``; nothing is built at import time."""
    from . import generic

    return {generic.connector.platform: generic.connector}
