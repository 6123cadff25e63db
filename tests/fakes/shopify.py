"""A local fake of the Shopify Admin API (REST + GraphQL + OAuth), for tests.

Reproduces what the connector relies on (/work/shared/POS_PLATFORMS.md §1,
docs/platforms/shopify.md), from Shopify's documented contracts — no live API was called:

* ``X-Shopify-Access-Token``; unknown or expired tokens → 401
  ``{"errors": "[API] Invalid API key or access token ..."}``;
* REST pagination: ``Link: <…page_info=…>; rel="next"`` (and ``rel="previous"``); a request with
  ``page_info`` may carry only ``limit`` (anything else → 400, as Shopify answers); ``limit``
  and ``page_size`` cap a page; ``updated_at_min`` filters the first page;
* REST leaky bucket: ``X-Shopify-Shop-Api-Call-Limit: used/40`` on every REST answer, draining
  at ``leak_rate`` per second of ``clock()``; a full bucket → 429 with ``Retry-After``;
  ``throttle(n)`` forces the next ``n`` REST requests to 429 (``Retry-After: 2.0``);
* GraphQL cost: each query costs ``1 + first`` (mutations 10); the bucket holds
  ``graphql_max`` points restored at ``restore_rate``/s of ``clock()``; a query that costs
  more than is available is answered 200 with ``errors[].extensions.code = THROTTLED`` and
  ``extensions.cost.throttleStatus``; GraphQL pages are ``first/after`` + ``pageInfo``;
* OAuth ``POST /admin/oauth/access_token``: the code grant (``expiring=1`` in the request
  → an expiring offline token with ``expires_in`` + ``refresh_token``; otherwise a
  non-expiring token) and ``grant_type=refresh_token`` (a NEW access and refresh token each
  time; the used refresh token stops working — single use);
* ``GET shop.json`` (the corpus shop, with the ``iana_timezone`` its ``timezone`` names,
  ``America/New_York``); ``fields=a,b`` keeps only those fields;
* writes: GraphQL ``inventoryAdjustQuantities``; REST ``price_rules.json``,
  ``price_rules/{id}/discount_codes.json`` (a code is unique per shop → 422),
  ``discount_codes/lookup.json`` (303 See Other to the code, or 404), ``DELETE
  price_rules/{id}.json``, ``PUT customers/{id}.json``; a REST write's ``Idempotency-Key``
  header seen before replays the first answer [UNVERIFIED: Shopify does not document honouring
  it]; an inventory adjustment is deduplicated only by its documented ``@idempotent(key:)``
  directive (API 2026-01 and later; required from 2026-04, at any API version in the path);
  ``fail_after_write(n)`` applies the next ``n`` writes and answers 500 (answer lost).

The store is built from the corpus objects in tests/fixtures/payloads/shopify/.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "shopify"
SHOP = "tillwise-test.myshopify.com"
CLIENT_ID = "shopify-test-client-id"
CLIENT_SECRET = "shpss_test_secret"
AUTH_CODE = "shopify-test-code"
VERSION = "2024-04"
SCOPES = "read_orders,read_products,read_inventory,write_inventory"
API = "/admin/api/{version}"  # any version, as Shopify serves every supported one


def corpus(name: str) -> Any:
    return json.loads((CORPUS / name).read_text())


def _utc(value: str) -> str:
    """An ISO timestamp as GraphQL answers it (UTC, ``Z``)."""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _legacy(gid: str) -> str:
    return gid.rsplit("/", 1)[-1]


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(cursor: str) -> int:
    return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"])


@dataclass
class FakeShopify:
    page_size: int = 1
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    clock: Callable[[], float] = lambda: 0.0  # seconds; drains the REST and GraphQL buckets
    bucket_size: int = 40
    leak_rate: float = 2.0
    bucket_used: float = 0.0
    graphql_max: float = 1000.0
    graphql_available: float = 1000.0
    restore_rate: float = 50.0
    tokens: dict[str, datetime] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    writes_applied: list[dict[str, Any]] = field(default_factory=list)
    _throttle: int = 0
    _fail_after_write: int = 0
    _idempotency: dict[str, tuple[int, Any]] = field(default_factory=dict)
    _serial: int = 0
    _last_rest: float | None = None
    _last_graphql: float | None = None

    def __post_init__(self) -> None:
        self.locations = {str(x["id"]): x for x in corpus("rest__locations.json")["locations"]}
        product = corpus("rest__product.json")["product"]
        for variant in product["variants"]:
            variant["inventory_item_id"] = variant["id"]  # the corpus items share the ids
        self.products = {str(product["id"]): product}
        self.variants = {
            str(v["id"]): {**v, "product_id": product["id"]} for v in product["variants"]
        }
        self.customers = {str(c["id"]): c for c in [corpus("rest__customer.json")["customer"]]}
        second = corpus("rest_2024-04__order__test_14.json")["order"]
        second["id"], second["name"] = 450789470, "#1002"  # a second order (derived)
        second["admin_graphql_api_id"] = "gid://shopify/Order/450789470"
        orders = [corpus("rest__order.json")["order"], second]
        self.orders = {str(o["id"]): o for o in orders}
        self.items = {
            str(i["id"]): i for i in corpus("rest__inventory_items.json")["inventory_items"]
        }
        levels = corpus("rest__location_inventory_levels.json")["inventory_levels"]
        levels.append({**corpus("rest__inventory_level.json")["inventory_level"]})
        levels[-1]["location_id"] = 1034478814  # at a location the fake lists
        self.levels: dict[tuple[str, str], dict[str, Any]] = {
            (str(lv["inventory_item_id"]), str(lv["location_id"])): {
                **lv,
                "on_hand": lv["available"] + 1,  # one unit committed to an open order
            }
            for lv in levels
        }
        self.price_rules: dict[str, dict[str, Any]] = {}
        self.discount_codes: dict[str, dict[str, Any]] = {}
        # "(GMT-05:00) Eastern Time (US & Canada)": the corpus shop names no IANA zone itself
        self.shop = {**corpus("rest__graphql.json")["shop"], "iana_timezone": "America/New_York"}

    # -- test controls ---------------------------------------------------------------------

    def issue_token(self, *, lifetime: timedelta = timedelta(hours=1)) -> tuple[str, str]:
        """A valid expiring (access, refresh) pair, as an install would leave."""
        self._serial += 1
        access, refresh = f"shpat_access_{self._serial}", f"shprt_refresh_{self._serial}"
        self.tokens[access] = self.now + lifetime
        self.refresh_tokens.add(refresh)
        return access, refresh

    def throttle(self, n: int) -> None:
        self._throttle = n

    def fail_after_write(self, n: int) -> None:
        self._fail_after_write = n

    def api_requests(self, suffix: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if suffix is None or r["path"].endswith(suffix)]

    def rest_level(self, item_id: str, location_id: str) -> dict[str, Any]:
        """The level as REST (and the ``inventory_levels/update`` webhook) shows it: no SKU."""
        lv = self.levels[(item_id, location_id)]
        return {k: lv[k] for k in ("inventory_item_id", "location_id", "available", "updated_at")}

    # -- plumbing --------------------------------------------------------------------------

    async def _enter(self, request: Request) -> tuple[Any, Response | None]:
        raw = await request.body()
        body = json.loads(raw) if raw else None
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "body": body,
                "token": request.headers.get("x-shopify-access-token"),
                "idempotency_key": request.headers.get("idempotency-key"),
            }
        )
        expires = self.tokens.get(request.headers.get("x-shopify-access-token") or "")
        if expires is None or expires <= self.now:
            return body, JSONResponse(
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
                status_code=401,
            )
        return body, None

    def _rest_bucket(self) -> tuple[bool, dict[str, str]]:
        """Count one REST call; (allowed, headers)."""
        t = self.clock()
        if self._last_rest is not None:
            self.bucket_used = max(0.0, self.bucket_used - (t - self._last_rest) * self.leak_rate)
        self._last_rest = t
        if self._throttle > 0 or self.bucket_used + 1 > self.bucket_size:
            self._throttle = max(0, self._throttle - 1)
            return False, {"Retry-After": "2.0"}
        self.bucket_used += 1
        return True, {
            "X-Shopify-Shop-Api-Call-Limit": f"{int(self.bucket_used)}/{self.bucket_size}"
        }

    async def _rest(self, request: Request) -> tuple[Any, Response | None, dict[str, str]]:
        body, denied = await self._enter(request)
        if denied is not None:
            return body, denied, {}
        allowed, headers = self._rest_bucket()
        if not allowed:
            return (
                body,
                JSONResponse(
                    {
                        "errors": "Exceeded 2 calls per second for api client. "
                        "Reduce request rates to resume uninterrupted service."
                    },
                    status_code=429,
                    headers=headers,
                ),
                {},
            )
        return body, None, headers

    def _write(
        self, request: Request, apply: Callable[[], tuple[int, Any]], key: str | None = ""
    ) -> Response:
        """A write; ``key`` deduplicates it (``""``: the ``Idempotency-Key`` header's)."""
        if key == "":
            key = request.headers.get("idempotency-key")
        if key and key in self._idempotency:
            status, answer = self._idempotency[key]
        else:
            status, answer = apply()
            refused = any(  # a GraphQL mutation's userErrors: nothing was changed
                isinstance(v, dict) and v.get("userErrors")
                for v in ((answer.get("data") or {}) if isinstance(answer, dict) else {}).values()
            )
            if status < 300 and not refused:
                self.writes_applied.append(
                    {"path": request.url.path, "key": key, "answer": copy.deepcopy(answer)}
                )
                if key:
                    self._idempotency[key] = (status, answer)
        if status < 300 and self._fail_after_write > 0:
            self._fail_after_write -= 1
            return JSONResponse({"errors": "Internal Server Error"}, status_code=500)
        return JSONResponse(copy.deepcopy(answer), status_code=status)

    # -- REST ------------------------------------------------------------------------------

    async def list_resource(self, request: Request) -> Response:
        _, denied, headers = await self._rest(request)
        if denied:
            return denied
        resource = request.path_params["resource"]
        stores: dict[str, dict[str, dict[str, Any]]] = {
            "locations": self.locations,
            "products": self.products,
            "customers": self.customers,
            "orders": self.orders,
        }
        if resource not in stores:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        query = dict(request.query_params)
        limit = int(query.pop("limit", 50))
        if limit > 250:
            return JSONResponse({"errors": {"limit": "must be <= 250"}}, status_code=400)
        size = min(limit, self.page_size)
        page_info = query.pop("page_info", None)
        objects = sorted(stores[resource].values(), key=lambda o: int(o["id"]))
        if page_info is not None:
            if query:  # Shopify: only limit (and fields) may go with page_info
                return JSONResponse(
                    {"errors": {"page_info": "Cannot use other parameters with page_info"}},
                    status_code=400,
                )
            try:
                state = json.loads(base64.urlsafe_b64decode(page_info.encode()))
                start, filters = int(state["o"]), state["q"]
            except (ValueError, KeyError, TypeError):
                return JSONResponse({"errors": {"page_info": "Invalid value."}}, status_code=400)
        else:
            start, filters = 0, query
        since = filters.get("updated_at_min")
        if since:
            floor = datetime.fromisoformat(since)
            objects = [o for o in objects if datetime.fromisoformat(o["updated_at"]) >= floor]
        chunk = objects[start : start + size]
        links = []
        url = f"https://{SHOP}/admin/api/{request.path_params['version']}/{resource}.json"

        def link(offset: int, rel: str) -> str:
            info = base64.urlsafe_b64encode(json.dumps({"o": offset, "q": filters}).encode())
            return f'<{url}?{urlencode({"limit": limit, "page_info": info.decode()})}>; rel="{rel}"'

        if start > 0:
            links.append(link(max(0, start - size), "previous"))
        if start + size < len(objects):
            links.append(link(start + size, "next"))
        if links:
            headers["Link"] = ", ".join(links)
        return JSONResponse({resource: copy.deepcopy(chunk)}, headers=headers)

    async def get_shop(self, request: Request) -> Response:
        _, denied, headers = await self._rest(request)
        if denied:
            return denied
        fields = request.query_params.get("fields")
        shop = {k: v for k, v in self.shop.items() if not fields or k in fields.split(",")}
        return JSONResponse({"shop": shop}, headers=headers)

    async def get_one(self, request: Request) -> Response:
        _, denied, headers = await self._rest(request)
        if denied:
            return denied
        kind, oid = request.path_params["resource"], request.path_params["id"]
        stores: dict[str, tuple[dict[str, dict[str, Any]], str]] = {
            "locations": (self.locations, "location"),
            "products": (self.products, "product"),
            "customers": (self.customers, "customer"),
            "orders": (self.orders, "order"),
            "variants": (self.variants, "variant"),
            "price_rules": (self.price_rules, "price_rule"),
        }
        if kind not in stores or oid not in stores[kind][0]:
            return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)
        objects, key = stores[kind]
        return JSONResponse({key: copy.deepcopy(objects[oid])}, headers=headers)

    async def create_price_rule(self, request: Request) -> Response:
        body, denied, _ = await self._rest(request)
        if denied:
            return denied

        def apply() -> tuple[int, Any]:
            rule = dict(body["price_rule"])
            if not str(rule.get("value", "")).startswith("-"):
                return 422, {"errors": {"value": ["must be less than 0"]}}
            self._serial += 1
            rule["id"] = 1000000 + self._serial
            self.price_rules[str(rule["id"])] = rule
            return 201, {"price_rule": rule}

        return self._write(request, apply)

    async def create_discount_code(self, request: Request) -> Response:
        body, denied, _ = await self._rest(request)
        if denied:
            return denied
        rule_id = request.path_params["id"]

        def apply() -> tuple[int, Any]:
            if rule_id not in self.price_rules:
                return 404, {"errors": "Not Found"}
            code = body["discount_code"]["code"]
            if any(c["code"].lower() == code.lower() for c in self.discount_codes.values()):
                return 422, {"errors": {"code": ["must be unique. Please try a different code."]}}
            self._serial += 1
            made = {"id": 2000000 + self._serial, "price_rule_id": int(rule_id), "code": code}
            self.discount_codes[str(made["id"])] = made
            return 201, {"discount_code": made}

        return self._write(request, apply)

    async def get_discount_code(self, request: Request) -> Response:
        _, denied, headers = await self._rest(request)
        if denied:
            return denied
        code = self.discount_codes.get(request.path_params["code_id"])
        if code is None or str(code["price_rule_id"]) != request.path_params["id"]:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        return JSONResponse({"discount_code": copy.deepcopy(code)}, headers=headers)

    async def lookup_discount_code(self, request: Request) -> Response:
        _, denied, headers = await self._rest(request)
        if denied:
            return denied
        wanted = (request.query_params.get("code") or "").lower()
        for code in self.discount_codes.values():
            if code["code"].lower() == wanted:  # documented: 303 to the code's own URL
                location = (
                    f"https://{SHOP}/admin/api/{request.path_params['version']}"
                    f"/price_rules/{code['price_rule_id']}"
                    f"/discount_codes/{code['id']}.json"
                )
                return Response(status_code=303, headers={**headers, "Location": location})
        return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)

    async def delete_price_rule(self, request: Request) -> Response:
        _, denied, headers = await self._rest(request)
        if denied:
            return denied
        rule_id = request.path_params["id"]
        if self.price_rules.pop(rule_id, None) is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        for cid in [
            k for k, c in self.discount_codes.items() if str(c["price_rule_id"]) == rule_id
        ]:
            del self.discount_codes[cid]
        return JSONResponse({}, headers=headers)

    async def update_customer(self, request: Request) -> Response:
        body, denied, _ = await self._rest(request)
        if denied:
            return denied
        customer = self.customers.get(request.path_params["id"])
        if customer is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)

        def apply() -> tuple[int, Any]:
            assert customer is not None
            customer.update({k: v for k, v in body["customer"].items() if k != "id"})
            customer["updated_at"] = self.now.isoformat()
            return 200, {"customer": customer}

        return self._write(request, apply)

    # -- GraphQL ---------------------------------------------------------------------------

    def _cost(self, requested: float) -> tuple[bool, dict[str, Any]]:
        t = self.clock()
        if self._last_graphql is not None:
            restored = self.graphql_available + (t - self._last_graphql) * self.restore_rate
            self.graphql_available = min(self.graphql_max, round(restored, 6))
        self._last_graphql = t
        allowed = requested <= self.graphql_available
        if allowed:
            self.graphql_available -= requested
        return allowed, {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": requested if allowed else None,
                "throttleStatus": {
                    "maximumAvailable": self.graphql_max,
                    "currentlyAvailable": self.graphql_available,
                    "restoreRate": self.restore_rate,
                },
            }
        }

    def _item_node(self, item_id: str) -> dict[str, Any]:
        item = self.items[item_id]
        variant = self.variants.get(item_id)
        return {
            "legacyResourceId": item_id,
            "sku": item.get("sku") or "",
            "variant": {"legacyResourceId": item_id} if variant else None,
        }

    def _level_node(self, lv: dict[str, Any]) -> dict[str, Any]:
        return {
            "location": {"legacyResourceId": str(lv["location_id"])},
            "updatedAt": _utc(lv["updated_at"]),
            "quantities": [
                {"name": "available", "quantity": lv["available"]},
                {"name": "on_hand", "quantity": lv["on_hand"]},
            ],
        }

    def _inventory_items(self, variables: dict[str, Any]) -> dict[str, Any]:
        ids = sorted(self.items, key=int)
        query = variables.get("query") or ""
        sku = re.fullmatch(r'sku:"?(.*?)"?', query) if query.startswith("sku:") else None
        if sku:
            ids = [i for i in ids if self.items[i].get("sku") == sku.group(1)]
        since = re.fullmatch(r"updated_at:>'(.*)'", query)
        if since:
            floor = datetime.fromisoformat(since.group(1))
            ids = [i for i in ids if datetime.fromisoformat(self.items[i]["updated_at"]) > floor]
        first = int(variables.get("first") or 50)
        start = _offset(variables["after"]) if variables.get("after") else 0
        size = min(first, self.page_size)
        nodes = []
        for i in ids[start : start + size]:
            node = self._item_node(i)
            node["inventoryLevels"] = {
                "nodes": [
                    self._level_node(lv)
                    for (item, _), lv in sorted(self.levels.items())
                    if item == i
                ]
            }
            nodes.append(node)
        more = start + size < len(ids)
        return {
            "inventoryItems": {
                "pageInfo": {
                    "hasNextPage": more,
                    "endCursor": _cursor(start + size) if nodes else None,
                },
                "nodes": nodes,
            }
        }

    def _inventory_item(self, variables: dict[str, Any]) -> dict[str, Any]:
        item_id = _legacy(variables["item"])
        if item_id not in self.items:
            return {"inventoryItem": None}
        node = self._item_node(item_id)
        lv = self.levels.get((item_id, _legacy(variables["location"])))
        node["inventoryLevel"] = self._level_node(lv) if lv else None
        return {"inventoryItem": node}

    def _adjust(self, variables: dict[str, Any]) -> dict[str, Any]:
        changes = variables["input"]["changes"]
        errors = []
        for i, change in enumerate(changes):
            key = (_legacy(change["inventoryItemId"]), _legacy(change["locationId"]))
            if key not in self.levels:
                errors.append(
                    {
                        "field": ["input", "changes", str(i), "locationId"],
                        "message": "The specified inventory item is not stocked at the location.",
                    }
                )
        if errors:
            return {
                "inventoryAdjustQuantities": {
                    "inventoryAdjustmentGroup": None,
                    "userErrors": errors,
                }
            }
        out = []
        for change in changes:
            lv = self.levels[(_legacy(change["inventoryItemId"]), _legacy(change["locationId"]))]
            lv["available"] += change["delta"]
            lv["on_hand"] += change["delta"]  # an ``available`` adjustment moves on_hand too
            lv["updated_at"] = self.now.isoformat()
            out += [
                {"name": "available", "delta": change["delta"]},
                {"name": "on_hand", "delta": change["delta"]},
            ]
        self._serial += 1
        return {
            "inventoryAdjustQuantities": {
                "inventoryAdjustmentGroup": {
                    "id": f"gid://shopify/InventoryAdjustmentGroup/{self._serial}",
                    "reason": variables["input"]["reason"],
                    "changes": out,
                },
                "userErrors": [],
            }
        }

    async def graphql(self, request: Request) -> Response:
        body, denied = await self._enter(request)
        if denied:
            return denied
        query, variables = body["query"], body.get("variables") or {}
        mutation = query.lstrip().startswith("mutation")
        requested = 10.0 if mutation else 1.0 + float(variables.get("first") or 1)
        allowed, extensions = self._cost(requested)
        if not allowed:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": extensions,
                }
            )
        if "inventoryAdjustQuantities" in query:
            version = request.path_params.get("version", VERSION)
            directive = "@idempotent(key: $idempotencyKey)" in query
            if version >= "2026-04" and not directive:  # required from 2026-04
                return JSONResponse(
                    {"errors": [{"message": "The @idempotent directive is required"}]}
                )
            return self._write(
                request,
                lambda: (200, {"data": self._adjust(variables), "extensions": extensions}),
                # the documented key: the directive's (the header is not honoured for GraphQL)
                key=variables.get("idempotencyKey") if directive else None,
            )
        if "inventoryItem(id:" in query:
            data = self._inventory_item(variables)
        elif "inventoryItems(" in query:
            data = self._inventory_items(variables)
        else:
            return JSONResponse({"errors": [{"message": "the fake does not know this query"}]})
        return JSONResponse({"data": data, "extensions": extensions})

    # -- OAuth -----------------------------------------------------------------------------

    async def access_token(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.token_requests.append(body)
        if body.get("client_id") != CLIENT_ID or body.get("client_secret") != CLIENT_SECRET:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                status_code=401,
            )
        if body.get("grant_type") == "refresh_token":
            old = body.get("refresh_token")
            if old not in self.refresh_tokens:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "refresh token is invalid"},
                    status_code=400,
                )
            self.refresh_tokens.discard(old)  # single use: only the new one works now
            access, refresh = self.issue_token()
        elif "code" in body:
            if body["code"] != AUTH_CODE:
                return JSONResponse(
                    {
                        "error": "invalid_request",
                        "error_description": "authorization code was not found",
                    },
                    status_code=400,
                )
            if str(body.get("expiring", "0")) != "1":  # a non-expiring offline token
                self._serial += 1
                access = f"shpat_forever_{self._serial}"
                self.tokens[access] = datetime.max.replace(tzinfo=UTC)
                return JSONResponse({"access_token": access, "scope": SCOPES})
            access, refresh = self.issue_token()
        else:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        return JSONResponse(
            {
                "access_token": access,
                "scope": SCOPES,
                "expires_in": 3600,
                "refresh_token": refresh,
                "refresh_token_expires_in": 7776000,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/admin/oauth/access_token", self.access_token, methods=["POST"]),
                Route("/admin/api/{version}/graphql.json", self.graphql, methods=["POST"]),
                Route(f"{API}/discount_codes/lookup.json", self.lookup_discount_code),
                Route(f"{API}/price_rules.json", self.create_price_rule, methods=["POST"]),
                Route(
                    f"{API}/price_rules/{{id}}/discount_codes.json",
                    self.create_discount_code,
                    methods=["POST"],
                ),
                Route(
                    f"{API}/price_rules/{{id}}/discount_codes/{{code_id}}.json",
                    self.get_discount_code,
                ),
                Route(f"{API}/price_rules/{{id}}.json", self.delete_price_rule, methods=["DELETE"]),
                Route(f"{API}/customers/{{id}}.json", self.update_customer, methods=["PUT"]),
                Route(f"{API}/shop.json", self.get_shop),
                Route(f"{API}/{{resource}}.json", self.list_resource),
                Route(f"{API}/{{resource}}/{{id}}.json", self.get_one),
            ]
        )
