"""A local fake of the Lightspeed R-Series API (V3) and its OAuth server, for tests.

Reproduces what the connector relies on (docs/platforms/lightspeed_r.md): responses wrapped in
``@attributes`` with ``next``/``previous`` cursor URLs, a single result as an OBJECT and several
as an ARRAY, ``timeStamp=>,<ISO>`` filters, field equality filters, ``limit`` ≤ 100, the
leaky bucket (GET 1 unit, writes 10; ``X-LS-API-Bucket-Level``/``X-LS-API-Drip-Rate`` on every
response, 429 when full), 401 for unknown or expired access tokens, rotating single-use refresh
tokens, and R-Series-style error bodies.

The store: the gift-card sale from the docs tutorial (the corpus) plus objects written after the
documented shapes (third-party SDK READMEs) — see tests/fixtures/payloads/lightspeed_r/SOURCES.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ACCOUNT_ID = "12345"
API = "https://api.lightspeedapp.com"
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "lightspeed_r"
CLIENT_ID = "client-abc"
CLIENT_SECRET = "secret-xyz"
ID_FIELDS = {
    "Shop": "shopID",
    "Vendor": "vendorID",
    "Employee": "employeeID",
    "Customer": "customerID",
    "Item": "itemID",
    "ItemShop": "itemShopID",
    "Order": "orderID",
    "OrderLine": "orderLineID",
    "Sale": "saleID",
    "EmployeeHours": "employeeHoursID",
}


def _item(item_id: str, custom: str, system: str, name: str, price: str, ts: str) -> dict[str, Any]:
    return {
        "itemID": item_id,
        "systemSku": system,
        "customSku": custom,
        "description": name,
        "upc": "",
        "defaultVendorID": "7",
        "itemMatrixID": "0",
        "archived": "false",
        "createTime": "2024-01-02T10:00:00+00:00",
        "timeStamp": ts,
        "Prices": {
            "ItemPrice": [
                {"amount": price, "useType": "Default", "useTypeID": "1"},
                {"amount": price, "useType": "MSRP", "useTypeID": "2"},
            ]
        },
    }


def build_store() -> dict[str, list[dict[str, Any]]]:
    sale = json.loads((CORPUS / "api__sale_giftcard_load_response__docs_tutorial.json").read_text())
    corpus_sale = sale["Sale"]
    shop1 = copy.deepcopy(corpus_sale["Shop"])
    return {
        "Shop": [
            shop1,
            {
                "shopID": "2",
                "name": "East Bolduc",
                "timeZone": "America/Toronto",
                "archived": "false",
                "timeStamp": "2024-01-01T09:00:00+00:00",
            },
        ],
        "Vendor": [
            {
                "vendorID": "7",
                "name": "Maple Supply Co",
                "archived": "false",
                "timeStamp": "2024-01-01T09:00:00+00:00",
                "Contact": {
                    "Emails": {
                        "ContactEmail": {"address": "orders@maple.example", "useType": "Primary"}
                    }
                },
            },
        ],
        "Employee": [
            {
                "employeeID": "2",
                "firstName": "James",
                "lastName": "Tremblay",
                "archived": "false",
                "limitToShopID": "0",
                "timeStamp": "2024-01-01T09:00:00+00:00",
            },
        ],
        "Customer": [
            {
                "customerID": "5",
                "firstName": "Ada",
                "lastName": "Roy",
                "createTime": "2024-02-01T09:00:00+00:00",
                "timeStamp": "2024-02-03T09:00:00+00:00",
                "Contact": {
                    "Emails": {
                        "ContactEmail": [{"address": "ada@example.com", "useType": "Primary"}]
                    },
                    "Phones": {"ContactPhone": {"number": "514-555-0100", "useType": "Mobile"}},
                    "Addresses": {"ContactAddress": {"city": "Montreal", "countryCode": "CA"}},
                },
                "Note": {"note": "Prefers email"},
            },
        ],
        "Item": [
            _item("11", "MUG-1", "210000000011", "White Mug", "12.50", "2024-03-01T10:00:00+00:00"),
            _item("12", "", "210000000012", "Tea Tin", "8", "2024-03-02T10:00:00+00:00"),
            _item("13", "SPOON", "210000000013", "Spoon", "3.25", "2024-03-03T10:00:00+00:00"),
        ],
        "ItemShop": [
            {
                "itemShopID": str(100 + n),
                "itemID": item,
                "shopID": shop,
                "qoh": qoh,
                "timeStamp": "2024-03-05T10:00:00+00:00",
            }
            for n, (item, shop, qoh) in enumerate(
                [
                    ("11", "0", "9"),
                    ("11", "1", "5"),
                    ("11", "2", "4"),
                    ("12", "0", "3"),
                    ("12", "1", "3"),
                    ("13", "1", "0"),
                ]
            )
        ],
        "Order": [
            {
                "orderID": "3",
                "vendorID": "7",
                "shopID": "1",
                "orderedDate": "2024-03-04T00:00:00+00:00",
                "arrivalDate": "2024-03-10T00:00:00+00:00",
                "refNum": "PO-3",
                "complete": "false",
                "archived": "false",
                "timeStamp": "2024-03-04T12:00:00+00:00",
            },
        ],
        "OrderLine": [
            {
                "orderLineID": "31",
                "orderID": "3",
                "itemID": "11",
                "quantity": "12",
                "price": "6.10",
                "numReceived": "0",
                "timeStamp": "2024-03-04T12:00:00+00:00",
            },
        ],
        "Sale": [corpus_sale],
        "EmployeeHours": [
            {
                "employeeHoursID": "40",
                "employeeID": "2",
                "shopID": "1",
                "checkIn": "2024-03-05T13:00:00+00:00",
                "checkOut": "2024-03-05T21:30:00+00:00",
            },
        ],
    }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    names = {
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }
    return JSONResponse(
        {
            "httpCode": str(status),
            "httpMessage": names.get(status, ""),
            "message": message,
            "errorClass": "Exception",
        },
        status_code=status,
        headers=headers,
    )


class FakeRSeries:
    def __init__(
        self,
        *,
        page_size: int = 100,
        bucket_size: float = 60,
        drip: float = 1,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.store = build_store()
        self.page_size = page_size
        self.bucket_size = bucket_size
        self.drip = drip
        self.clock = clock
        self.level = 0.0
        self._at = clock()
        self.access_tokens: set[str] = {"access-1"}
        self.refresh_tokens: set[str] = {"refresh-1"}
        self.codes: set[str] = {"good-code"}
        self.issued = 1
        self.fail_next: list[int] = []  # statuses to answer instead of serving, in order
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.app = Starlette(
            routes=[
                Route("/auth/oauth/token", self.token, methods=["POST"]),
                Route("/API/V3/Account.json", self.account, methods=["GET"]),
                Route(
                    "/API/V3/Account/{account}/{path:path}",
                    self.api,
                    methods=["GET", "POST", "PUT", "DELETE"],
                ),
            ]
        )

    # -- oauth ------------------------------------------------------------------------------

    def _issue(self) -> dict[str, Any]:
        self.issued += 1
        access, refresh = f"access-{self.issued}", f"refresh-{self.issued}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": 3600,
            "token_type": "Bearer",
            "scope": "employee:all",
        }

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        self.requests.append(("POST", "/auth/oauth/token", dict(request.headers)))
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = str(form.get("code"))
            if code not in self.codes:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self.codes.discard(code)
            return JSONResponse(self._issue())
        if grant == "refresh_token":
            token = str(form.get("refresh_token"))
            if token not in self.refresh_tokens:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "refresh token revoked"},
                    status_code=400,
                )
            self.refresh_tokens.discard(token)  # single use: rotation
            return JSONResponse(self._issue())
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def _authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.access_tokens

    async def account(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "Invalid access token.")
        return JSONResponse(
            {
                "@attributes": {"count": "1"},
                "Account": {"accountID": ACCOUNT_ID, "name": "West Bolduc Retail"},
            }
        )

    # -- bucket -----------------------------------------------------------------------------

    def _bucket_headers(self) -> dict[str, str]:
        return {
            "X-LS-API-Bucket-Level": f"{self.level:g}/{self.bucket_size:g}",
            "X-LS-API-Drip-Rate": f"{self.drip:g}",
        }

    def _spend(self, cost: float) -> bool:
        now = self.clock()
        self.level = max(0.0, self.level - (now - self._at) * self.drip)
        self._at = now
        if self.level + cost > self.bucket_size:
            return False
        self.level += cost
        return True

    # -- api --------------------------------------------------------------------------------

    async def api(self, request: Request) -> Response:
        path = request.path_params["path"]
        self.requests.append((request.method, str(request.url), dict(request.headers)))
        if not self._authorized(request):
            return _error(401, "Invalid access token.")
        if request.path_params["account"] != ACCOUNT_ID:
            return _error(404, "Account not found.")
        if not self._spend(1 if request.method == "GET" else 10):
            return _error(
                429, "Rate Limit Exceeded: Please reduce your request rate.", self._bucket_headers()
            )
        if self.fail_next:
            return _error(self.fail_next.pop(0), "Temporary failure.", self._bucket_headers())
        response = await self._route(request, path)
        response.headers.update(self._bucket_headers())
        return response

    async def _route(self, request: Request, path: str) -> Response:
        name = path.removesuffix(".json")
        entity, _, object_id = name.partition("/")
        if entity not in ID_FIELDS:
            return _error(404, f"Unknown resource {entity}.")
        relations = json.loads(request.query_params.get("load_relations", "[]"))
        if not object_id:
            if request.method == "GET":
                return self._list(request, entity, relations)
            if request.method == "POST":
                return self._create(entity, await request.json())
            return _error(400, "Method not allowed here.")
        found = [o for o in self.store[entity] if o[ID_FIELDS[entity]] == object_id]
        if not found:
            return _error(404, f"{entity} {object_id} not found.")
        obj = found[0]
        if request.method == "PUT":
            self._update(entity, obj, await request.json())
        elif request.method == "DELETE":
            obj["archived"] = "true"
        return JSONResponse({entity: self._with(entity, obj, relations)})

    def _with(self, entity: str, obj: dict[str, Any], relations: list[str]) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        if entity == "Item" and "ItemShops" in relations:
            shops = [s for s in self.store["ItemShop"] if s["itemID"] == obj["itemID"]]
            out["ItemShops"] = {"ItemShop": shops[0] if len(shops) == 1 else shops}
        if entity == "ItemShop" and "Item" in relations:
            out["Item"] = next(i for i in self.store["Item"] if i["itemID"] == obj["itemID"])
        if entity == "Order" and "OrderLines" in relations:
            lines = [
                self._with("OrderLine", x, ["Item"] if "OrderLines.Item" in relations else [])
                for x in self.store["OrderLine"]
                if x["orderID"] == obj["orderID"]
            ]
            if lines:
                out["OrderLines"] = {"OrderLine": lines[0] if len(lines) == 1 else lines}
        if entity == "OrderLine" and "Item" in relations:
            out["Item"] = next(i for i in self.store["Item"] if i["itemID"] == obj["itemID"])
        return out

    def _list(self, request: Request, entity: str, relations: list[str]) -> Response:
        params = request.query_params
        limit = int(params.get("limit", "100"))
        if limit > 100:
            return _error(400, "Limit must be 100 or less.")
        rows = self.store[entity]
        for key, value in params.items():
            if key in ("limit", "after", "offset", "load_relations", "sort"):
                continue
            if value.startswith(">,"):
                since = datetime.fromisoformat(value[2:])
                rows = [r for r in rows if r.get(key) and datetime.fromisoformat(r[key]) > since]
            else:
                rows = [r for r in rows if str(r.get(key, "")) == value]
        start = int(params.get("after", "0"))
        size = min(limit, self.page_size)
        page = rows[start : start + size]
        nxt = ""
        if start + size < len(rows):
            query = {k: v for k, v in params.items() if k != "after"}
            query["after"] = str(start + size)
            nxt = f"{API}/API/V3/Account/{ACCOUNT_ID}/{entity}.json?{urlencode(query)}"
        body: dict[str, Any] = {"@attributes": {"next": nxt, "previous": ""}}
        objects = [self._with(entity, r, relations) for r in page]
        if len(objects) == 1:
            body[entity] = objects[0]  # one result: an object, not an array
        elif objects:
            body[entity] = objects
        return JSONResponse(body)

    def _create(self, entity: str, data: dict[str, Any]) -> Response:
        key = ID_FIELDS[entity]
        next_id = max(int(o[key]) for o in self.store[entity]) + 1
        obj = {k: v for k, v in data.items() if not isinstance(v, dict)}
        obj.update({key: str(next_id), "timeStamp": "2024-04-01T10:00:00+00:00"})
        if entity == "Order":
            obj.setdefault("complete", "false")
            obj.setdefault("archived", "false")
        if entity == "OrderLine":
            obj.setdefault("numReceived", "0")
        self.store[entity].append(obj)
        return JSONResponse({entity: obj})

    def _update(self, entity: str, obj: dict[str, Any], data: dict[str, Any]) -> None:
        if entity == "Item":
            shops = data.get("ItemShops", {}).get("ItemShop", [])
            for change in shops if isinstance(shops, list) else [shops]:
                for s in self.store["ItemShop"]:
                    if s["itemShopID"] == str(change["itemShopID"]):
                        s["qoh"] = str(change["qoh"])
                        s["timeStamp"] = "2024-04-01T10:00:00+00:00"
        elif entity == "Customer" and "Note" in data:
            obj["Note"] = {"note": data["Note"]["note"]}
        obj["timeStamp"] = "2024-04-01T10:00:00+00:00"

    def item_shop(self, item_id: str, shop_id: str) -> dict[str, Any]:
        return next(
            s for s in self.store["ItemShop"] if s["itemID"] == item_id and s["shopID"] == shop_id
        )
