"""Loss prevention end to end through the real endpoints: signed webhooks → the risk workflow on
the bus → a case in the store's queue → a loss-prevention user works it to a decision → the
decision is audited and stored as a label the scorer learns from. Also: manager routing, store
scope, the score endpoint's validation, and redelivery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.api.conftest import SECRET, Api, add_store, bearer, deliver
from tests.helpers import body_of, pump, run, signed_headers
from tillwise.domain.proposals import ProposalKind
from tillwise.ports.repositories import ScorerSnapshot
from tillwise.workflows.risk import RiskScorer, TenderFact, make_event

AT = "2024-01-15T14:30:00Z"


def _refund(ref_id: str, amount: int, *, location: str = "loc-a", employee: str = "emp-9") -> dict:
    return {
        "id": ref_id,
        "location_id": location,
        "employee_id": employee,
        "register_id": "reg-1",
        "line_items": [{"sku": "MUG", "quantity": 1, "price": f"{amount / 100:.2f}"}],
        "tenders": [{"type": "cash", "amount": {"amount": amount, "currency": "GBP"}}],
        "total_money": {"amount": amount, "currency": "GBP"},
    }


def _send_as(api: Api, event: str, data: dict, event_id: str, *, at: str = AT) -> None:
    """One webhook under the POS's own delivery id (a POS retrying sends a new one)."""
    body = body_of({"event": event, "created_at": at, "data": data})
    now = int(api.container.clock.now().timestamp())
    headers = signed_headers(body, SECRET, now, event_id=event_id)
    resp = api.client.post(f"/webhooks/generic/{api.connection_id}", content=body, headers=headers)
    assert resp.status_code in (200, 202), resp.text
    run(pump(api.container))


