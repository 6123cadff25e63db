"""Administrative commands: database, connections, tokens, dead letters, inbox replay, audit."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta

import typer
from rich.table import Table

from ._common import console, fail, load_settings, open_container, print_json

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
connections_app = typer.Typer(
    help="POS connections (webhook secrets are stored encrypted).", no_args_is_help=True
)
tokens_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
deadletters_app = typer.Typer(
    help="Messages a worker gave up on: list and replay.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from tillwise.store.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url, revision)
    console.print(f"database at [bold]{_safe_url(settings.database_url)}[/] is at {revision}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@connections_app.command("add")
def connections_add(
    platform: str = typer.Argument(..., help="generic, shopify, square, clover, lightspeed..."),
    name: str = typer.Option(..., "--name", help="a name people recognise"),
    secret_stdin: bool = typer.Option(
        False, "--secret-stdin", help="read the webhook signing secret from standard input"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the connection as JSON"),
    config: list[str] = typer.Option(
        [], "--config", help="non-secret config KEY=VALUE, e.g. currency=NZD; repeat"
    ),
    api_base_url: str | None = typer.Option(
        None, help="the POS API approved write-backs go to (e.g. `tillwise simulate --pos-port`)"
    ),
) -> None:
    """Add a POS connection; prints its id (and the webhook path to give the POS)."""
    if not secret_stdin:
        fail("pass --secret-stdin and the webhook signing secret on standard input")
    secret = sys.stdin.readline().strip()
    if not secret:
        fail("standard input held no secret (one line expected)")
    with open_container() as c:
        if platform not in c.connectors:
            fail(f"unknown platform {platform!r}; known: {', '.join(sorted(c.connectors))}")
        try:
            conn = c.connections.create(
                platform, name, [secret], actor="cli", api_base_url=api_base_url
            )
        except ValueError as exc:
            fail(str(exc))
        if config:
            try:
                conn = c.connections.configure(conn.id, _key_values(config), actor="cli")
            except ValueError as exc:
                fail(str(exc))
    if as_json:
        print_json(
            {
                "id": conn.id,
                "platform": conn.platform,
                "name": conn.name,
                "webhook_path": f"/webhooks/{conn.platform}/{conn.id}",
                "api_base_url": conn.api_base_url,
            }
        )
    else:
        console.print(f"connection [bold]{conn.id}[/] → POST /webhooks/{conn.platform}/{conn.id}")


def _key_values(pairs: list[str]) -> dict[str, str | None]:
    """``KEY=VALUE`` pairs; ``KEY=`` (empty) removes the key."""
    out: dict[str, str | None] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{pair!r} is not KEY=VALUE")
        out[key.strip()] = value.strip() or None
    return out


@connections_app.command("configure")
def connections_configure(
    connection: str = typer.Argument(..., help="the connection id"),
    pairs: list[str] = typer.Argument(..., help="KEY=VALUE (KEY= removes it), e.g. currency=NZD"),
) -> None:
    """Set a connection's non-secret config, e.g. the ``currency`` its payloads are in when
    they name none (Lightspeed X-Series and R-Series). Replay its dead letters afterwards."""
    changes = _key_values(pairs)
    with open_container() as c:
        try:
            conn = c.connections.configure(connection, changes, actor="cli")
        except (LookupError, ValueError) as exc:
            fail(str(exc))
    print_json({"id": conn.id, "platform": conn.platform, "config": conn.config})


@connections_app.command("set-api-url")
def connections_set_api_url(
    connection: str = typer.Argument(..., help="the connection id"),
    url: str = typer.Argument(..., help="the POS API write-backs go to; '' for none"),
) -> None:
    """Point a connection's approved write-backs at another POS API (audited)."""
    with open_container() as c:
        try:
            conn = c.connections.set_api_base_url(connection, url or None, actor="cli")
        except (LookupError, ValueError) as exc:
            fail(str(exc))
    print_json({"id": conn.id, "platform": conn.platform, "api_base_url": conn.api_base_url})


@connections_app.command("list")
def connections_list() -> None:
    """List connections."""
    with open_container() as c:
        rows = c.connections.list()
    table = Table("id", "platform", "name", "status", "created")
    for conn in rows:
        table.add_row(conn.id, conn.platform, conn.name, conn.status, str(conn.created_at))
    console.print(table)


