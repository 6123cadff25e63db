"""The spine's platform integration, with a small in-test platform ("toy") whose API is a list
of pages: backfill (checkpointed, resumable, de-duplicated), fetch-on-notify, OAuth installs
with their state, and credentials rotated atomically. The real platforms run the same paths
against their own fakes (tests/unit/connectors/<platform>/)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.helpers import make_container, pump, run
from tillwise.bootstrap import Container
from tillwise.domain.catalog import Product
from tillwise.domain.events import Envelope, connection_source
from tillwise.domain.ids import SourceRef
from tillwise.domain.normalized import Fetch, NormalizedBatch
from tillwise.governance.connections import ConcurrentRotation
from tillwise.governance.oauth_state import complete_install
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import (
    RESOURCE_PREFIX,
    ConnectionContext,
    Credentials,
    Fetched,
    Installed,
    PayloadError,
    ResourcePage,
    SignatureError,
    VerifiedDelivery,
)
from tillwise.store.tables_governance import connections as connections_table

PLATFORM = "toy"


def product_json(pid: str, name: str, version: int) -> dict[str, Any]:
    return {"id": pid, "name": name, "version": version}


@dataclass
class ToyStore:
    """The platform's side: its products, in pages of two; can fail once on a page."""

    products: list[dict[str, Any]]
    fail_on_page: int | None = None
    calls: list[str] = field(default_factory=list)


