from __future__ import annotations

from tillwise.connectors import generic
from tillwise.connectors.registry import default_connectors
from tillwise.ports.platform import Connector


def test_default_connectors_names_the_generic_connector() -> None:
    connectors = default_connectors()
    assert connectors == {"generic": generic.connector}
    conn: Connector = connectors["generic"]
    assert conn.platform == "generic"
    assert default_connectors() is not connectors  # a fresh mapping each call