@tokens_app.command("create")
def tokens_create(
    role: str = typer.Option(..., "--role", help="admin or viewer"),
    name: str = typer.Option("cli", "--name"),
    expires_in_days: int | None = typer.Option(None, "--expires-in-days", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an API token (printed once; only its hash is stored)."""
    from tillwise.governance.rbac import ROLES

    if role not in ROLES:
        fail(f"unknown role {role!r}; known: {', '.join(sorted(ROLES))}")
    with open_container() as c:
        info, plaintext = c.tokens.create(
            role,
            name=name,
            actor="cli",
            expires_in=timedelta(days=expires_in_days) if expires_in_days else None,
        )
    if as_json:
        print_json(
            {"id": info.id, "role": info.role, "expires_at": info.expires_at, "token": plaintext}
        )
    else:
        console.print(
            f"token {info.id} ({info.role}): [bold]{plaintext}[/]  (shown once)", soft_wrap=True
        )


@deadletters_app.command("list")
def deadletters_list(
    include_replayed: bool = typer.Option(False, "--all", help="include replayed ones"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List dead letters."""
    with open_container() as c:
        letters = c.dead_letters.list(include_replayed=include_replayed, limit=1000)
    if as_json:
        print_json(
            [
                {
                    "id": d.id,
                    "consumer": d.consumer,
                    "topic": d.message.topic,
                    "message_id": d.message.id,
                    "attempts": d.attempts,
                    "error": d.error,
                    "failed_at": d.failed_at,
                    "replayed_at": d.replayed_at,
                }
                for d in letters
            ]
        )
        return
    if not letters:
        console.print("no dead letters")
        return
    table = Table("id", "consumer", "topic", "message", "attempts", "failed at", "error")
    for d in letters:
        table.add_row(
            str(d.id),
            d.consumer,
            d.message.topic,
            d.message.id,
            str(d.attempts),
            str(d.failed_at),
            d.error.splitlines()[-1][:80] if d.error else "",
        )
    console.print(table)


@deadletters_app.command("replay")
def deadletters_replay(
    ids: list[int] = typer.Argument(None, help="dead letter ids (default: all not replayed)"),
) -> None:
    """Publish dead letters again to the consumer that failed them."""
    from tillwise.bootstrap import build_container
    from tillwise.pipeline.dead_letters import replay_dead_letter

    async def _run() -> int:
        c = build_container(load_settings())
        try:
            targets = ids or [d.id for d in c.dead_letters.list(limit=10_000)]
            for dl_id in targets:
                letter = c.dead_letters.get(dl_id)
                if letter is None:
                    fail(f"no dead letter {dl_id}")
                if letter.replayed_at is not None:
                    fail(f"dead letter {dl_id} was already replayed at {letter.replayed_at}")
                message = await replay_dead_letter(c.dead_letters, c.bus, dl_id, c.clock.now())
                c.audit.append(
                    actor="cli",
                    action="deadletter.replayed",
                    store=None,
                    inputs={"dead_letter_id": dl_id, "consumer": letter.consumer},
                    outputs={"message_id": message.id},
                )
            return len(targets)
        finally:
            await c.close()

    count = asyncio.run(_run())
    console.print(f"replayed {count} dead letter(s)")


def replay(
    connection: str | None = typer.Option(None, "--connection", help="only this connection"),
    since: datetime | None = typer.Option(None, "--since", help="received at or after (UTC)"),
) -> None:
    """Normalize stored raw deliveries again (rebuild canonical state from the inbox).

    Upserts never move records backwards and events are stored once, so replaying is safe."""
    from rich.progress import Progress

    with open_container() as c:
        ids = c.inbox.ids(connection_id=connection, since=since)  # type: ignore[attr-defined]
        normalizer = c.normalizer()
        failures = 0
        with Progress(console=console) as progress:
            task = progress.add_task("replaying inbox", total=len(ids))
            for delivery_id in ids:
                try:
                    normalizer.handle(delivery_id, force=True)
                except Exception as exc:
                    failures += 1
                    console.print(f"[red]delivery {delivery_id}[/]: {exc}")
                progress.advance(task)
    console.print(f"replayed {len(ids) - failures} deliveries, {failures} failed")
    if failures:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chain; names the first broken entry."""
    with open_container() as c:
        result = c.audit.verify()
    if result.ok:
        console.print(f"audit log intact: {result.checked} entries verified")
        return
    fail(f"audit log broken at entry {result.first_broken_id}: {result.reason}", code=2)
