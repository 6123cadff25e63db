"""Platform commands: backfill a connection, inspect a payload, connect a store (OAuth)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import ConnectorError, resource_topic

from ._common import console, fail, load_settings, open_container, print_json


def backfill(
    connection: str = typer.Option(..., "--connection", help="the connection id"),
    since: datetime | None = typer.Option(
        None, "--since", help="only objects changed since (UTC unless an offset is given)"
    ),
    resource: list[str] = typer.Option([], "--resource", help="only these resources; repeat"),
    restart: bool = typer.Option(False, "--restart", help="ignore the saved checkpoint"),
) -> None:
    """Pull a connection's history from the platform's API into the inbox (resumable: an
    interrupted run continues from its last page with the same --since)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with open_container() as c:
        conn = c.connections.get(connection)
        if conn is None:
            fail(f"no connection {connection!r} (tillwise connections list)")
        connector = c.connectors.get(conn.platform)
        if connector is None or connector.api is None:
            fail(f"the {conn.platform} connector has no API to backfill from")
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            tasks: dict[str, TaskID] = {}

            def advance(name: str, n: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=None)
                task = tasks[name]
                done = int(bar.tasks[task].completed) + n
                bar.update(task, completed=done, description=f"{name}: {done:,} objects")

            try:
                counts = asyncio.run(
                    c.backfill.run(
                        connection,
                        since=since,
                        resources=resource or None,
                        restart=restart,
                        progress=advance,
                    )
                )
            except ValueError as exc:
                fail(str(exc))
            except Exception as exc:  # the platform refused or is unreachable: say which
                fail(f"backfill stopped ({type(exc).__name__}): {exc}; run again to resume")
    total = sum(counts.values())
    console.print(f"stored {total:,} objects ({counts}); the pipeline normalizes them now")


def inspect(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="the payload file"),
    platform: str = typer.Option(..., "--platform", help="shopify, square, clover, ..."),
    topic: str | None = typer.Option(None, "--topic", help="the webhook topic/event type"),
    resource: str | None = typer.Option(
        None, "--resource", help="an API object instead of a webhook (e.g. orders)"
    ),
    currency: str | None = typer.Option(
        None,
        "--currency",
        help="the connection's currency, for payloads that name none (Lightspeed X/R...); "
        "default: the platform app's TILLWISE_<PLATFORM>_CURRENCY, else USD",
    ),
) -> None:
    """Print the canonical objects a payload becomes, as JSON (nothing is stored)."""
    from tillwise.connectors.registry import default_connectors

    settings = load_settings()
    connectors = default_connectors(settings.platform_app)
    connector = connectors.get(platform)
    if connector is None:
        fail(f"unknown platform {platform!r}; known: {', '.join(sorted(connectors))}")
    if (topic is None) == (resource is None):
        fail("give exactly one of --topic (a webhook) or --resource (an API object)")
    the_topic = topic if topic is not None else resource_topic(str(resource))
    delivery = RawDelivery(
        platform=platform,
        connection_id="inspect",
        event_id="inspect",
        topic=the_topic,
        body=file.read_bytes(),
        received_at=datetime.now(UTC),
        headers={"content-type": _content_type(file)},
    )
    # as if from a connection configured with this currency (stated in every Money printed)
    app_currency = settings.platform_app(platform).get("currency")
    config = {"currency": (currency or app_currency or "USD").upper()}
    try:
        batch = connector.normalize(delivery, config)
    except ConnectorError as exc:
        where = f" at {exc.field}" if exc.field else ""
        fail(f"{file}: {exc.detail}{where}")
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"{file}: could not read it as a {platform} {the_topic} payload: {exc}")
    print_json(batch.model_dump(mode="json"))


def _content_type(file: Path) -> str:
    head = file.read_bytes()[:1].strip()
    return "application/json" if head in (b"{", b"[") else "application/x-www-form-urlencoded"


def connect(
    platform: str = typer.Argument(..., help="shopify, square, clover, lightspeed-x, lightspeed-r"),
    param: list[str] = typer.Option(
        [], "--param", help="what identifies the store, e.g. shop=my-shop.myshopify.com"
    ),
    callback_url: str | None = typer.Option(
        None, "--callback-url", help="the address the platform redirected you to (step 2)"
    ),
) -> None:
    """Connect a store by OAuth in two steps: print the address to open (step 1); then either
    the server at TILLWISE_PUBLIC_URL receives the callback, or paste the address you were sent
    back to with --callback-url (step 2) and the install completes here."""
    from tillwise.governance.oauth_state import complete_install

    with open_container() as c:
        connector = c.connectors.get(platform)
        if connector is None or connector.oauth is None:
            fail(f"{platform!r} has no OAuth install; add it with `tillwise connections add`")
        redirect_uri = c.oauth_redirect_uri(platform)
        if callback_url is None:
            params = dict(p.split("=", 1) for p in param if "=" in p)
            state = c.oauth_states.issue(platform, params)
            url = connector.oauth.authorize_url(
                state=state, redirect_uri=redirect_uri, params=params
            )
            console.print("1. Open this address and approve the app:")
            console.print(url, soft_wrap=True, highlight=False)
            console.print(
                f"2. The platform sends you back to {redirect_uri}; if that server is not "
                "reachable, run this command again with --callback-url '<that address>'."
            )
            return
        query = dict(parse_qsl(urlsplit(callback_url).query, keep_blank_values=True))
        try:
            conn = asyncio.run(
                complete_install(
                    connector, c.connections, c.oauth_states, query, redirect_uri=redirect_uri
                )
            )
        except ConnectorError as exc:
            fail(f"install refused ({exc.field or 'callback'}): {exc.detail}")
        except Exception as exc:
            fail(f"install failed ({type(exc).__name__}): {exc}")
    console.print(f"connected {conn.name} as {conn.id} ({conn.platform})")
    print_json(
        {
            "id": conn.id,
            "platform": conn.platform,
            "webhook_path": f"/webhooks/{conn.platform}/{conn.id}",
        }
    )
