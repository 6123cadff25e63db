"""A local fake of the Square API (connect.squareup.com /v2 and /oauth2), for tests.

Reproduces what the connector relies on (docs/platforms/square.md), from Square's documented
contracts — no live API was called:

* ``Authorization: Bearer <token>``; unknown or expired tokens → 401
  ``{"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED"}]}``;
* every request's ``Square-Version`` header is recorded (tests assert it is sent);
* cursor pagination: ``cursor`` in the response, back as a query parameter (List*) or in the
  JSON body (Search*, BatchRetrieveInventoryCounts); a cursor it did not issue → 400
  ``INVALID_CURSOR``; ``page_size`` objects a page;
* ``throttle(n)``: the next ``n`` API requests answer 429 ``RATE_LIMITED`` (no Retry-After —
  Square documents none);
* ``fail_after_write(n)``: the next ``n`` writes are applied and then answered 500, as when the
  answer is lost — a retry with the same ``idempotency_key`` must not apply them twice;
* writes with an ``idempotency_key``: the same key with the same body replays the first answer,
  with a different body → 400 ``IDEMPOTENCY_KEY_REUSED``;
* OAuth ``POST /oauth2/token``: ``authorization_code`` and ``refresh_token`` grants; the code
  flow returns the same refresh token (``rotate_refresh=True`` hands out a new one, as PKCE
  does, and the old one stops working); ``expires_at`` is an ISO date string.

The store is built from the corpus objects in tests/fixtures/payloads/square/.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "square"
APPLICATION_ID = "sq0idp-test-app"
APPLICATION_SECRET = "sq0csp-test-secret"
MERCHANT_ID = "MLQW2MYBY81PZ"
AUTH_CODE = "sq0cgb-test-code"


def corpus(name: str) -> Any:
    return json.loads((CORPUS / name).read_text())


def _error(status: int, category: str, code: str, detail: str = "", field: str = "") -> Response:
    err: dict[str, Any] = {"category": category, "code": code, "detail": detail}
    if field:
        err["field"] = field
    return JSONResponse({"errors": [err]}, status_code=status)


@dataclass
class Token:
    access: str
    expires_at: datetime


@dataclass
class FakeSquare:
    page_size: int = 1
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    rotate_refresh: bool = False
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    writes_applied: list[dict[str, Any]] = field(default_factory=list)
    _throttle: int = 0
    _fail_after_write: int = 0
    _idempotency: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _serial: int = 0

    def __post_init__(self) -> None:
        self.locations = {
            loc["id"]: loc for loc in corpus("api__list_locations_response.json")["locations"]
        }
        orders = [
            corpus("api__pay_order_response.json")["order"],
            corpus("derived__create_order_completed.json")["order"],
            corpus("api__update_order_response.json")["order"],  # OPEN
        ]
        # the corpus orders name locations the corpus does not list: put them at ours
        for order, loc in zip(
            orders, ["18YC4JDH91E1H", "3Z4V4WHQK64X9", "18YC4JDH91E1H"], strict=True
        ):
            order["location_id"] = loc
        self.orders = {o["id"]: o for o in orders}
        self.items = {
            o["id"]: o
            for o in corpus("api__batch_retrieve_catalog_objects_response.json")["objects"]
            + corpus("api__search_catalog_items_response.json")["items"]
        }
        self.customers = {
            c["id"]: c
            for c in [
                corpus("api__list_customers_response.json")["customers"][0],
                corpus("webhook__customer_created_event.json")["data"]["object"]["customer"],
            ]
        }
        self.counts = [
            corpus("api__retrieve_inventory_count_response.json")["counts"][0],
            corpus("webhook__inventory_count_updated_event.json")["data"]["object"][
                "inventory_counts"
            ][0],
        ]
        self.refunds = {
            r["id"]: r
            for r in [
                corpus("api__get_payment_refund_response.json")["refund"],
                corpus("api__refund_payment_response.json")["refund"],
            ]
        }
        self.payments = {
            p["id"]: p
            for p in [
                corpus("api__get_payment_response.json")["payment"],
                corpus("webhook__payment_created_event.json")["data"]["object"]["payment"],
            ]
        }
        self.team_members = [
            corpus("api__retrieve_team_member_response.json")["team_member"],
            corpus("webhook__team_member_created_event.json")["data"]["object"]["team_member"],
        ]
        self.vendors = [
            corpus("api__retrieve_vendor_response.json")["vendor"],
            corpus("webhook__vendor_updated_event.json")["data"]["object"]["vendor"],
        ]
        self.timecards = corpus("api__search_timecards_response.json")["timecards"]
        self.catalog_writes: dict[str, dict[str, Any]] = {}

    # -- test controls ---------------------------------------------------------------------

    def issue_token(self, *, lifetime: timedelta = timedelta(days=30)) -> tuple[str, str]:
        """A valid (access, refresh) pair, as an install would leave."""
        self._serial += 1
        access = f"EAAA-access-{self._serial}"
        refresh = f"EQAA-refresh-{self._serial}"
        self.tokens[access] = Token(access, self.now + lifetime)
        self.refresh_tokens.add(refresh)
        return access, refresh

    def throttle(self, n: int) -> None:
        self._throttle = n

    def fail_after_write(self, n: int) -> None:
        self._fail_after_write = n

    def api_requests(self, path: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if path is None or r["path"] == path]

    # -- plumbing --------------------------------------------------------------------------

    def _auth(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        token = self.tokens.get(header.removeprefix("Bearer ").strip())
        if not header.startswith("Bearer ") or token is None or token.expires_at <= self.now:
            return _error(
                401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized."
            )
        return None

    async def _enter(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        raw = await request.body()
        body = json.loads(raw) if raw else {}
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "body": body,
                "version": request.headers.get("square-version"),
                "authorization": request.headers.get("authorization"),
            }
        )
        denied = self._auth(request)
        if denied is not None:
            return body, denied
        if self._throttle > 0:
            self._throttle -= 1
            return body, _error(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limited.")
        return body, None

    def _page(self, key: str, objects: list[Any], cursor: str | None) -> Response:
        start = 0
        if cursor:
            try:
                start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("o:"))
            except ValueError:
                return _error(
                    400, "INVALID_REQUEST_ERROR", "INVALID_CURSOR", "bad cursor", "cursor"
                )
        chunk = objects[start : start + self.page_size]
        out: dict[str, Any] = {key: copy.deepcopy(chunk)}
        if start + self.page_size < len(objects):
            nxt = f"o:{start + self.page_size}".encode()
            out["cursor"] = base64.urlsafe_b64encode(nxt).decode()
        return JSONResponse(out)

    def _idempotent(self, body: dict[str, Any], apply: Any) -> Response:
        key = body.get("idempotency_key")
        if not isinstance(key, str) or not key:
            return _error(
                400, "INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER", "", "idempotency_key"
            )
        fingerprint = json.dumps(body, sort_keys=True)
        if key in self._idempotency:
            seen, answer = self._idempotency[key]
            if seen != fingerprint:
                return _error(
                    400, "INVALID_REQUEST_ERROR", "IDEMPOTENCY_KEY_REUSED", "", "idempotency_key"
                )
        else:
            answer = apply()
            self.writes_applied.append(body)
            self._idempotency[key] = (fingerprint, answer)
        if self._fail_after_write > 0:
            self._fail_after_write -= 1
            return _error(500, "API_ERROR", "INTERNAL_SERVER_ERROR", "answer lost")
        return JSONResponse(copy.deepcopy(answer))

    # -- API -------------------------------------------------------------------------------

    async def list_locations(self, request: Request) -> Response:
        _, denied = await self._enter(request)
        return denied or JSONResponse({"locations": list(self.locations.values())})

    async def get_one(self, request: Request) -> Response:
        _, denied = await self._enter(request)
        if denied:
            return denied
        kind, oid = request.path_params["kind"], request.path_params["id"]
        store: dict[str, tuple[dict[str, Any], str]] = {
            "locations": (self.locations, "location"),
            "customers": (self.customers, "customer"),
            "refunds": (self.refunds, "refund"),
            "payments": (self.payments, "payment"),
        }
        if kind not in store or oid not in store[kind][0]:
            return _error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"{kind} {oid} not found")
        objects, key = store[kind]
        return JSONResponse({key: objects[oid]})

    async def search(self, request: Request) -> Response:
        body, denied = await self._enter(request)
        if denied:
            return denied
        path = request.url.path
        objects: list[Any]
        if path == "/v2/team-members/search":
            key, objects = "team_members", self.team_members
        elif path == "/v2/vendors/search":
            key, objects = "vendors", self.vendors
        elif path == "/v2/customers/search":
            key, objects = "customers", list(self.customers.values())
            start = body.get("query", {}).get("filter", {}).get("updated_at", {}).get("start_at")
            if start:
                objects = [c for c in objects if c["updated_at"] >= start]
        elif path == "/v2/catalog/search":
            key = "objects"
            types = body.get("object_types") or []
            objects = [o for o in self.items.values() if o["type"] in types]
            begin = body.get("begin_time")
            if begin:
                since = datetime.fromisoformat(begin.replace("Z", "+00:00"))
                objects = [
                    o
                    for o in objects
                    if datetime.fromisoformat(o["updated_at"].replace("Z", "+00:00")) >= since
                ]
        elif path == "/v2/inventory/counts/batch-retrieve":
            key = "counts"
            states = body.get("states")
            objects = [c for c in self.counts if not states or c["state"] in states]
        elif path == "/v2/labor/shifts/search":
            key, objects = "shifts", self.timecards
        elif path == "/v2/labor/timecards/search":
            key, objects = "timecards", self.timecards
        elif path == "/v2/orders/search":
            locations = body.get("location_ids") or []
            if not locations or len(locations) > 10:
                return _error(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "INVALID_VALUE",
                    "1..10 location_ids",
                    "location_ids",
                )
            states = body.get("query", {}).get("filter", {}).get("state_filter", {}).get("states")
            key = "orders"
            objects = [
                o
                for o in self.orders.values()
                if o["location_id"] in locations and (not states or o.get("state") in states)
            ]
        else:  # pragma: no cover - routes below list only the paths above
            return _error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND")
        return self._page(key, objects, body.get("cursor"))

    async def list_refunds(self, request: Request) -> Response:
        _, denied = await self._enter(request)
        if denied:
            return denied
        return self._page(
            "refunds", list(self.refunds.values()), request.query_params.get("cursor")
        )

    async def batch_retrieve_orders(self, request: Request) -> Response:
        body, denied = await self._enter(request)
        if denied:
            return denied
        ids = body.get("order_ids") or []
        if len(ids) > 100:
            return _error(400, "INVALID_REQUEST_ERROR", "INVALID_ARRAY_LENGTH", "", "order_ids")
        return JSONResponse({"orders": [self.orders[i] for i in ids if i in self.orders]})

    async def batch_retrieve_catalog(self, request: Request) -> Response:
        body, denied = await self._enter(request)
        if denied:
            return denied
        ids = body.get("object_ids") or []
        return JSONResponse({"objects": [self.items[i] for i in ids if i in self.items]})

    async def batch_change_inventory(self, request: Request) -> Response:
        body, denied = await self._enter(request)
        if denied:
            return denied

        def apply() -> dict[str, Any]:
            counts = []
            for change in body.get("changes") or []:
                if change["type"] == "TRANSFER":  # IN_STOCK out of one store, into the other
                    t = change["transfer"]
                    qty = int(t["quantity"])
                    moves = [(t["from_location_id"], -qty), (t["to_location_id"], qty)]
                    item = t["catalog_object_id"]
                else:
                    adj = change["adjustment"]
                    qty = int(adj["quantity"])
                    moves = [(adj["location_id"], qty if adj["to_state"] == "IN_STOCK" else -qty)]
                    item = adj["catalog_object_id"]
                for location, delta in moves:
                    for count in self.counts:
                        if (
                            count["catalog_object_id"] == item
                            and count["location_id"] == location
                            and count["state"] == "IN_STOCK"
                        ):
                            count["quantity"] = str(int(count["quantity"]) + delta)
                            count["calculated_at"] = self.now.isoformat().replace("+00:00", "Z")
                            counts.append(copy.deepcopy(count))
            return {"counts": counts}

        return self._idempotent(body, apply)

    async def upsert_catalog_object(self, request: Request) -> Response:
        body, denied = await self._enter(request)
        if denied:
            return denied

        def apply() -> dict[str, Any]:
            obj = copy.deepcopy(body["object"])
            temp = obj["id"]
            self._serial += 1
            obj["id"] = f"DISC{self._serial:020d}"
            obj["version"] = 1700000000000 + self._serial
            self.catalog_writes[obj["id"]] = obj
            return {
                "catalog_object": obj,
                "id_mappings": [{"client_object_id": temp, "object_id": obj["id"]}],
            }

        return self._idempotent(body, apply)

    async def delete_catalog_object(self, request: Request) -> Response:
        _, denied = await self._enter(request)
        if denied:
            return denied
        oid = request.path_params["id"]
        if self.catalog_writes.pop(oid, None) is None:
            return _error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"object {oid} not found")
        return JSONResponse({"deleted_object_ids": [oid], "deleted_at": self.now.isoformat()})

    async def update_customer(self, request: Request) -> Response:
        body, denied = await self._enter(request)
        if denied:
            return denied
        customer = self.customers.get(request.path_params["id"])
        if customer is None:
            return _error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND")
        if "version" in body and body["version"] != customer.get("version"):
            return _error(400, "INVALID_REQUEST_ERROR", "CONFLICT", "version mismatch", "version")
        customer.update({k: v for k, v in body.items() if k != "version"})
        customer["version"] = customer.get("version", 0) + 1
        self.writes_applied.append(body)
        return JSONResponse({"customer": customer})

    # -- OAuth -----------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.token_requests.append(body)
        if (
            body.get("client_id") != APPLICATION_ID
            or body.get("client_secret") != APPLICATION_SECRET
        ):
            return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Not Authorized")
        grant = body.get("grant_type")
        if grant == "authorization_code":
            if body.get("code") != AUTH_CODE:
                return _error(
                    401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Authorization code is invalid"
                )
            access, refresh = self.issue_token()
        elif grant == "refresh_token":
            old = body.get("refresh_token")
            if old not in self.refresh_tokens:
                return _error(
                    401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Refresh token is invalid"
                )
            access, refresh = self.issue_token()
            self.refresh_tokens.discard(refresh)
            if self.rotate_refresh:
                self.refresh_tokens.discard(old)  # single use: only the new one works now
                self.refresh_tokens.add(refresh)
            else:
                refresh = old  # the code flow returns the same refresh token
        else:
            return _error(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "", "grant_type")
        expires = self.tokens[access].expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_at": expires,
                "merchant_id": MERCHANT_ID,
                "refresh_token": refresh,
                "short_lived": False,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth2/token", self.token, methods=["POST"]),
                Route("/v2/locations", self.list_locations, methods=["GET"]),
                Route("/v2/refunds", self.list_refunds, methods=["GET"]),
                Route("/v2/orders/batch-retrieve", self.batch_retrieve_orders, methods=["POST"]),
                Route("/v2/catalog/batch-retrieve", self.batch_retrieve_catalog, methods=["POST"]),
                Route(
                    "/v2/inventory/changes/batch-create",
                    self.batch_change_inventory,
                    methods=["POST"],
                ),
                Route("/v2/catalog/object", self.upsert_catalog_object, methods=["POST"]),
                Route("/v2/catalog/object/{id}", self.delete_catalog_object, methods=["DELETE"]),
                Route("/v2/customers/{id}", self.update_customer, methods=["PUT"]),
                *[
                    Route(p, self.search, methods=["POST"])
                    for p in (
                        "/v2/team-members/search",
                        "/v2/vendors/search",
                        "/v2/customers/search",
                        "/v2/catalog/search",
                        "/v2/inventory/counts/batch-retrieve",
                        "/v2/labor/shifts/search",
                        "/v2/labor/timecards/search",
                        "/v2/orders/search",
                    )
                ],
                Route("/v2/{kind}/{id}", self.get_one, methods=["GET"]),
            ]
        )
