"""Governance commands: users, regions, workflow modes, and the audit export.

Passwords are read from a prompt (hidden) or from standard input with ``--password-stdin``,
never from an argument (which would land in shell history and ``ps``).
"""

from __future__ import annotations

import secrets
import sys
from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from tillwise.bootstrap import Container

from ._common import console, fail, open_container, print_json

users_app = typer.Typer(help="People who use the dashboard.", no_args_is_help=True)
regions_app = typer.Typer(help="Regions: groups of stores for regional managers.")
modes_app = typer.Typer(help="Per store × workflow modes: off, shadow, draft, auto.")

CLI_ACTOR = "cli"


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return value


def _user_error(exc: Exception) -> None:
    field = getattr(exc, "field", None)
    fail(f"{field}: {exc}" if field else str(exc))


@users_app.command("add")
def users_add(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., "--role", help="associate, store_manager, buyer, ..., admin"),
    store: list[str] = typer.Option([], "--store", help="<connection_id>:<location_id>; repeat"),
    region: list[str] = typer.Option([], "--region", help="a region name; repeat"),
    display_name: str | None = typer.Option(None, "--name"),
    password_stdin: bool = typer.Option(False, "--password-stdin"),
) -> None:
    """Add a user (the password is asked for, or read from stdin)."""
    from tillwise.governance.users import InvalidUser

    password = _password(password_stdin)
    with open_container() as c:
        try:
            user = c.users.add(
                username,
                password,
                role=role,
                actor=CLI_ACTOR,
                display_name=display_name,
                stores=store,
                regions=region,
            )
        except InvalidUser as exc:
            _user_error(exc)
    console.print(f"added {user.username} ({user.role}) as {user.id}")


@users_app.command("list")
def users_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every user, with role and scope."""
    with open_container() as c:
        users = c.users.list()
    if as_json:
        print_json([u.__dict__ for u in users])
        return
    table = Table("id", "username", "name", "role", "stores", "regions", "status")
    for u in users:
        table.add_row(
            u.id,
            u.username,
            u.display_name,
            u.role,
            ", ".join(u.stores) or "—",
            ", ".join(u.regions) or "—",
            "disabled" if u.disabled_at else "active",
        )
    console.print(table)


def _set_disabled(username: str, disabled: bool) -> None:
    with open_container() as c:
        user = c.users.by_username(username)
        if user is None:
            fail(f"no user {username!r}")
        c.users.update(user.id, actor=CLI_ACTOR, disabled=disabled)
    console.print(f"{username} {'disabled; its sessions ended' if disabled else 'enabled'}")


@users_app.command("disable")
def users_disable(username: str = typer.Argument(...)) -> None:
    """Disable a user (and end its sessions)."""
    _set_disabled(username, True)


@users_app.command("enable")
def users_enable(username: str = typer.Argument(...)) -> None:
    _set_disabled(username, False)


@users_app.command("set-password")
def users_set_password(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin"),
) -> None:
    """Set a user's password (ends its sessions)."""
    from tillwise.governance.users import InvalidUser

    password = _password(password_stdin)
    with open_container() as c:
        user = c.users.by_username(username)
        if user is None:
            fail(f"no user {username!r}")
        try:
            c.users.set_password(user.id, password, actor=CLI_ACTOR)
        except InvalidUser as exc:
            _user_error(exc)
    console.print(f"password of {username} set")


def ensure_first_admin(container: Container, username: str = "admin") -> str | None:
    """On a fresh install (no users), create an admin with a random password and return the
    password (to be shown once); otherwise ``None``."""
    if container.users.count():
        return None
    password = secrets.token_urlsafe(12)
    container.users.add(
        username, password, role="admin", actor="system:first-run", display_name="Administrator"
    )
    return password


@regions_app.command("set")
def regions_set(
    name: str = typer.Argument(...),
    stores: list[str] = typer.Argument(None, help="store keys; none deletes the region"),
) -> None:
    """Make region NAME hold exactly STORES."""
    from tillwise.governance.users import InvalidUser

    with open_container() as c:
        try:
            held = c.users.set_region(name, stores or [], actor=CLI_ACTOR)
        except InvalidUser as exc:
            _user_error(exc)
    console.print(f"region {name}: {', '.join(held) or '(deleted)'}")


@regions_app.command("list")
def regions_list() -> None:
    with open_container() as c:
        for name, stores in c.users.regions().items():
            console.print(f"[bold]{name}[/]: {', '.join(stores)}")


@modes_app.command("set")
def modes_set(
    workflow: str = typer.Argument(...),
    store: str = typer.Argument(..., help="store key, or '*' for the workflow's default"),
    mode: str = typer.Argument(..., help="off | shadow | draft | auto"),
    auto_limit: str | None = typer.Option(None, "--auto-limit", help="auto: up to this value"),
    reason: str | None = typer.Option(None, "--reason"),
) -> None:
    """Set a workflow's mode for one store (audited)."""
    from tillwise.governance.rollout import InvalidSetting

    with open_container() as c:
        try:
            c.modes.set_mode(
                workflow, store, mode, actor=CLI_ACTOR, auto_limit=auto_limit, reason=reason
            )
        except InvalidSetting as exc:
            _user_error(exc)
    console.print(f"{workflow} at {store}: {mode}")


@modes_app.command("list")
def modes_list() -> None:
    with open_container() as c:
        settings = c.modes.modes()
    table = Table("workflow", "store", "mode", "auto limit", "changed by", "at")
    for m in settings:
        table.add_row(
            m.workflow, m.store, m.mode, str(m.auto_limit or "—"), m.updated_by, str(m.updated_at)
        )
    console.print(table)


def audit_export(
    output: Path = typer.Option(..., "--output", "-o", help="file to write ('-': stdout)"),
    format: str = typer.Option("jsonl", "--format", help="jsonl | csv"),
    action: str | None = typer.Option(None, "--action"),
    actor: str | None = typer.Option(None, "--actor"),
    store: str | None = typer.Option(None, "--store"),
    since: datetime | None = typer.Option(None, "--since", help="UTC unless an offset is given"),
) -> None:
    """Export the audit log (oldest first, hashes included) as JSON Lines or CSV."""
    from datetime import UTC

    if format not in ("jsonl", "csv"):
        fail("--format must be jsonl or csv")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    count = 0
    out = sys.stdout if str(output) == "-" else output.open("w", encoding="utf-8", newline="")
    try:
        with open_container() as c:
            for chunk in c.audit.export(
                format, actor=actor, action=action, store=store, since=since
            ):
                out.write(chunk)
                count += 1
            count -= format == "csv"  # the header line
            c.audit.append(
                actor=CLI_ACTOR,
                action="audit.exported",
                inputs={"format": format, "action": action, "actor": actor, "store": store},
                outputs={"entries": count},
            )
    finally:
        if out is not sys.stdout:
            out.close()
    if out is not sys.stdout:
        console.print(f"wrote {count} entries to {output}")
