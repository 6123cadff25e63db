"""The risk workflow on the event stream: every sale, refund, void, no-sale, price override and
payment attempt is scored as it arrives, and what the scorer flags opens a case in the store's
review queue.

* Subscribes to ``sale.completed``, ``refund.created``, ``sale.voided``, ``drawer.opened``,
  ``price.overridden`` and ``payment.updated``. A payment (a ``tender`` event: one attempt,
  declined ones included — card testing shows first as many small declined attempts that never
  become sales) is scored on the attempt-level signals only (``card_testing`` over attempts,
  ``keyed_card``); the sale it pays is scored as its own ``sale.completed``, so nothing
  sale-level is counted twice (the rule: :mod:`.signals`, "Payment attempts"). A payment's
  later change (voided, refunded) is not scored. Each event becomes a
  :class:`~.events.RiskEvent` (:func:`~.events.from_canonical`), is scored and then observed
  (``RiskScorer.assess``), and the score is stored with the model and version that produced it
  and the supervised model's input as scored (``risk_scores``, keyed on :func:`event_key`).
* **Once per event.** An event already scored (redelivered, or the same record re-sent under
  another delivery id) is skipped before the scorer sees it. The scorer's state is not part of
  the transaction: when a worker's batch rolls back and its events are handled again one by one,
  the scorer has observed them already; it observes an event once (``RiskScorer.observe`` keeps
  the keys it has observed, in its snapshot), and :class:`ScorerState` hands the event the
  assessment it had, so the stored score is the one made before the rollback.
* ``review`` or ``require_manager`` opens a case (state ``new``) whose id is derived from the
  canonical event's id, so a redelivered event opens no second case. The case carries a
  severity, an SLA due time (per severity, configurable), and a plain-language summary built
  from the reason codes and their evidence (deterministic; the dashboard can have the
  configured language model reword it, personal data tokenized first:
  ``POST /v1/risk/cases/{id}/explain``).
* **Manager approval.** A refund above ``manager_refund_over`` or a sale whose discounts and
  overrides take more than ``manager_discount_over`` off (minor units of the store's currency)
  is routed to ``require_manager`` whatever the score (reason ``over_manager_threshold``), as is
  anything the scorer itself decides needs a manager. The case then also proposes a
  ``risk_decision`` in the approval queue, which a store manager approves or rejects in the
  dashboard (its mode per store, like every workflow: ``draft`` to queue it). A POS's own
  manager-PIN prompt at the till is out of reach: a POS extension can ask
  ``POST /v1/risk/score`` before tender and prompt for the PIN itself on ``require_manager``.

**The scorer's state.** The worker keeps one scorer in memory (:class:`ScorerState`, shared
with ``POST /v1/risk/score`` in the same process). At the first event it is restored from the
latest snapshot (table ``risk_scorer_state``, a versioned JSON document, never a pickle) or,
with none or one the scorer refuses (damaged, tampered with, another version: logged), rebuilt
by observing the most recent canonical till events (``rebuild_limit``) in time order. The
snapshot is saved every ``snapshot_every`` events, and after learning. Reviewers' decisions are
labels (``risk_labels``); the scorer learns from all of them (``RiskScorer.learn``), each as
the features stored with its event's score (a label whose score kept none, scored before they
were kept, is left out: never re-scored against a state that already holds the event), once
``learn_after_labels`` new ones exist (checked every ``learn_check_every`` events and, in a
process that scores events, after each decision) or, with any new one, when
``learn_every_hours`` have passed since it last learned. Only the process that scores events
learns: it owns the snapshot, and a copy that learned elsewhere (an API process recording a
decision) would be overwritten by its next snapshot.

**Scale-out.** Baselines are per store, so a store's events must reach one scorer: run the risk
consumer on one worker (its work is light: 160-420 µs of CPU per event, ``docs/risk.md``), or,
on NATS JetStream, partition the events subject by store and give each partition its own
consumer and snapshot name (``ScorerState(name=...)``). API processes that handle no events
load the snapshot and reload it when it is older than ``refresh_seconds``; their
``/v1/risk/score`` answers use baselines at most that stale, and the store's time zone read
from its location once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tillwise.domain.events import Envelope, EventType
from tillwise.domain.locations import Location, store_key
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal, ProposalKind, proposal_id
from tillwise.domain.sales import Payment, Refund, Transaction
from tillwise.domain.till import TillEvent
from tillwise.ports.repositories import (
    RiskCaseDraft,
    RiskScoreRow,
    ScorerSnapshot,
    UnitOfWork,
    UnitOfWorkFactory,
)
from tillwise.workflows.base import WorkflowContext

from .events import RiskEvent, from_canonical

log = logging.getLogger(__name__)

WORKFLOW = "risk"
CONSUMER = f"workflow:{WORKFLOW}"  # the bus consumer of this workflow (pipeline.dispatch)
VERSION = "1"
FLAGGED = ("review", "require_manager")
CASE_NAMESPACE = uuid.UUID("9b7c4f0e-2d1a-4e63-8a5b-6f3c1d9e2a47")
SUBSCRIBES = frozenset(
    {
        EventType.SALE_COMPLETED.value,
        EventType.REFUND_CREATED.value,
        EventType.SALE_VOIDED.value,
        EventType.DRAWER_OPENED.value,
        EventType.PRICE_OVERRIDDEN.value,
        EventType.PAYMENT_UPDATED.value,
    }
)
RETRIED = 1024  # assessments kept for events handled again after a rollback (a batch is 64)
_RECORD_TYPES: dict[str, type[Transaction] | type[Refund] | type[TillEvent] | type[Payment]] = {
    EventType.SALE_COMPLETED.value: Transaction,
    EventType.REFUND_CREATED.value: Refund,
    EventType.SALE_VOIDED.value: Transaction,
    EventType.DRAWER_OPENED.value: TillEvent,
    EventType.PRICE_OVERRIDDEN.value: TillEvent,
    EventType.PAYMENT_UPDATED.value: Payment,
}
KIND_WORDS = {
    "sale": "Sale",
    "refund": "Refund",
    "void": "Void",
    "no_sale": "No-sale drawer open",
    "price_override": "Price override",
    "cart": "Cart",
    "tender": "Payment attempt",
}


# -- what the workflow needs of the scorer (tillwise.workflows.risk.scorer) ------------------


class ReasonLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def weight(self) -> float: ...
    @property
    def evidence(self) -> Mapping[str, Any]: ...
    @property
    def text(self) -> str: ...


class AssessmentLike(Protocol):
    @property
    def event_id(self) -> str: ...
    @property
    def store(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def decision(self) -> str: ...
    @property
    def reasons(self) -> Sequence[ReasonLike]: ...
    @property
    def model(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def features(self) -> Sequence[float]: ...  # the supervised model's input, as scored


class Scorer(Protocol):
    @property
    def version(self) -> str: ...  # moves on when the scorer refits or learns
    def observe(self, event: RiskEvent) -> None: ...
    def score(self, event: RiskEvent) -> AssessmentLike: ...
    def assess(self, event: RiskEvent) -> AssessmentLike: ...
    def learn(self, labels: Sequence[tuple[Sequence[float], bool]]) -> None: ...
    def snapshot(self) -> bytes: ...


@dataclass(frozen=True)
class ScorerFactory:
    """How to make a fresh scorer and restore one from a snapshot (tests pass a double)."""

    new: Callable[[], Scorer]
    restore: Callable[[bytes], Scorer]


def default_factory(**options: Any) -> ScorerFactory:
    """The product scorer (:class:`tillwise.workflows.risk.scorer.RiskScorer`) with
    ``options`` (thresholds); a restored snapshot takes the configured thresholds too."""

    def new() -> Scorer:
        from .scorer import RiskScorer

        return RiskScorer(**options)

    def restore(data: bytes) -> Scorer:
        from .scorer import RiskScorer

        scorer = RiskScorer.restore(data)
        for name in THRESHOLDS:
            if name in options:
                setattr(scorer, name, options[name])
        return scorer

    return ScorerFactory(new=new, restore=restore)


# settings the configuration owns, not the snapshot
THRESHOLDS = (
    "review_threshold",
    "manager_threshold",
    "manager_refund_amount",
    "manager_discount_amount",
)


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskConfig:
    sla_hours: Mapping[str, float] = field(
        default_factory=lambda: {"high": 4.0, "medium": 24.0, "low": 72.0}
    )
    # refunds at or above, and sales/carts with discounts at or above, these amounts (minor
    # units of the store's currency) need a manager whatever the score; None: no such rule
    manager_refund_over: int | None = 25_000
    manager_discount_over: int | None = 5_000
    snapshot_every: int = 5000  # events between snapshots (a 2.7 MB save costs ~0.4 s)
    learn_after_labels: int = 5  # new labels that trigger learning
    learn_check_every: int = 50  # events between checks for new labels
    learn_every_hours: float = 24.0  # learn from any new label at least this often
    rebuild_limit: int = 20_000  # recent till events observed when there is no snapshot
    refresh_seconds: float = 30.0  # processes that score no events reload the snapshot
    snapshot_name: str = "default"

    def scorer_options(self) -> dict[str, Any]:
        return {
            "manager_refund_amount": self.manager_refund_over,
            "manager_discount_amount": self.manager_discount_over,
        }

    def sla(self, severity: str) -> timedelta:
        return timedelta(hours=float(self.sla_hours.get(severity, self.sla_hours.get("low", 72))))


def severity_of(score: float, decision: str) -> str:
    """``high`` for a manager decision or a score ≥ 0.85, ``medium`` from 0.6, else ``low``."""
    if decision == "require_manager" or score >= 0.85:
        return "high"
    if score >= 0.6:
        return "medium"
    return "low"


def event_key(event: Envelope) -> str:
    """What a score is keyed on: the event's type and record (``sale.completed:<sale id>``), so
    the same thing re-sent — redelivered, or under another delivery id — is scored once."""
    return f"{event.type}:{event.subject or event.id}"


def case_id(key: str) -> str:
    """The case of a flagged event: the same event key always opens the same case."""
    return str(uuid.uuid5(CASE_NAMESPACE, key))


# -- events as JSON (cases and labels keep what was scored) ----------------------------------


def event_to_json(event: RiskEvent) -> dict[str, Any]:
    out = asdict(event)
    out["occurred_at"] = event.occurred_at.isoformat()
    out["local_day"] = event.local_day.isoformat()
    return out


def reasons_json(assessment: AssessmentLike) -> tuple[dict[str, Any], ...]:
    return tuple(
        {"code": r.code, "weight": float(r.weight), "evidence": dict(r.evidence), "text": r.text}
        for r in assessment.reasons
    )


# -- the summary -----------------------------------------------------------------------------


def money_text(amount: int, currency: str) -> str:
    if not currency:
        return str(amount)
    try:
        return Money(amount=amount, currency=currency).display()
    except ValueError:
        return f"{amount} {currency}"


def case_summary(
    event: RiskEvent, score: float, decision: str, reasons: Sequence[Mapping[str, Any]]
) -> str:
    """A plain-language summary from the event and the reasons' codes, texts and evidence;
    deterministic (the same inputs always give the same words)."""
    what = KIND_WORDS.get(event.kind, event.kind)
    if event.kind == "tender" and event.declined:
        what = "Declined payment attempt"
    parts = [what]
    if event.amount:
        parts.append(f"of {money_text(event.amount, event.currency)}")
    if event.employee_id:
        parts.append(f"by employee {event.employee_id}")
    if event.register_id:
        parts.append(f"at register {event.register_id}")
    when = f"{event.local_day.isoformat()} {event.local_hour:02d}h (store time)"
    head = " ".join(parts) + f", {when}."
    ranked = sorted(reasons, key=lambda r: (-float(r.get("weight") or 0), str(r.get("code"))))
    because = [str(r.get("text") or r.get("code")).rstrip(".") for r in ranked[:4]]
    body = ("Flagged because: " + "; ".join(because) + ".") if because else ""
    verdict = {
        "require_manager": "A manager must approve it.",
        "review": "Needs a review by loss prevention.",
    }.get(decision, "")
    return " ".join(x for x in (head, body, f"Risk score {score:.2f}.", verdict) if x)


# -- the scorer's state ----------------------------------------------------------------------


class ScorerState:
    """The in-memory scorer of one process, restored from its snapshot or rebuilt from recent
    events, shared by the event path and ``POST /v1/risk/score``. Thread-safe."""

    def __init__(
        self,
        uow: UnitOfWorkFactory | None = None,
        *,
        config: RiskConfig | None = None,
        factory: ScorerFactory | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._uow = uow
        self.config = config or RiskConfig()
        self._factory = factory or default_factory(**self.config.scorer_options())
        self._now = now
        self._lock = threading.RLock()
        self._scorer: Scorer | None = None
        self._observing = False  # this process scores events (it owns the snapshot)
        self._since_snapshot = 0
        self._since_learn_check = 0
        self._loaded_at = 0.0  # monotonic time of the last load (readers)
        self._snapshot_saved_at: datetime | None = None
        self.events_seen = 0
        self.labels_learned = 0
        self.last_learned_at: datetime | None = None
        self.zones: dict[str, str] = {}  # store key → IANA zone (for carts)
        self._last_model = ""
        self._assessed: dict[str, AssessmentLike] = {}  # event key → assessment (recent)

    # loading --------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._scorer is not None

    def ensure(self, uow: UnitOfWork, *, exclude: str | None = None) -> Scorer:
        """The scorer, restored from the snapshot or rebuilt from the recent events the risk
        workflow has handled (once); ``exclude``: the event being handled now."""
        with self._lock:
            if self._scorer is None:
                self._scorer = self._load(uow, rebuild=True, exclude=exclude)
            return self._scorer

    def _load(self, uow: UnitOfWork, *, rebuild: bool, exclude: str | None = None) -> Scorer:
        snap = uow.risk.snapshot(self.config.snapshot_name)
        self._loaded_at = time.monotonic()
        if snap is not None:
            try:
                scorer = self._factory.restore(snap.data)
            except Exception as exc:  # damaged, tampered or another version: start again
                log.warning("risk scorer snapshot %r refused (%s); rebuilding", snap.name, exc)
            else:
                self.events_seen = snap.events_seen
                self.labels_learned = snap.labels_learned
                self._snapshot_saved_at = snap.saved_at
                return scorer
        scorer = self._factory.new()
        if rebuild:
            self._rebuild(scorer, uow, exclude)
        return scorer

    def _rebuild(self, scorer: Scorer, uow: UnitOfWork, exclude: str | None) -> None:
        envelopes = uow.risk.recent_events(
            SUBSCRIBES, self.config.rebuild_limit, processed_by=CONSUMER
        )
        locations: dict[tuple[str, str], Location | None] = {}
        seen = 0
        for envelope in envelopes:
            if envelope.id == exclude:
                continue
            event = risk_event_of(envelope, uow, locations)
            if event is not None:
                scorer.observe(event)
                seen += 1
        self.events_seen = seen
        if seen:
            log.info("risk scorer rebuilt from %d recent till events", seen)

    def for_reading(self) -> Scorer:
        """The scorer for ``POST /v1/risk/score``: loaded once (no rebuild in the request
        path); a process that scores no events itself picks up a newer snapshot, checking at
        most every ``refresh_seconds``."""
        with self._lock:
            if self._scorer is None:
                if self._uow is None:
                    self._scorer = self._factory.new()
                else:
                    with self._uow() as uow:
                        self._scorer = self._load(uow, rebuild=False)
            elif self._refresh_due():
                self._loaded_at = time.monotonic()
                assert self._uow is not None
                with self._uow() as uow:
                    snap = uow.risk.snapshot(self.config.snapshot_name)
                seen = self._snapshot_saved_at
                if snap is not None and (seen is None or snap.saved_at > seen):
                    self._snapshot_saved_at = snap.saved_at  # a refused one is not retried
                    try:
                        self._scorer = self._factory.restore(snap.data)
                    except Exception as exc:  # keep scoring with the scorer already loaded
                        log.warning("risk scorer snapshot %r refused (%s)", snap.name, exc)
            return self._scorer

    def _refresh_due(self) -> bool:
        """A reader (no events scored here) checks for a newer snapshot now and then."""
        stale = time.monotonic() - self._loaded_at > self.config.refresh_seconds
        return not self._observing and self._uow is not None and stale

    # scoring --------------------------------------------------------------------------------

    def assess(
        self, event: RiskEvent, uow: UnitOfWork, *, key: str, envelope_id: str | None = None
    ) -> AssessmentLike:
        """Score and observe the event of ``key`` (:func:`event_key`). An event assessed here
        before, whose transaction then rolled back, gets the assessment it had: the scorer
        observed it then, and scoring it again would count it against itself."""
        with self._lock:
            known = self._assessed.get(key)
            if known is not None:
                return known
            scorer = self.ensure(uow, exclude=envelope_id)
            self._observing = True
            assessment = scorer.assess(event)
            self._assessed[key] = assessment
            if len(self._assessed) > RETRIED:
                del self._assessed[next(iter(self._assessed))]
            self._last_model = assessment.model
            self.events_seen += 1
            self._since_snapshot += 1
            self._since_learn_check += 1
            return assessment

    def score(self, event: RiskEvent) -> AssessmentLike:
        scorer = self.for_reading()
        with self._lock:
            return scorer.score(event)

    def zone(self, connection_id: str, location_id: str) -> str:
        """The store's IANA time zone for a cart: as its latest event here said, else read from
        its location once (a process that has handled none of the store's events: an API
        replica, a restarted worker), else UTC."""
        store = store_key(connection_id, location_id)
        with self._lock:
            known = self.zones.get(store)
        if known is not None or self._uow is None:
            return known or "UTC"
        with self._uow() as uow:
            zone = _zone(uow, connection_id, location_id)
        if zone is None:
            return "UTC"  # not cached: the location may arrive later
        with self._lock:
            return self.zones.setdefault(store, zone)

    # persistence and learning ---------------------------------------------------------------

    def after_event(self, uow: UnitOfWork, now: datetime) -> None:
        """Learn when due, snapshot every ``snapshot_every`` events (in the event's transaction)."""
        with self._lock:
            if self._since_learn_check >= self.config.learn_check_every:
                self._since_learn_check = 0
                if self._maybe_learn(uow, now):
                    return  # learning saved a snapshot
            if self._since_snapshot >= self.config.snapshot_every:
                self.save(uow, now)

    def save(self, uow: UnitOfWork, now: datetime) -> None:
        with self._lock:
            if self._scorer is None:
                return
            data = self._scorer.snapshot()
            model, version = self.model_version()
            uow.risk.save_snapshot(
                ScorerSnapshot(
                    name=self.config.snapshot_name,
                    data=data,
                    model=model,
                    version=version,
                    events_seen=self.events_seen,
                    labels_learned=self.labels_learned,
                    saved_at=now,
                )
            )
            self._since_snapshot = 0
            self._snapshot_saved_at = now

    def model_version(self) -> tuple[str, str]:
        """The model of the latest assessment and the scorer's version as it is now (learning
        and refits move it on after the latest assessment)."""
        version = "" if self._scorer is None else self._scorer.version
        return self._last_model or "tillwise-risk", version

    def maybe_learn(self, uow: UnitOfWork, now: datetime, *, force: bool = False) -> bool:
        """Learn from new labels when due, in the process that scores events only; elsewhere
        (an API process recording a decision) nothing: the worker learns at its next check."""
        with self._lock:
            if not self._observing:
                return False
            return self._maybe_learn(uow, now, force=force)

    def _maybe_learn(self, uow: UnitOfWork, now: datetime, *, force: bool = False) -> bool:
        pending = uow.risk.unlearned_count()
        if pending == 0:
            return False
        overdue = self.last_learned_at is None or now - self.last_learned_at >= timedelta(
            hours=self.config.learn_every_hours
        )
        if not (force or pending >= self.config.learn_after_labels or overdue):
            return False
        scorer = self.ensure(uow)
        labels = uow.risk.labels()
        pairs = [(label.features, label.label) for label in labels if label.features is not None]
        scorer.learn(pairs)
        self.labels_learned = len(pairs)
        self.last_learned_at = now
        _model, version = self.model_version()
        # all are marked: one whose score kept no features stays out for good, not pending
        uow.risk.mark_learned(
            [label.case_id for label in labels], version or f"labels-{len(pairs)}", now
        )
        self.save(uow, now)
        log.info(
            "risk scorer learned from %d labels (%d new; %d scored before features were kept "
            "with scores, left out)",
            len(pairs),
            pending,
            len(labels) - len(pairs),
        )
        return True


def risk_event_of(
    envelope: Envelope,
    uow: UnitOfWork,
    locations: dict[tuple[str, str], Location | None] | None = None,
) -> RiskEvent | None:
    """The flattened event of a canonical till event (its record read from the store)."""
    record_type = _RECORD_TYPES.get(envelope.type)
    if record_type is None or envelope.subject is None:
        return None
    record: Transaction | Refund | TillEvent | Payment | None = uow.records.get(
        record_type, envelope.subject
    )
    loc_id = (
        record.location_external_id
        if record is not None
        else envelope.data.get("location_external_id")
    )
    location = None
    if isinstance(loc_id, str) and loc_id:
        key = (envelope.connectionid, loc_id)
        cache = locations if locations is not None else {}
        if key not in cache:
            cache[key] = uow.records.location(*key)
        location = cache[key]
    bare_void = envelope.type == EventType.SALE_VOIDED.value and isinstance(record, Transaction)
    if bare_void and isinstance(record, Transaction) and record.voided_at is None:
        # a bare void of a stored sale: the sale, as voided
        record = record.model_copy(
            update={
                "voided_at": _parse(envelope.data.get("voided_at")),
                "voided_after_tender": bool(envelope.data.get("after_tender")),
                "employee_external_id": envelope.data.get("employee_external_id")
                or record.employee_external_id,
                "register_external_id": envelope.data.get("register_external_id")
                or record.register_external_id,
            }
        )
    return from_canonical(envelope, record, location)


def _parse(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


# -- the workflow ----------------------------------------------------------------------------


class RiskTriage:
    name = WORKFLOW
    version = VERSION
    subscribes_to = SUBSCRIBES
    proposes = frozenset({ProposalKind.RISK_DECISION.value})

    def __init__(self, state: ScorerState | None = None) -> None:
        self.state = state or ScorerState()

    def handle(self, event: Envelope, ctx: WorkflowContext) -> list[Proposal]:
        uow = ctx.uow
        key = event_key(event)
        if uow.risk.scored(key):
            return []  # redelivered or re-sent: scored, and observed, once
        risk_event = risk_event_of(event, uow)
        if risk_event is None or not risk_event.store.split(":", 1)[-1]:
            return []
        conn, _, loc = risk_event.store.partition(":")
        zone = _zone(uow, conn, loc)
        if zone is not None:  # the latest word: a store's zone can change
            self.state.zones[risk_event.store] = zone
        assessment = self.state.assess(risk_event, uow, key=key, envelope_id=event.id)
        now = ctx.clock.now()
        reasons = reasons_json(assessment)
        decision = assessment.decision
        row = RiskScoreRow(
            event_key=key,
            event_id=risk_event.id,
            kind=risk_event.kind,
            connection_id=conn,
            location_external_id=loc,
            employee_id=risk_event.employee_id,
            occurred_at=risk_event.occurred_at,
            local_day=risk_event.local_day,
            currency=risk_event.currency,
            amount=risk_event.amount,
            score=float(assessment.score),
            decision=decision,
            reasons=reasons,
            model=assessment.model,
            version=assessment.version,
            scored_at=now,
            features=tuple(assessment.features),
        )
        proposals: list[Proposal] = []
        if uow.risk.record_score(row) and decision in FLAGGED:
            severity = severity_of(row.score, decision)
            cid = case_id(row.event_key)
            proposal = None
            if decision == "require_manager":
                proposal = self._manager_proposal(cid, row, risk_event, reasons, now)
                proposals.append(proposal)
            uow.risk.open_case(
                RiskCaseDraft(
                    id=cid,
                    score=row,
                    record_id=event.subject,
                    register_id=risk_event.register_id,
                    customer_id=risk_event.customer_id,
                    severity=severity,
                    summary=case_summary(risk_event, row.score, decision, reasons),
                    sla_due=now + self.state.config.sla(severity),
                    event=event_to_json(risk_event),
                    proposal_id=None if proposal is None else proposal.id,
                )
            )
        self.state.after_event(uow, now)
        return proposals

    def _manager_proposal(
        self,
        cid: str,
        row: RiskScoreRow,
        event: RiskEvent,
        reasons: Sequence[Mapping[str, Any]],
        now: datetime,
    ) -> Proposal:
        what = KIND_WORDS.get(event.kind, event.kind).lower()
        amount = money_text(row.amount, row.currency)
        who = f" by employee {event.employee_id}" if event.employee_id else ""
        value = None
        if row.currency:
            try:
                value = Money(amount=row.amount, currency=row.currency)
            except ValueError:
                value = None
        return Proposal(
            id=proposal_id(WORKFLOW, ProposalKind.RISK_DECISION.value, row.event_key),
            kind=ProposalKind.RISK_DECISION.value,
            workflow=WORKFLOW,
            workflow_version=VERSION,
            connection_id=row.connection_id,
            location_external_id=row.location_external_id,
            created_at=now,
            summary=f"Manager approval: {what} {row.event_id} of {amount}{who}",
            explanation=case_summary(event, row.score, "require_manager", reasons),
            payload={
                "case_id": cid,
                "event_id": row.event_id,
                "kind": row.kind,
                "employee_id": row.employee_id,
                "amount": row.amount,
                "currency": row.currency,
                "score": round(row.score, 4),
                "reasons": [r.get("code") for r in reasons],
            },
            value=value,
            inputs={"event": row.event_key, "model": row.model, "version": row.version},
        )


def _zone(uow: UnitOfWork, connection_id: str, location_id: str) -> str | None:
    location = uow.records.location(connection_id, location_id)
    return None if location is None else location.time_zone
