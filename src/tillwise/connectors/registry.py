"""Which connectors the application knows, by platform name (the composition root asks here)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from tillwise.ports.platform import Connector

# The platform packages; each exposes ``PLATFORM`` and ``make_connector(app) -> Connector``,
# where ``app`` is that platform's app settings (client id, secret, API version...).
PLATFORM_PACKAGES: tuple[str, ...] = ("lightspeed_r", "clover", "square", "shopify", "lightspeed_x")


def default_connectors(
    app_settings: Callable[[str], Mapping[str, str]] | None = None,
) -> dict[str, Connector]:
    """A fresh mapping ``platform → connector``; nothing is built at import time."""
    from . import generic

    connectors: dict[str, Connector] = {generic.connector.platform: generic.connector}
    for name in PLATFORM_PACKAGES:
        module = importlib.import_module(f"{__package__}.{name}")
        app = app_settings(module.PLATFORM) if app_settings is not None else {}
        connectors[module.PLATFORM] = module.make_connector(app)
    return connectors