def _cases(api: Api, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    resp = api.client.get("/v1/risk/cases", headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def test_a_flag_is_worked_to_a_decision_audited_and_learned(api: Api) -> None:
    store = add_store(api, "loc-a", "Store A")
    api.container.modes.set_mode("risk", "*", "draft", actor="test")
    # a refund of £300.00 with no receipt: above the £250 a manager must approve (default)
    deliver(api, "refund.created", _refund("R-1", 30_000), at=AT)

    lp = bearer(api, "loss_prevention", stores=[store])
    [case] = _cases(api, lp)
    assert case["store"] == store and case["event_id"] == "R-1" and case["kind"] == "refund"
    assert case["decision"] == "require_manager" and case["state"] == "new"
    assert case["employee_id"] == "emp-9" and case["owner"] is None
    codes = {r["code"] for r in case["reasons"]}
    assert "manager_threshold" in codes
    assert case["summary"].startswith("Refund of £300.00 by employee emp-9 at register reg-1")
    assert case["model"] and case["version"]

    # the case view: the refund itself and the employee's recent scored events
    detail = api.client.get(f"/v1/risk/cases/{case['id']}", headers=lp).json()
    assert detail["transaction"]["kind"] == "refund"
    assert detail["transaction"]["total"] == {"amount": 30_000, "currency": "GBP"}
    assert [e["event_id"] for e in detail["employee_recent"]] == ["R-1"]
    # ...and the manager approval it asked for, waiting in the approval queue
    assert detail["approval"]["status"] == "pending"
    proposal = api.container.approvals.get(detail["approval"]["id"])
    assert proposal.proposal.kind == ProposalKind.RISK_DECISION
    assert proposal.proposal.payload["case_id"] == case["id"]

    # a decision straight from new is refused: the review starts first
    resp = api.client.post(
        f"/v1/risk/cases/{case['id']}/state", headers=lp, json={"state": "confirmed"}
    )
    assert resp.status_code == 409 and resp.json()["errors"][0]["field"] == "state"

    started = api.client.post(
        f"/v1/risk/cases/{case['id']}/state", headers=lp, json={"state": "in_review"}
    ).json()
    assert started["state"] == "in_review" and started["owner"] == "loss_prevention"
    decided = api.client.post(
        f"/v1/risk/cases/{case['id']}/state",
        headers=lp,
        json={"state": "confirmed", "note": "no receipt, cash out, seen on camera"},
    ).json()
    assert decided["state"] == "confirmed" and decided["decided_by"].startswith("token:")

    # audited with the case's model and version
    entries = api.container.audit.list(action="risk.case_confirmed")
    [entry] = [e for e in entries if e.inputs["case_id"] == case["id"]]
    assert entry.store == store
    assert entry.inputs["model"] == case["model"] and entry.inputs["note"].startswith("no receipt")
    assert entry.outputs["label"] is True

    # stored as a label, and learned from at once (the scorer had never learned: overdue)
    with api.container.uow() as uow:
        [label] = uow.risk.labels()
        assert label.case_id == case["id"] and label.label is True
        assert label.event["id"] == "R-1" and label.event["kind"] == "refund"
        assert label.learned_version == case["version"]  # the scorer that learned from it
        assert uow.risk.unlearned_count() == 0
        snapshot = uow.risk.snapshot("default")
        assert snapshot is not None and snapshot.labels_learned == 1  # saved after learning

    # a decided case is final
    again = api.client.post(
        f"/v1/risk/cases/{case['id']}/state", headers=lp, json={"state": "dismissed"}
    )
    assert again.status_code == 409


def test_a_manager_approves_the_flagged_refund_and_nothing_is_written(api: Api) -> None:
    store = add_store(api, "loc-a", "Store A")
    api.container.modes.set_mode("risk", "*", "draft", actor="test")
    deliver(api, "refund.created", _refund("R-2", 40_000), at=AT)
    [case] = _cases(api, api.admin)
    detail = api.client.get(f"/v1/risk/cases/{case['id']}", headers=api.admin).json()
    manager = bearer(api, "store_manager", stores=[store])
    resp = api.client.post(
        f"/v1/proposals/{detail['approval']['id']}/approve", headers=manager, json={}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "applied"  # the approval is the outcome: no write-back


def test_small_ordinary_events_open_no_case(api: Api) -> None:
    add_store(api, "loc-a", "Store A")
    deliver(
        api,
        "sale.completed",
        {
            "id": "S-1",
            "location_id": "loc-a",
            "employee_id": "emp-1",
            "line_items": [{"sku": "MUG", "quantity": 1, "price": "4.00"}],
            "tenders": [{"type": "cash", "amount": {"amount": 400, "currency": "GBP"}}],
            "total_money": {"amount": 400, "currency": "GBP"},
        },
        at=AT,
    )
    assert _cases(api, api.admin) == []
    with api.container.uow() as uow:  # but it was scored, with its model and version
        recent = uow.risk.recent_events({"sale.completed"}, 10)
    assert [e.data["external_id"] for e in recent] == ["S-1"]


def test_redelivery_opens_no_second_case(api: Api) -> None:
    add_store(api, "loc-a", "Store A")
    body = body_of({"event": "refund.created", "created_at": AT, "data": _refund("R-3", 30_000)})
    now = int(api.container.clock.now().timestamp())
    for _ in range(2):
        headers = signed_headers(body, SECRET, now, event_id="pos-evt-R-3")
        resp = api.client.post(
            f"/webhooks/generic/{api.connection_id}", content=body, headers=headers
        )
        assert resp.status_code in (200, 202)
        run(pump(api.container))
    # the same refund re-sent under another event id is scored (and flagged) once too
    other = signed_headers(body, SECRET, now, event_id="pos-evt-R-3-retry")
    api.client.post(f"/webhooks/generic/{api.connection_id}", content=body, headers=other)
    run(pump(api.container))
    [case] = _cases(api, api.admin)
    assert case["event_id"] == "R-3"
    # and one proposal for a manager, whatever its mode
    assert len(api.container.approvals.list(kind="risk_decision")) == 1


def test_an_event_re_sent_under_new_delivery_ids_counts_once(api: Api) -> None:
    """The POS retries with a new event id: the no-sale is one no-sale of the employee's day,
    and a sale re-sent after its refund does not make its receipt refundable again."""
    store = add_store(api, "loc-a", "Store A")
    drawer = {"id": "NS-1", "location_id": "loc-a", "opened_at": AT, "employee_id": "emp-1"}
    for event_id in ("pos-evt-1", "pos-evt-1-retry", "pos-evt-1-retry2"):
        _send_as(api, "drawer.opened", drawer, event_id)
    scorer = api.container.risk_state().for_reading()
    next_one = make_event(
        id="NS-2",
        kind="no_sale",
        store=store,
        occurred_at=datetime.fromisoformat(AT) + timedelta(minutes=30),
        employee_id="emp-1",
    )
    [reason] = [r for r in scorer.score(next_one).reasons if r.code == "no_sale_drawer"]
    assert reason.evidence["no_sales_today"] == 2  # the second no-sale, not the fourth

    money = {"amount": 30_000, "currency": "GBP"}
    sale = {
        "id": "S-1",
        "location_id": "loc-a",
        "employee_id": "emp-2",
        "line_items": [{"sku": "TV", "quantity": 1, "price": "300.00"}],
        "tenders": [{"type": "cash", "amount": money}],
        "total_money": money,
    }

    def refund(refund_id: str) -> dict[str, Any]:
        return {
            "id": refund_id,
            "location_id": "loc-a",
            "employee_id": "emp-3",
            "receipt_transaction_id": "S-1",
            "tenders": [{"type": "cash", "amount": money}],
            "total_money": money,
        }

    _send_as(api, "sale.completed", sale, "s1", at="2024-01-15T10:00:00Z")
    _send_as(api, "refund.created", refund("R-1"), "r1", at="2024-01-15T15:00:00Z")
    _send_as(api, "sale.completed", sale, "s1-retry", at="2024-01-15T10:00:00Z")
    _send_as(api, "refund.created", refund("R-2"), "r2", at="2024-01-15T16:00:00Z")
    receipts = {  # refunds of £300 need a manager: each opens a case
        c["event_id"]: next(
            (
                r["evidence"]["receipt"]
                for r in c["reasons"]
                if r["code"] == "refund_without_receipt"
            ),
            "ok",
        )
        for c in _cases(api, api.admin)
        if c["kind"] == "refund"
    }
    assert receipts == {"R-1": "ok", "R-2": "exceeds"}


def test_another_stores_loss_prevention_gets_404(api: Api) -> None:
    add_store(api, "loc-a", "Store A")
    other = add_store(api, "loc-b", "Store B")
    deliver(api, "refund.created", _refund("R-4", 30_000), at=AT)
    [case] = _cases(api, api.admin)
    lp_b = bearer(api, "loss_prevention", stores=[other])
    assert _cases(api, lp_b) == []
    for method, path, body in (
        ("get", f"/v1/risk/cases/{case['id']}", None),
        ("post", f"/v1/risk/cases/{case['id']}/state", {"state": "in_review"}),
        ("post", f"/v1/risk/cases/{case['id']}/assign", {"owner": "mallory"}),
        ("post", f"/v1/risk/cases/{case['id']}/explain", None),
    ):
        resp = api.client.request(method, path, headers=lp_b, json=body)
        assert resp.status_code == 404, (path, resp.text)
    resp = api.client.get("/v1/risk/cases", headers=lp_b, params={"store": case["store"]})
    assert resp.status_code == 404
    # associates see nothing of the queue
    assoc = bearer(api, "associate", stores=[case["store"]])
    assert api.client.get("/v1/risk/cases", headers=assoc).status_code == 403


def test_assign_explain_and_reports(api: Api) -> None:
    store = add_store(api, "loc-a", "Store A")
    deliver(api, "refund.created", _refund("R-5", 30_000, employee="emp-5"), at=AT)
    lp = bearer(api, "loss_prevention", stores=[store])
    [case] = _cases(api, lp)
    assigned = api.client.post(
        f"/v1/risk/cases/{case['id']}/assign", headers=lp, json={"owner": "dana"}
    ).json()
    assert assigned["owner"] == "dana"
    assert [c["id"] for c in _cases(api, lp, owner="dana")] == [case["id"]]
    bad = api.client.post(f"/v1/risk/cases/{case['id']}/assign", headers=lp, json={"owner": ""})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "owner"
    explained = api.client.post(f"/v1/risk/cases/{case['id']}/explain", headers=lp).json()
    assert explained == {"text": case["summary"], "model": None}  # no model configured
    report = api.client.get(
        "/v1/risk/reports", headers=lp, params={"store": store, "since": "2024-01-01"}
    ).json()
    assert report["cases"] == 1 and report["scored"] == 1
    assert report["by_employee"][0]["employee_id"] == "emp-5"
    assert {r["code"] for r in report["by_reason"]} >= {"manager_threshold"}
    assert report["by_day"] == [{"day": "2024-01-15", "cases": 1}]
    bad_day = api.client.get("/v1/risk/reports", headers=lp, params={"since": "15/01/2024"})
    assert bad_day.status_code == 422 and bad_day.json()["errors"][0]["field"] == "since"


def _cart(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "connection_id": "",
        "location_id": "loc-a",
        "employee_id": "emp-1",
        "register_id": "reg-1",
        "currency": "GBP",
        "lines": [{"sku": "MUG", "quantity": "2", "unit_price": 450}],
        "tenders": [{"type": "card", "amount": 900, "last4": "4242", "entry_method": "tapped"}],
    }
    body.update(over)
    return body


def test_the_score_endpoint_answers_and_names_bad_fields(api: Api) -> None:
    store = add_store(api, "loc-a", "Store A")
    pos = bearer(api, "pos_extension", stores=[store])
    resp = api.client.post(
        "/v1/risk/score", headers=pos, json=_cart(connection_id=api.connection_id)
    )
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert 0.0 <= answer["score"] <= 1.0
    assert answer["decision"] in ("allow", "review", "require_manager")
    assert answer["model"] and answer["version"] and isinstance(answer["reasons"], list)
    # a big discount needs a manager (£50 default)
    big = _cart(connection_id=api.connection_id, discount=6_000)
    big["lines"] = [{"sku": "TV", "quantity": "1", "unit_price": 20_000}]
    assert api.client.post("/v1/risk/score", headers=pos, json=big).json()["decision"] == (
        "require_manager"
    )
    # bad input: the field at fault is named
    cases = [
        ({"currency": "XXX"}, "currency"),
        ({"lines": []}, "lines"),
        ({"lines": [{"quantity": "0", "unit_price": 100}]}, "lines.0.quantity"),
        ({"tenders": [{"amount": 5, "entry_method": "telepathy"}]}, "tenders.0.entry_method"),
        ({"at": "2024-01-15T14:30:00"}, "at"),
    ]
    for change, field in cases:
        bad = api.client.post(
            "/v1/risk/score", headers=pos, json=_cart(connection_id=api.connection_id, **change)
        )
        assert bad.status_code == 422, change
        assert field in [e["field"] for e in bad.json()["errors"]], (change, bad.json())
    # another store's location is not found; the POS token reads nothing else
    other = _cart(connection_id=api.connection_id, location_id="loc-z")
    assert api.client.post("/v1/risk/score", headers=pos, json=other).status_code == 404
    assert api.client.get("/v1/risk/cases", headers=pos).status_code == 403
    assert api.client.get("/v1/transactions", headers=pos).status_code == 403


def test_a_price_override_needs_a_manager_like_the_same_discount(api: Api) -> None:
    store = add_store(api, "loc-a", "Store A")
    pos = bearer(api, "pos_extension", stores=[store])
    cash = [{"type": "cash", "amount": 1_000}]
    as_discount = _cart(connection_id=api.connection_id, tenders=cash, discount=19_000)
    as_discount["lines"] = [{"sku": "TV", "quantity": "1", "unit_price": 20_000}]
    as_override = _cart(connection_id=api.connection_id, tenders=cash)
    as_override["lines"] = [
        {"sku": "TV", "quantity": "1", "unit_price": 1_000, "original_unit_price": 20_000}
    ]
    for cart in (as_discount, as_override):  # £190 off either way
        answer = api.client.post("/v1/risk/score", headers=pos, json=cart).json()
        assert answer["decision"] == "require_manager", cart
        assert "manager_threshold" in {r["code"] for r in answer["reasons"]}
    # a completed sale with the override opens a case and asks a manager
    deliver(
        api,
        "sale.completed",
        {
            "id": "S-OV",
            "location_id": "loc-a",
            "employee_id": "emp-1",
            "line_items": [
                {"sku": "TV", "quantity": 1, "price": "10.00", "original_unit_price": "200.00"}
            ],
            "tenders": [{"type": "cash", "amount": {"amount": 1_000, "currency": "GBP"}}],
            "total_money": {"amount": 1_000, "currency": "GBP"},
        },
        at=AT,
    )
    [case] = _cases(api, api.admin)
    assert (case["event_id"], case["decision"]) == ("S-OV", "require_manager")
    assert case["proposal_id"] is not None


def test_a_cart_is_scored_in_the_stores_time_zone_by_a_process_that_scored_none_of_its_events(
    api: Api,
) -> None:
    """An API process (or a restarted worker) has handled no event of the store yet: it reads
    the store's zone from its location, so a Los Angeles afternoon is not scored as 22:00."""
    la = "America/Los_Angeles"
    deliver(api, "location.updated", {"id": "loc-la", "name": "LA", "time_zone": la})
    store = f"{api.connection_id}:loc-la"
    pos = bearer(api, "pos_extension", stores=[store])
    # the worker's snapshot: 40 days of sales between 10:00 and 17:00 Los Angeles time
    scorer = RiskScorer()
    start = datetime(2024, 1, 1, tzinfo=ZoneInfo(la))
    for day in range(40):
        for hour in range(10, 18):
            for k in range(2):
                n = (day * 8 + hour - 10) * 2 + k
                scorer.observe(
                    make_event(
                        id=f"S{n}",
                        kind="sale",
                        store=store,
                        occurred_at=start + timedelta(days=day, hours=hour, minutes=20 * k),
                        time_zone=la,
                        employee_id=f"e{n % 5}",
                        currency="USD",
                        amount=1500 + n % 700,
                        tenders=(TenderFact("cash", 1500),),
                    )
                )
    with api.container.uow() as uow:
        uow.risk.save_snapshot(
            ScorerSnapshot(
                name="default",
                data=scorer.snapshot(),
                model="tillwise-risk",
                version=scorer.version,
                events_seen=640,
                labels_learned=0,
                saved_at=api.container.clock.now(),
            )
        )

    def odd_hours(at: str) -> list[int]:
        cart = _cart(
            connection_id=api.connection_id,
            location_id="loc-la",
            currency="USD",
            lines=[{"sku": "MUG", "quantity": "1", "unit_price": 1_600}],
            tenders=[{"type": "cash", "amount": 1_600}],
            at=at,
        )
        answer = api.client.post("/v1/risk/score", headers=pos, json=cart).json()
        return [r["evidence"]["local_hour"] for r in answer["reasons"] if r["code"] == "odd_hour"]

    assert odd_hours("2024-02-12T14:00:00-08:00") == []  # Monday 2 pm: a busy hour
    assert odd_hours("2024-02-13T03:00:00-08:00") == [3]  # 3 am local: rare for the store


def _attempt(pid: str, minute: int, *, status: str, amount: int = 120, **over: Any) -> dict:
    data = {
        "id": pid,
        "location_id": "loc-a",
        "status": status,
        "amount": {"amount": amount, "currency": "GBP"},
        "tender_type": "card",
        "card_fingerprint": f"fp-{pid}",
        "last4": "4242",
        "entry_method": "keyed",
        "employee_id": "emp-3",
        "register_id": "reg-7",
        "occurred_at": f"2024-01-15T14:{minute:02d}:00Z",
    }
    data.update(over)
    return data


def test_a_declined_attempt_burst_opens_a_card_testing_case_scored_once(api: Api) -> None:
    store = add_store(api, "loc-a", "Store A")
    for k in range(8):  # eight small keyed attempts in 8 minutes, seven declined
        status = "completed" if k == 3 else "failed"
        deliver(
            api,
            "payment.updated",
            _attempt(f"P-{k}", 30 + k, status=status),
            at=f"{AT[:14]}{30 + k:02d}:05Z",
        )
    lp = bearer(api, "loss_prevention", stores=[store])
    cases = _cases(api, lp)
    assert cases and all(c["kind"] == "tender" for c in cases)
    last = next(c for c in cases if c["event_id"] == "P-7")
    reason = next(r for r in last["reasons"] if r["code"] == "card_testing")
    ev = reason["evidence"]
    assert (ev["attempts"], ev["declines"], ev["window_minutes"]) == (8, 7, 15)
    assert ev["amounts"] == [120] * 8 and ev["register_id"] == "reg-7"
    assert last["summary"].startswith("Declined payment attempt of £1.20 by employee emp-3")
    detail = api.client.get(f"/v1/risk/cases/{last['id']}", headers=lp).json()
    assert detail["transaction"]["kind"] == "payment"
    assert detail["transaction"]["status"] == "failed"

    # the last attempt redelivered under another event id: scored (and flagged) once
    body = body_of(
        {"event": "payment.updated", "created_at": AT, "data": _attempt("P-7", 37, status="failed")}
    )
    now = int(api.container.clock.now().timestamp())
    headers = signed_headers(body, SECRET, now, event_id="pos-evt-P-7-retry")
    api.client.post(f"/webhooks/generic/{api.connection_id}", content=body, headers=headers)
    run(pump(api.container))
    assert len(_cases(api, lp)) == len(cases)
    report = api.client.get(
        "/v1/risk/reports", headers=lp, params={"store": store, "since": "2024-01-01"}
    ).json()
    assert report["scored"] == 8
    # the scorer saw P-7 once: the register's attempt window holds the 8 attempts
    scorer = api.container.risk_state().for_reading()
    assert len(scorer.stores[store].attempts["r:reg-7"].items) == 8  # type: ignore[attr-defined]


def test_an_occasional_declined_attempt_opens_no_case(api: Api) -> None:
    add_store(api, "loc-a", "Store A")
    deliver(api, "payment.updated", _attempt("P-1", 30, status="failed", amount=2400), at=AT)
    deliver(api, "payment.updated", _attempt("P-2", 31, status="completed", amount=2400), at=AT)
    assert _cases(api, api.admin) == []
