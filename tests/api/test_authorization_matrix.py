"""Every route of the OpenAPI schema, called by every role: the allow/deny matrix, by hand.

The expected matrix below is written from the product's rules (who may do what), not derived
from the code's role table, so a change to either shows up here. A route missing from the
matrix fails the test: a new route must say who may call it.
"""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Api, add_store, bearer

ALL = frozenset(
    {
        "associate",
        "store_manager",
        "buyer",
        "loss_prevention",
        "regional_manager",
        "admin",
        "viewer",
    }
)
STAFF_WHO_DECIDE = frozenset(
    {"store_manager", "buyer", "loss_prevention", "regional_manager", "admin"}
)
PEOPLE_DATA = frozenset({"store_manager", "loss_prevention", "regional_manager", "admin", "viewer"})
SYSTEM = frozenset({"admin", "viewer"})
ADMIN = frozenset({"admin"})
REGIONAL = frozenset({"regional_manager", "admin"})
REGIONAL_READ = frozenset({"regional_manager", "admin", "viewer"})
WORKFLOW_READ = ALL - {"associate"}
RISK_READ = frozenset({"store_manager", "loss_prevention", "regional_manager", "admin", "viewer"})
RISK_DECIDE = frozenset({"loss_prevention", "admin"})

EXPECTED: dict[str, frozenset[str]] = {
    "transactions-list": ALL,
    "transactions-get": ALL,
    "refunds-list": ALL,
    "refunds-get": ALL,
    "products-list": ALL,
    "products-get": ALL,
    "inventory-levels-list": ALL,
    "inventory-levels-get": ALL,
    "locations-list": ALL,
    "locations-get": ALL,
    "stores-list": ALL,
    "reports-daily-sales": ALL,
    "customers-list": PEOPLE_DATA,
    "customers-get": PEOPLE_DATA,
    "events-list": SYSTEM,
    "dead-letters-list": SYSTEM,
    "dead-letters-replay": ADMIN,
    "stats-overview": SYSTEM,
    "connections-list": SYSTEM,
    "platforms-list": SYSTEM,
    "connections-create": ADMIN,
    "connections-update": ADMIN,
    "connections-backfill": ADMIN,
    "oauth-start": ADMIN,
    "tokens-create": ADMIN,
    "audit-list": PEOPLE_DATA,
    "audit-export": frozenset({"loss_prevention", "regional_manager", "admin"}),
    "auth-logout": ALL,
    "auth-me": ALL,
    "users-list": REGIONAL_READ,
    "users-create": ADMIN,
    "users-update": ADMIN,
    "regions-list": REGIONAL_READ,
    "regions-set": ADMIN,
    "proposals-list": ALL,
    "proposals-counts": ALL,
    "proposals-get": ALL,
    "proposals-explain": ALL,
    "proposals-create": frozenset({"store_manager", "buyer", "regional_manager", "admin"}),
    "proposals-approve": STAFF_WHO_DECIDE,
    "proposals-reject": STAFF_WHO_DECIDE,
    "proposals-revert": STAFF_WHO_DECIDE,
    "workflows-list": WORKFLOW_READ,
    "workflows-set-mode": REGIONAL,
    "rollouts-list": WORKFLOW_READ,
    "rollouts-create": REGIONAL,
    "rollouts-advance": REGIONAL,
    "rollouts-roll-back": REGIONAL,
    "approval-rules-list": REGIONAL_READ,
    "approval-rules-set": ADMIN,
    "replenishment-stores": ALL,
    "replenishment-plan": ALL,
    "replenishment-forecast": ALL,
    "replenishment-stops-list": ALL,
    # buyers and the managers of a store decide what it stops reordering
    "replenishment-stops-set": frozenset({"store_manager", "buyer", "regional_manager", "admin"}),
    "replenishment-stops-delete": frozenset(
        {"store_manager", "buyer", "regional_manager", "admin"}
    ),
    "replenishment-adjustments-list": ALL,
    # and what they know of its coming demand that the forecast cannot
    "replenishment-adjustments-set": frozenset(
        {"store_manager", "buyer", "regional_manager", "admin"}
    ),
    "replenishment-adjustments-delete": frozenset(
        {"store_manager", "buyer", "regional_manager", "admin"}
    ),
    "vendors-list": ALL,
    # and only over every store of the connection (tests/api/test_vendors_api.py)
    "vendors-set-terms": frozenset({"store_manager", "buyer", "regional_manager", "admin"}),
    # loss prevention: LP works cases, managers see their stores' queue, associates nothing;
    # scoring is for POS extension tokens (role pos_extension, not a person's role)
    "risk-score": ADMIN,
    "risk-cases-list": RISK_READ,
    "risk-cases-get": RISK_READ,
    "risk-cases-explain": RISK_READ,
    "risk-reports": RISK_READ,
    "risk-cases-assign": RISK_DECIDE,
    "risk-cases-state": RISK_DECIDE,
}
# Not authorized by role: the webhook (the POS's signature), the login itself, and the OAuth
# callback (the signed state and the platform's own signature).
UNAUTHENTICATED = {"receive_webhook", "auth-login", "oauth-callback"}


def _operations(api: Api) -> list[tuple[str, str, str]]:
    schema = api.client.get("/openapi.json").json()
    return [
        (method, re.sub(r"\{[^}]+\}", "1", path), op["operationId"])
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    ]


def test_every_route_is_in_the_matrix(api: Api) -> None:
    ids = {op_id for _, _, op_id in _operations(api)}
    assert ids - UNAUTHENTICATED == set(EXPECTED), "a route without an expected allow/deny row"


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_gets_exactly_what_the_matrix_allows(api: Api, role: str) -> None:
    store = add_store(api, "loc-a", "Store A")
    headers = bearer(api, role, stores=None if role in SYSTEM else [store])
    wrong = []
    for method, path, op_id in _operations(api):
        if op_id in UNAUTHENTICATED:
            continue
        resp = api.client.request(method, path, headers=headers, json={})
        allowed = role in EXPECTED[op_id]
        if allowed and resp.status_code in (401, 403):
            wrong.append(f"{role} refused {method.upper()} {path} ({op_id}): {resp.text[:120]}")
        if not allowed and resp.status_code != 403:
            wrong.append(f"{role} allowed {method.upper()} {path} ({op_id}): {resp.status_code}")
        if not allowed:
            assert resp.json()["code"] == "forbidden"
    assert not wrong, "\n".join(wrong)
