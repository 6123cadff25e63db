"""Payment attempts (``tender`` events, ``payment.updated``): card testing over attempts,
declined ones included; no sale-level reason twice; a payment seen again adds nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from tillwise.workflows.risk import RiskEvent, RiskScorer, make_event
from tillwise.workflows.risk.signals import attempt_parts, attempt_value

from .streams import STORE, T0, card, codes, normal_days, sale

DAYS = 10
END = T0 + timedelta(days=DAYS)


def warmed() -> RiskScorer:
    scorer = RiskScorer(first_fit=10**9)  # the anomaly model stays out of these tests
    for e in normal_days(DAYS):
        scorer.assess(e)
    return scorer


def attempt(
    id: str,
    at: datetime,
    amount: int,
    *,
    declined: bool,
    register: str = "reg-emp-3",
    employee: str = "emp-3",
    fp: str | None = None,
    method: str = "keyed",
    sale_id: str | None = None,
) -> RiskEvent:
    return make_event(
        id=id,
        kind="tender",
        store=STORE,
        occurred_at=at,
        employee_id=employee,
        register_id=register,
        currency="USD",
        amount=amount,
        tenders=(card(fp or f"fp-{id}", amount, method),),
        receipt_id=sale_id,
        declined=declined,
    )


def test_attempt_values_round_trip() -> None:
    v = attempt_value(1234, declined=True, keyed=False, small=True)
    assert attempt_parts(v) == (1234, True, False, True)


def test_a_declined_burst_on_one_register_flags_card_testing_with_its_evidence() -> None:
    s = warmed()
    at = END + timedelta(hours=1)
    last = None
    for k in range(10):  # 10 small keyed attempts in 9 minutes, 8 declined, new card each time
        last = s.assess(
            attempt(f"p-{k}", at + timedelta(minutes=k), 100 + 7 * k, declined=k % 5 != 4)
        )
    assert last is not None and last.decision != "allow"
    reason = next(r for r in last.reasons if r.code == "card_testing")
    assert reason.weight >= 0.8
    ev = reason.evidence
    assert ev["attempts"] == 10 and ev["declines"] == 8 and ev["decline_share"] == 0.8
    assert ev["small_attempts"] == 10 and ev["distinct_cards"] == 10
    assert ev["window_minutes"] == 15 and ev["register_id"] == "reg-emp-3"
    assert ev["amounts"] == sorted(100 + 7 * k for k in range(10))
    # only attempt-level reasons on an attempt
    assert {r.code for r in last.reasons} <= {"card_testing", "keyed_card", "manager_threshold"}


def test_one_card_tried_again_and_again_flags_card_testing() -> None:
    s = warmed()
    at = END + timedelta(hours=2)
    last = None
    for k in range(8):  # the same card on different registers, most declined
        last = s.assess(
            attempt(
                f"q-{k}",
                at + timedelta(minutes=6 * k),
                900,
                declined=k < 7,
                register=f"reg-emp-{k % 6 + 1}",
                fp="fp-stolen",
                method="dipped",
            )
        )
    assert last is not None
    ev = next(r for r in last.reasons if r.code == "card_testing").evidence
    assert ev["card_attempts"] == 8 and ev["card_declines"] == 7


def test_a_normal_stores_occasional_decline_is_not_flagged() -> None:
    s = warmed()
    day = END + timedelta(hours=1)
    outs = []
    for k in range(6):  # a decline now and then over the day, each followed by its sale
        at = day + timedelta(minutes=70 * k)
        outs.append(s.assess(attempt(f"d-{k}", at, 2300, declined=True, method="dipped")))
        s.assess(sale(f"ds-{k}", at + timedelta(minutes=1), "emp-3", 2300))
        outs.append(
            s.assess(
                attempt(
                    f"c-{k}",
                    at + timedelta(minutes=1),
                    2300,
                    declined=False,
                    method="dipped",
                    sale_id=f"ds-{k}",
                )
            )
        )
    for a in outs:
        assert a.decision == "allow"
        assert codes(a).get("card_testing", 0.0) == 0.0


def test_a_completed_payment_of_a_scored_sale_adds_no_sale_level_reason() -> None:
    s = warmed()
    at = END + timedelta(hours=3)
    # a keyed sale split over two cards: the sale carries its sale-level reasons
    tenders = (card("fp-a", 1500, "keyed"), card("fp-b", 1500, "keyed"))
    scored = s.assess(sale("big", at, "emp-2", 3000, tenders=tenders))
    assert {"keyed_card", "split_tender"} <= set(codes(scored))
    for k, fp in enumerate(("fp-a", "fp-b")):
        pay = s.assess(
            attempt(
                f"big-p{k}",
                at + timedelta(seconds=10),
                1500,
                declined=False,
                employee="emp-2",
                register="reg-emp-2",
                fp=fp,
                sale_id="big",
            )
        )
        assert pay.decision == "allow"
        assert set(codes(pay)) <= {"card_testing"}  # no keyed_card or split_tender again
    # the attempts fed no sale-level baseline: the employee's peer counters are the sale's
    store = s.stores[STORE]
    assert store.events == DAYS * 12 * 6 + 1


def test_a_payment_seen_again_adds_nothing() -> None:
    s = warmed()
    at = END + timedelta(hours=4)
    e = attempt("again", at, 120, declined=True)
    s.assess(e)
    store = s.stores[STORE]
    before = len(store.attempts["r:reg-emp-3"].items)
    again = s.assess(e)  # redelivered (or a status change of the same payment)
    assert again.reasons == ()
    assert len(store.attempts["r:reg-emp-3"].items) == before


def test_snapshot_keeps_the_attempt_windows() -> None:
    s = warmed()
    e = attempt("snap", END + timedelta(hours=5), 120, declined=True)
    s.assess(e)
    r = RiskScorer.restore(s.snapshot())
    assert r.stores[STORE].attempts.keys() == s.stores[STORE].attempts.keys()
    before = len(r.stores[STORE].attempts["r:reg-emp-3"].items)
    assert r.assess(e).reasons == ()  # still known after a restart: seen again, adds nothing
    assert len(r.stores[STORE].attempts["r:reg-emp-3"].items) == before
