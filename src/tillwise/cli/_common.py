"""Helpers every sub-command shares: settings, the container, printing, error exits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from tillwise.bootstrap import Container, build_container
from tillwise.settings import Settings

console = Console()
err_console = Console(stderr=True)


def print_table(table: Any, width: int = 120) -> None:
    """Print a table of figures at least ``width`` columns wide: rich fits tables to the
    terminal — 80 columns when the output is piped — and cuts cells to "…", which loses
    numbers and names."""
    Console(width=max(console.width, width)).print(table)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError names the variable
        fail(f"invalid settings (TILLWISE_* environment): {exc}")


@contextmanager
def open_container(settings: Settings | None = None) -> Iterator[Container]:
    container = build_container(settings or load_settings())
    try:
        yield container
    finally:
        asyncio.run(container.close())


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, indent=2))
