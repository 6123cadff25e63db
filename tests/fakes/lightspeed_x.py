"""A local fake of the Lightspeed Retail X-Series API (2.0 + the 1.0 token endpoint), as an ASGI
app for ``httpx.ASGITransport``. Built from the corpus objects in
tests/fixtures/payloads/lightspeed_x/ and the documented contracts (docs/platforms/lightspeed_x.md):

* collections page with ``?after=<version>&page_size=`` (items with a larger version, in
  version order); a page past the end has ``data: []``;
* ``Authorization: Bearer``: an unknown or expired token answers 401;
* ``POST /api/1.0/token`` takes its parameters in the FORM body (query parameters are refused)
  and rotates refresh tokens: each is single-use;
* ``throttle(n)``: the next ``n`` API requests answer 429 ``{"error": "Too Many Requests"}``
  with ``Retry-After`` as an HTTP date and ``X-RateLimit-*`` headers;
* ``Idempotency-Key`` is recorded but, like X-Series (which documents no such key), ignored:
  a repeated write is done again. ``FakeLightspeedX(honour_idempotency_keys=True)`` answers a
  repeated key with the first result instead;
* ``fail_writes(n, on=…)`` answers the next ``n`` writes 503 before doing anything;
  ``lose_responses(n, on=…)`` does the next ``n`` writes but their answer never arrives (the
  client sees a read timeout). ``on``, a regular expression matching ``"<METHOD> <path>"``
  (``r"POST /consignments/.*/products"``), limits them to some writes;
* a consignment line for a product the store does not have answers 422.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "lightspeed_x"
WALL = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)  # the fake's "now" for Retry-After dates


def _data(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())["data"]


def corpus() -> dict[str, list[dict[str, Any]]]:
    """The store: every corpus object, by collection."""
    consignment = _data("api2__get_consignments__consignment_id__200")
    consignment = {**consignment, "supplier_id": "dc85058a-a683-11e5-ef46-08f9a926615e"}
    return {
        "outlets": _data("api2__get_outlets__200"),
        "users": _data("api2__get_users__200"),
        "suppliers": _data("api2__get_suppliers__200"),
        "products": [_data("api2__get_products__product_id__200")],
        "customers": [
            _data("api2__get_customers__customer_id__200"),
            _data("api2__put_customers__customer_id__200"),
        ],
        "inventory": _data("api2__get_inventory__200")
        + _data("api2__get_products__product_id_inventory__200"),
        "consignments": [
            consignment,
            _data("api2__put_consignments__consignment_id__200"),
            _data("api2__post_consignments__201"),
        ],
        "sales": [
            _data("api2__get_sales__sale_id__200"),
            _data("api2__put_sales__sale_id_actions_return__200"),
        ],
        "shifts": _data("api2__get_shifts__200"),
    }


def _matches(pattern: str | None, method: str, path: str) -> bool:
    return pattern is None or re.fullmatch(pattern, f"{method} {path}") is not None


class FakeLightspeedX:
    def __init__(self, *, page_size_cap: int = 200, honour_idempotency_keys: bool = False) -> None:
        self.store = corpus()
        self.consignment_products: dict[str, list[dict[str, Any]]] = {
            self.store["consignments"][0]["id"]: _data(
                "api2__get_consignments__consignment_id_products__200"
            )
        }
        self.page_size_cap = page_size_cap
        self.access_token = "lsx-access-1"
        self.refresh_token = "lsx-refresh-1"
        self.expired = False
        self.codes = {"good-code": "acme"}
        self.token_requests: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._throttle = 0
        self._fail_writes = 0
        self._fail_on: str | None = None
        self._lose_responses = 0
        self._lose_on: str | None = None
        self.honour_idempotency_keys = honour_idempotency_keys
        self._idempotent: dict[str, tuple[int, Any]] = {}
        self._version = 4_000_000_000
        self._issued = 1
        self.app = Starlette(
            routes=[
                Route("/api/1.0/token", self._token, methods=["POST"]),
                Route("/api/2.0/{path:path}", self._api, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    # -- knobs ---------------------------------------------------------------------------

    def throttle(self, n: int) -> None:
        self._throttle = n

    def fail_writes(self, n: int, on: str | None = None) -> None:
        self._fail_writes, self._fail_on = n, on

    def lose_responses(self, n: int, on: str | None = None) -> None:
        self._lose_responses, self._lose_on = n, on

    def api_requests(self, path: str, method: str = "GET") -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path and r["method"] == method]

    # -- token ---------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        if request.query_params:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        self.token_requests.append(form)
        if form.get("client_id") != "lsx-client" or form.get("client_secret") != "lsx-secret":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") == "authorization_code":
            if form.get("code") not in self.codes:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self.codes.pop(form["code"])
        elif form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") != self.refresh_token:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "refresh token revoked"},
                    status_code=400,
                )
        else:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        self._issued += 1
        self.access_token = f"lsx-access-{self._issued}"
        self.refresh_token = f"lsx-refresh-{self._issued}"  # rotated: the old one is revoked
        self.expired = False
        expires = int(time.time()) + 3600  # real time: clients compare with their clock
        return JSONResponse(
            {
                "access_token": self.access_token,
                "token_type": "Bearer",
                "expires": expires,
                "expires_in": 3600,
                "refresh_token": self.refresh_token,
                "domain_prefix": "acme",
                "scope": "sales:read products:read",
            }
        )

    # -- API -----------------------------------------------------------------------------

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    async def _api(self, request: Request) -> Response:
        path = "/" + request.path_params["path"].strip("/")
        raw = await request.body()
        body = json.loads(raw) if raw else None
        key = request.headers.get("idempotency-key")
        self.requests.append(
            {
                "method": request.method,
                "path": path,
                "query": dict(request.query_params),
                "authorization": request.headers.get("authorization", ""),
                "idempotency_key": key,
                "body": body,
            }
        )
        if request.headers.get("authorization") != f"Bearer {self.access_token}" or self.expired:
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        limit_headers = {"X-RateLimit-Limit": "950", "X-RateLimit-Remaining": "900"}
        if self._throttle > 0:
            self._throttle -= 1
            retry = format_datetime(WALL + timedelta(seconds=7), usegmt=True)
            return JSONResponse(
                {"error": "Too Many Requests"},
                status_code=429,
                headers={**limit_headers, "X-RateLimit-Remaining": "0", "Retry-After": retry},
            )
        if request.method != "GET":
            if self._fail_writes > 0 and _matches(self._fail_on, request.method, path):
                self._fail_writes -= 1
                return JSONResponse({"error": "Service Unavailable"}, status_code=503)
            if self.honour_idempotency_keys and key and key in self._idempotent:
                status, data = self._idempotent[key]
                return JSONResponse({"data": data}, status_code=status)
            status, data = self._write(request.method, path, body or {})
            if key and status < 300:
                self._idempotent[key] = (status, data)
            if self._lose_responses > 0 and _matches(self._lose_on, request.method, path):
                self._lose_responses -= 1
                raise httpx.ReadTimeout(f"the answer to {request.method} {path} was lost")
            if status == 204:
                return Response(status_code=204)
            return JSONResponse({"data": data} if status < 400 else data, status_code=status)
        return self._read(path, dict(request.query_params), limit_headers)

    def _find(self, collection: str, oid: str) -> dict[str, Any] | None:
        return next((o for o in self.store.get(collection, []) if o.get("id") == oid), None)

    def _read(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Response:
        parts = path.strip("/").split("/")
        if len(parts) == 1 and parts[0] in self.store:
            items = list(self.store[parts[0]])
            if parts[0] == "consignments" and query.get("type"):
                items = [i for i in items if i.get("type") == query["type"]]
            return self._page(items, query, headers)
        if len(parts) == 2 and parts[0] in self.store:
            found = self._find(parts[0], parts[1])
            if found is None:
                return JSONResponse({"error": "Not Found"}, status_code=404)
            return JSONResponse({"data": found}, headers=headers)
        if len(parts) == 3 and parts[0] == "consignments" and parts[2] == "products":
            return self._page(self.consignment_products.get(parts[1], []), query, headers)
        if len(parts) == 3 and parts[0] == "products" and parts[2] == "inventory":
            rows = [i for i in self.store["inventory"] if i.get("product_id") == parts[1]]
            return JSONResponse({"data": rows}, headers=headers)
        return JSONResponse({"error": "Not Found"}, status_code=404)

    def _page(
        self, items: list[dict[str, Any]], query: dict[str, str], headers: dict[str, str]
    ) -> Response:
        if not all("version" in i for i in items):  # unversioned collections: one list
            return JSONResponse({"data": items}, headers=headers)
        after = int(query.get("after", "0") or 0)
        size = min(int(query.get("page_size", "50")), self.page_size_cap)
        chosen = sorted((i for i in items if int(i["version"]) > after), key=lambda i: i["version"])
        page = chosen[:size]
        out: dict[str, Any] = {"data": page}
        if page:
            out["version"] = {"min": page[0]["version"], "max": page[-1]["version"]}
        return JSONResponse(out, headers=headers)

    def _write(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        now = WALL.isoformat()
        if method == "POST" and parts == ["consignments"]:
            obj = {
                **body,
                "id": str(uuid.uuid4()),
                "created_at": now,
                "updated_at": now,
                "version": self._next_version(),
            }
            self.store["consignments"].append(obj)
            self.consignment_products[obj["id"]] = []
            return 201, obj
        if len(parts) >= 2 and parts[0] == "consignments":
            current = self._find("consignments", parts[1])
            if current is None:
                return 404, {"error": "Not Found"}
            if method == "POST" and parts[2:] == ["products"]:
                if self._find("products", str(body.get("product_id"))) is None:
                    return 422, {"error": "product_id is invalid", "field": "product_id"}
                line = {**body, "version": self._next_version(), "created_at": now}
                self.consignment_products[parts[1]].append(line)
                return 201, line
            if method == "PUT" and len(parts) == 2:
                current.update(body, version=self._next_version())
                if body.get("status") == "STOCKTAKE_COMPLETE":
                    for line in self.consignment_products[parts[1]]:
                        self._set_level(current["outlet_id"], line["product_id"], line["count"])
                return 200, current
            if method == "DELETE" and len(parts) == 2:
                if current.get("status") != "OPEN":
                    return 422, {"error": "only an OPEN consignment can be deleted"}
                self.store["consignments"].remove(current)
                return 204, None
        if method == "PUT" and len(parts) == 2 and parts[0] == "customers":
            customer = self._find("customers", parts[1])
            if customer is None:
                return 404, {"error": "Not Found"}
            customer.update(body, version=self._next_version())
            return 200, customer
        return 404, {"error": "Not Found"}

    def _set_level(self, outlet: str, product: str, count: str) -> None:
        for row in self.store["inventory"]:
            if row["outlet_id"] == outlet and row["product_id"] == product:
                row.update(inventory_level=float(count), version=self._next_version())
                return
        self.store["inventory"].append(
            {
                "id": str(uuid.uuid4()),
                "outlet_id": outlet,
                "product_id": product,
                "inventory_level": float(count),
                "version": self._next_version(),
            }
        )