class ToyApi:
    resources = ("products",)

    def __init__(self, store: ToyStore, ctx: ConnectionContext) -> None:
        self.store = store
        self.ctx = ctx

    async def pages(
        self, resource: str, *, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[ResourcePage]:
        start = int(cursor or 0)
        while start < len(self.store.products):
            page_no = start // 2
            self.store.calls.append(f"page {page_no}")
            if self.store.fail_on_page == page_no:
                self.store.fail_on_page = None
                raise ConnectionError("the platform went away")
            chunk = self.store.products[start : start + 2]
            start += 2
            yield ResourcePage(
                tuple(_fetched(p) for p in chunk),
                str(start) if start < len(self.store.products) else None,
            )

    async def fetch(self, requests: Sequence[Fetch]) -> list[Fetched]:
        wanted = {i for r in requests for i in r.ids}
        self.store.calls.append(f"fetch {sorted(wanted)}")
        return [_fetched(p) for p in self.store.products if p["id"] in wanted]

    async def aclose(self) -> None:
        pass


def _fetched(p: dict[str, Any]) -> Fetched:
    return Fetched("products", f"{p['id']}:{p['version']}", json.dumps(p).encode())


class ToyOAuth:
    scopes = ("read_products",)

    def authorize_url(self, *, state: str, redirect_uri: str, params: Mapping[str, str]) -> str:
        return f"https://toy.example/authorize?state={state}&redirect_uri={redirect_uri}"

    def verify_callback(self, params: Mapping[str, str]) -> None:
        if params.get("sig") != "ok":
            raise SignatureError("the callback signature is wrong", field="sig")

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        return Installed(
            credentials=Credentials(access_token="at-1", refresh_token="rt-1", scopes=self.scopes),
            config={"shop": params["shop"]},
            name=params["shop"],
            webhook_secrets=("toy-secret-1",),
        )

    async def refresh(self, ctx: ConnectionContext, *, transport: Any = None) -> Credentials:
        return Credentials(access_token="at-2", refresh_token="rt-2")


class ToyConnector:
    platform = PLATFORM
    writeback = None

    def __init__(self, store: ToyStore) -> None:
        self.store = store
        self.oauth = ToyOAuth()

    def api(self, ctx: ConnectionContext) -> ToyApi:
        return ToyApi(self.store, ctx)

    def verify(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime,
        *,
        url: str = "",
    ) -> VerifiedDelivery:
        if headers.get("x-toy-secret") not in secrets:
            raise SignatureError("bad secret", field="X-Toy-Secret")
        doc = json.loads(raw_body)
        return VerifiedDelivery(event_id=f"{doc['id']}:{doc.get('version')}", topic=doc["topic"])

    def normalize(self, delivery: RawDelivery, config: Any = None) -> NormalizedBatch:
        doc = json.loads(delivery.body)
        if delivery.topic == "products.named":  # a doorbell: ids only
            return NormalizedBatch(fetches=(Fetch(resource="products", ids=tuple(doc["ids"])),))
        if delivery.topic not in ("product.updated", f"{RESOURCE_PREFIX}products"):
            raise PayloadError(f"unknown topic {delivery.topic}", field="topic")
        ref = SourceRef(
            platform=PLATFORM, connection_id=delivery.connection_id, external_id=doc["id"]
        )
        product = Product(source=ref, name=doc["name"], source_version=doc["version"])
        event = Envelope(
            id=f"{ref.canonical_id('product')}:{doc['version']}",
            source=connection_source(PLATFORM, delivery.connection_id),
            type="product.updated",
            subject=product.id,
            platform=PLATFORM,
            connectionid=delivery.connection_id,
        )
        return NormalizedBatch(records=(product,), events=(event,))


@pytest.fixture
def store() -> ToyStore:
    return ToyStore([product_json(f"p{i}", f"Product {i}", 1) for i in range(5)])


@pytest.fixture
def container(sqlite_url: str, tmp_path: Path, store: ToyStore) -> Iterator[Container]:
    c = make_container(sqlite_url, tmp_path)
    c.connectors[PLATFORM] = ToyConnector(store)  # type: ignore[assignment]
    yield c
    run(c.close())


def names(container: Container, connection_id: str) -> dict[str, str]:
    with container.uow() as uow:
        found = uow.records.find(Product, connection_id=connection_id)
    return {p.external_id: p.name for p in found}


def test_backfill_resumes_from_its_checkpoint_and_equals_the_webhook_fed_store(
    container: Container, store: ToyStore
) -> None:
    backfilled = container.connections.create(PLATFORM, "A", ["toy-secret-1"], actor="t")
    store.fail_on_page = 1
    with pytest.raises(ConnectionError):
        run(container.backfill.run(backfilled.id, since=None))
    [cp] = container.backfill.checkpoints(backfilled.id)
    assert cp.cursor == "2" and not cp.done and cp.objects == 2
    store.calls.clear()
    counts = run(container.backfill.run(backfilled.id, since=None))
    assert counts == {"products": 3} and store.calls == ["page 1", "page 2"]  # resumed
    assert run(container.backfill.run(backfilled.id, since=None)) == {"products": 0}  # done
    again = run(container.backfill.run(backfilled.id, since=None, restart=True))
    assert again == {"products": 5}  # fetched again, but the inbox stores each version once
    run(pump(container))

    fed = container.connections.create(PLATFORM, "B", ["toy-secret-1"], actor="t")
    for p in store.products:
        body = json.dumps({**p, "topic": "product.updated"}).encode()
        delivery = RawDelivery(
            PLATFORM, fed.id, f"{p['id']}:1", "product.updated", body, datetime.now(UTC)
        )
        run(container.inbox.accept(delivery))
    run(pump(container))
    assert names(container, backfilled.id) == names(container, fed.id) != {}
    assert len(names(container, backfilled.id)) == 5


def test_a_doorbell_notification_fetches_the_objects_it_names(
    container: Container, store: ToyStore
) -> None:
    conn = container.connections.create(PLATFORM, "A", ["toy-secret-1"], actor="t")
    body = json.dumps({"ids": ["p1", "p3"]}).encode()
    run(
        container.inbox.accept(
            RawDelivery(PLATFORM, conn.id, "bell-1", "products.named", body, datetime.now(UTC))
        )
    )
    run(pump(container))
    assert names(container, conn.id) == {"p1": "Product 1", "p3": "Product 3"}
    assert store.calls == ["fetch ['p1', 'p3']"]


def test_an_oauth_install_checks_its_state_and_keeps_the_tokens_encrypted(
    container: Container,
) -> None:
    connector = container.connectors[PLATFORM]
    states = container.oauth_states
    state = states.issue(PLATFORM, {"shop": "corner-shop"})
    install = lambda q: run(  # noqa: E731
        complete_install(connector, container.connections, states, q, redirect_uri="https://x/cb")
    )
    with pytest.raises(SignatureError, match="not one we issued"):
        install({"state": state[:-4] + "AAAA", "sig": "ok", "shop": "corner-shop"})
    with pytest.raises(SignatureError, match="another platform"):
        install({"state": states.issue("shopify", {}), "sig": "ok", "shop": "x"})
    with pytest.raises(SignatureError, match="callback signature"):
        install({"state": state, "sig": "forged", "shop": "corner-shop"})
    assert container.connections.list() == []

    fresh = states.issue(PLATFORM, {"shop": "corner-shop"})
    conn = install({"state": fresh, "sig": "ok", "shop": "corner-shop"})
    with pytest.raises(SignatureError, match="already used"):
        install({"state": fresh, "sig": "ok", "shop": "corner-shop"})
    assert conn.name == "corner-shop" and conn.config == {"shop": "corner-shop"}
    assert container.connections.credentials_for(conn.id) == Credentials(
        access_token="at-1", refresh_token="rt-1", scopes=("read_products",)
    )
    with container.engine.connect() as db:
        blob = db.execute(select(connections_table.c.credentials_encrypted)).scalar_one()
    assert b"at-1" not in blob and b"rt-1" not in blob

    ctx = container.connections.context(conn.id, {"client_id": "app"})
    assert ctx.credentials.access_token == "at-1" and ctx.config["shop"] == "corner-shop"
    assert ctx.save_credentials is not None
    run(ctx.save_credentials(Credentials(access_token="at-2", refresh_token="rt-2")))
    with pytest.raises(ConcurrentRotation):  # another process, still holding rt-1
        container.connections.save_credentials(
            conn.id, Credentials(access_token="x", refresh_token="y"), actor="t", replaces="rt-1"
        )
    assert container.connections.credentials_for(conn.id).access_token == "at-2"  # type: ignore[union-attr]
    audit = str([e.inputs for e in container.audit.list(limit=1000)])
    audit += str([e.outputs for e in container.audit.list(limit=1000)])
    assert "at-1" not in audit and "rt-2" not in audit


def test_inspect_prints_canonical_json_or_names_what_it_could_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import REFERENCE_SALE_BYTES
    from tillwise.cli import app

    monkeypatch.setenv("TILLWISE_SECRET_KEY_FILE", str(tmp_path / "k"))
    good = tmp_path / "sale.json"
    good.write_bytes(REFERENCE_SALE_BYTES)
    runner = CliRunner()
    result = runner.invoke(
        app, ["inspect", "--platform", "generic", "--topic", "sale.completed", str(good)]
    )
    assert result.exit_code == 0, result.output
    batch = json.loads(result.output)
    [sale] = [r for r in batch["records"] if r["kind"] == "transaction"]
    assert sale["total"] == {"amount": 4987, "currency": "USD"}

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"event": "sale.completed", "data": {"id": 7}}))
    failed = runner.invoke(
        app, ["inspect", "--platform", "generic", "--topic", "sale.completed", str(bad)]
    )
    assert failed.exit_code == 1 and str(bad) in failed.output
    unknown = runner.invoke(app, ["inspect", "--platform", "nope", "--topic", "x", str(good)])
    assert unknown.exit_code == 1 and "unknown platform" in unknown.output
