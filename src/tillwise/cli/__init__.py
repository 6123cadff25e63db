"""The ``tillwise`` command (typer + rich)."""

from __future__ import annotations

from .main import app


def main() -> None:
    app()


__all__ = ["app", "main"]
