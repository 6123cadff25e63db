"""Paths to the connector fixtures."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PAYLOADS = FIXTURES / "payloads" / "generic"
SIGNATURES = FIXTURES / "signatures" / "generic"
