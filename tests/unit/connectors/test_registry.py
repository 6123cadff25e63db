from __future__ import annotations

import importlib

from tillwise.connectors import generic
from tillwise.connectors.registry import PLATFORM_PACKAGES, default_connectors
from tillwise.ports.platform import Connector


def test_default_connectors_name_every_platform_by_its_own_name() -> None:
    connectors = default_connectors()
    assert connectors["generic"] is generic.connector
    for package in PLATFORM_PACKAGES:
        platform = importlib.import_module(f"tillwise.connectors.{package}").PLATFORM
        conn: Connector = connectors[platform]
        assert conn.platform == platform
    assert len(connectors) == 1 + len(PLATFORM_PACKAGES)
    assert default_connectors() is not connectors  # a fresh mapping each call


def test_each_platform_gets_its_own_app_settings() -> None:
    seen: list[str] = []

    def app(platform: str) -> dict[str, str]:
        seen.append(platform)
        return {"client_id": f"id-for-{platform}"}

    default_connectors(app)
    expected = [
        importlib.import_module(f"tillwise.connectors.{p}").PLATFORM for p in PLATFORM_PACKAGES
    ]
    assert seen == expected
