"""A local fake of the Clover REST v3 API and OAuth v2, built from the corpus orders.

Reproduces, as documented: ``{"elements": [...], "href"}`` lists with ``limit``/``offset``
(and ``filter=modifiedTime>=<ms>``), 429s naming the limit hit (``X-RateLimit-tokenLimit``
or ``X-RateLimit-crossTokenLimit``), expiring bearer tokens (401 until refreshed), single-use
rotating refresh tokens (``POST /oauth/v2/refresh``), the code exchange
(``POST /oauth/v2/token``), ``item_stocks`` (absolute quantity), customer metadata and
discounts, with ``Idempotency-Key`` replays. Error bodies are ``{"message": ...}``.

Concurrency probe: give one or more fakes a shared :class:`Gate` and every ``/v3`` request is
held open until the gate opens, counted in flight per fake (per merchant token) and across
the gate (per app) — Clover caps both (5 per token, 10 per app).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "clover"
MERCHANT = "GARENZRPEFZ6E"
CLIENT_ID = "APPCLIENT0001"
CLIENT_SECRET = "app-secret-for-tests"
BASE = "https://api.clover.com"


def corpus_orders() -> list[dict[str, Any]]:
    """The two SDK-test orders, made paid, with a payment and a modifiedTime each."""
    out = []
    for name, mt in (
        ("api__order_expanded_lineitems_taxrates__sdk_test_1.json", 1546559370000),
        ("api__order_expanded_400_lineitems__sdk_test_400.json", 1546556700000),
    ):
        order = json.loads((CORPUS / name).read_bytes())
        order.update({"paymentState": "PAID", "state": "locked", "modifiedTime": mt})
        order["payments"] = {
            "elements": [
                {
                    "id": f"PAY{order['id'][:10]}",
                    "amount": order["total"],
                    "result": "SUCCESS",
                    "tender": {"labelKey": "com.clover.tender.cash", "label": "Cash"},
                }
            ]
        }
        out.append(order)
    return out


def corpus_items(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for order in orders:
        for li in order["lineItems"]["elements"]:
            iid = li["item"]["id"]
            seen.setdefault(
                iid,
                {
                    "id": iid,
                    "name": li["name"],
                    "price": li["price"],
                    "priceType": "FIXED",
                    "modifiedTime": 1546500000000 + len(seen),
                    "itemStock": {"item": {"id": iid}, "quantity": 50},
                },
            )
    return list(seen.values())


class Gate:
    """Holds requests open until :meth:`open`; counts those held (create it inside the loop)."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._changed = asyncio.Condition()
        self.in_flight = 0
        self.peak = 0

    def open(self) -> None:
        self._open.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait (no timing: woken by each arrival/departure) until ``predicate()`` holds."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def hold(self, fake: FakeClover) -> None:
        async with self._changed:
            self.in_flight += 1
            fake.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            fake.peak_in_flight = max(fake.peak_in_flight, fake.in_flight)
            self._changed.notify_all()
        try:
            await self._open.wait()
        finally:
            async with self._changed:
                self.in_flight -= 1
                fake.in_flight -= 1
                self._changed.notify_all()


Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class FakeClover:
    merchant_id: str = MERCHANT
    access_token: str = "at-0"
    refresh_token: str = "rt-0"
    codes: dict[str, str] = field(default_factory=lambda: {"code-1": MERCHANT})
    token_life_s: int = 3600
    now_s: int = 1_700_000_000
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    employees: dict[str, dict[str, Any]] = field(default_factory=dict)
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    throttles: list[str] = field(default_factory=list)  # "token" / "app" per next requests
    write_throttles: list[str] = field(default_factory=list)  # the same, for writes only
    write_keys: list[str | None] = field(default_factory=list)  # Idempotency-Key per write
    expired: bool = False
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    used_refresh_tokens: set[str] = field(default_factory=set)
    replays: dict[str, tuple[int, Any]] = field(default_factory=dict)
    gate: Gate | None = None  # holds /v3 requests open (a concurrency probe)
    in_flight: int = 0  # /v3 requests being held by the gate now
    peak_in_flight: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        orders = corpus_orders()
        self.orders = {o["id"]: o for o in orders}
        self.items = {i["id"]: i for i in corpus_items(orders)}
        self.customers = {
            "CUSTOMER00001": {
                "id": "CUSTOMER00001",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "marketingAllowed": True,
                "modifiedTime": 1546000000000,
                "emailAddresses": {"elements": [{"emailAddress": "ada@example.com"}]},
                "metadata": {"note": "prefers email"},
            }
        }
        self.employees = {
            "DFLTEMPLOYEE": {"id": "DFLTEMPLOYEE", "name": "Employee", "role": "EMPLOYEE"}
        }

    # -- state helpers for tests -----------------------------------------------------------
    def expire_token(self) -> None:
        self.expired = True

    def stock(self, item_id: str) -> Any:
        return self.items[item_id]["itemStock"]["quantity"]

    def _new_tokens(self) -> dict[str, Any]:
        n = next(self._ids)
        self.access_token, self.refresh_token = f"at-{n}", f"rt-{n}"
        self.expired = False
        return {
            "access_token": self.access_token,
            "access_token_expiration": self.now_s + self.token_life_s,
            "refresh_token": self.refresh_token,
            "refresh_token_expiration": self.now_s + 30 * 86400,
        }

    # -- the ASGI app ----------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth/v2/token", self.token, methods=["POST"]),
                Route("/oauth/v2/refresh", self.refresh, methods=["POST"]),
                Route("/v3/merchants/{mid}", self._held(self.merchant), methods=["GET"]),
                Route(
                    "/v3/merchants/{mid}/{res}",
                    self._held(self.collection),
                    methods=["GET", "POST"],
                ),
                Route(
                    "/v3/merchants/{mid}/{res}/{oid}",
                    self._held(self.one),
                    methods=["GET", "POST", "DELETE"],
                ),
            ]
        )

    def _held(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            if self.gate is not None:
                await self.gate.hold(self)
            return await handler(request)

        return endpoint

    async def token(self, request: Request) -> Response:
        body = await request.json()
        if body.get("client_id") != CLIENT_ID or body.get("client_secret") != CLIENT_SECRET:
            return JSONResponse({"message": "invalid client"}, status_code=401)
        if body.get("code") not in self.codes:
            return JSONResponse({"message": "invalid code"}, status_code=400)
        self.codes.pop(body["code"])
        return JSONResponse(self._new_tokens())

    async def refresh(self, request: Request) -> Response:
        body = await request.json()
        token = body.get("refresh_token")
        if body.get("client_id") != CLIENT_ID:
            return JSONResponse({"message": "invalid client"}, status_code=401)
        if token in self.used_refresh_tokens or token != self.refresh_token:
            return JSONResponse({"message": "refresh token already used or unknown"}, 401)
        self.used_refresh_tokens.add(token)
        return JSONResponse(self._new_tokens())

    def _guard(self, request: Request) -> Response | None:
        self.requests.append((request.method, request.url.path, dict(request.query_params)))
        if request.method in ("POST", "DELETE"):
            self.write_keys.append(request.headers.get("idempotency-key"))
        queue = self.throttles
        if not queue and request.method in ("POST", "DELETE"):
            queue = self.write_throttles
        if queue:
            scope = queue.pop(0)
            header = "X-RateLimit-crossTokenLimit" if scope == "app" else "X-RateLimit-tokenLimit"
            return JSONResponse({"message": "Too Many Requests"}, 429, headers={header: "1"})
        if request.headers.get("authorization") != f"Bearer {self.access_token}" or self.expired:
            return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
        if request.path_params["mid"] != self.merchant_id:
            return JSONResponse({"message": "Merchant not found"}, status_code=404)
        return None

    def _href(self, res: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, "href": f"{BASE}/v3/merchants/{self.merchant_id}/{res}/{obj['id']}"}

    def _store(self, res: str) -> dict[str, dict[str, Any]] | None:
        return {
            "orders": self.orders,
            "items": self.items,
            "customers": self.customers,
            "employees": self.employees,
            "discounts": self.discounts,
        }.get(res)

    async def merchant(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        return JSONResponse(
            {
                "href": f"{BASE}/v3/merchants/{self.merchant_id}",
                "id": self.merchant_id,
                "name": "Jeff's Diner",
                "address": {"country": "US"},
                "properties": {"timezone": "America/Los_Angeles", "defaultCurrency": "USD"},
            }
        )

    async def collection(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        res = request.path_params["res"]
        if request.method == "POST":
            return await self._create(request, res)
        if res == "item_stocks":
            objs = [copy.deepcopy(i["itemStock"]) for i in self.items.values()]
        else:
            store = self._store(res)
            if store is None:
                return JSONResponse({"message": f"unknown resource {res}"}, status_code=404)
            objs = [self._href(res, copy.deepcopy(o)) for o in store.values()]
        flt = request.query_params.get("filter", "")
        if flt.startswith("modifiedTime>="):
            since = int(flt.split(">=", 1)[1])
            objs = [o for o in objs if (o.get("modifiedTime") or o.get("createdTime", 0)) >= since]
            objs.sort(key=lambda o: o.get("modifiedTime") or o.get("createdTime", 0))
        limit = min(int(request.query_params.get("limit", 100)), 1000)
        offset = int(request.query_params.get("offset", 0))
        return JSONResponse(
            {
                "elements": objs[offset : offset + limit],
                "href": f"{BASE}{request.url.path}?limit={limit}",
            }
        )

    async def _create(self, request: Request, res: str) -> Response:
        replay = self._replay(request)
        if replay is not None:
            return replay
        if res != "discounts":
            return JSONResponse({"message": "method not allowed"}, status_code=405)
        body = await request.json()
        did = f"DISC{next(self._ids):09d}"
        self.discounts[did] = {"id": did, **body}
        return self._remember(request, 200, self.discounts[did])

    def _replay(self, request: Request) -> Response | None:
        key = request.headers.get("idempotency-key")
        if key is not None and key in self.replays:
            status, body = self.replays[key]
            return JSONResponse(body, status_code=status, headers={"Idempotent-Replayed": "true"})
        return None

    def _remember(self, request: Request, status: int, body: Any) -> Response:
        key = request.headers.get("idempotency-key")
        if key is not None:
            self.replays[key] = (status, body)
        return JSONResponse(body, status_code=status)

    async def one(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        res, oid = request.path_params["res"], request.path_params["oid"]
        if res == "item_stocks":
            item = self.items.get(oid)
            if item is None:
                return JSONResponse({"message": "Item not found"}, status_code=404)
            if request.method == "POST":
                if (replay := self._replay(request)) is not None:
                    return replay
                body = await request.json()
                item["itemStock"]["quantity"] = body["quantity"]
                return self._remember(request, 200, item["itemStock"])
            return JSONResponse(item["itemStock"])
        store = self._store(res)
        if store is None or oid not in store:
            return JSONResponse({"message": f"{res} {oid} not found"}, status_code=404)
        if request.method == "DELETE":
            store.pop(oid)
            return JSONResponse({})
        if request.method == "POST":
            if (replay := self._replay(request)) is not None:
                return replay
            body = await request.json()
            for k, v in body.items():
                store[oid][k] = {**store[oid].get(k, {}), **v} if isinstance(v, dict) else v
            return self._remember(request, 200, store[oid])
        return JSONResponse(self._href(res, copy.deepcopy(store[oid])))
