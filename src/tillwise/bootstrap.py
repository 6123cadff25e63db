"""The composition root: settings → concrete store, inbox, bus, connectors, governance services.

This is the only module that names implementations. Nothing is built at import time:
call :func:`build_container` and close it when done.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tillwise.ports.clock import Clock, SystemClock
from tillwise.settings import Settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tillwise.ai import AuditedLLM
    from tillwise.connectors._po_documents import PurchaseOrderDocuments
    from tillwise.domain.purchasing import PurchaseOrder
    from tillwise.governance.approvals import Approvals
    from tillwise.governance.audit import AuditLog
    from tillwise.governance.connections import Connections
    from tillwise.governance.forecast_adjustments import ForecastAdjustments
    from tillwise.governance.oauth_state import OAuthStates
    from tillwise.governance.reorder_stops import ReorderStops
    from tillwise.governance.risk import RiskCases
    from tillwise.governance.rollout import Modes
    from tillwise.governance.secrets import KnownSecrets
    from tillwise.governance.tokens import Tokens
    from tillwise.governance.users import Users
    from tillwise.governance.vendor_terms import VendorTermsBook
    from tillwise.pipeline.backfill import Backfill
    from tillwise.pipeline.dispatch import Normalizer
    from tillwise.pipeline.relay import OutboxRelay
    from tillwise.pipeline.runtime import Runtime
    from tillwise.pipeline.worker import Worker
    from tillwise.ports.bus import Bus, DeadLetters
    from tillwise.ports.inbox import Inbox
    from tillwise.ports.platform import Api, Connector
    from tillwise.ports.repositories import UnitOfWorkFactory
    from tillwise.workflows.replenishment.planner import Planner
    from tillwise.workflows.risk.workflow import ScorerState


@dataclass
class Container:
    """Everything the API, the CLI and the workers need, built once from settings."""

    settings: Settings
    engine: Engine
    work_engine: Engine
    uow: UnitOfWorkFactory
    inbox: Inbox
    bus: Bus
    dead_letters: DeadLetters
    connectors: dict[str, Connector]
    connections: Connections
    tokens: Tokens
    audit: AuditLog
    users: Users
    modes: Modes
    approvals: Approvals
    llm: AuditedLLM  # NoLLM unless TILLWISE_LLM_BASE_URL is set; PII tokenized, every call audited
    clock: Clock = field(default_factory=SystemClock)
    relay: OutboxRelay | None = None
    known_secrets: KnownSecrets | None = None
    backfill: Backfill = field(init=False)
    oauth_states: OAuthStates = field(kw_only=True)
    risk_cases: RiskCases = field(kw_only=True)
    reorder_stops: ReorderStops = field(kw_only=True)  # SKUs a person stopped reordering
    forecast_adjustments: ForecastAdjustments = field(kw_only=True)  # a buyer's over some days
    vendor_terms: VendorTermsBook = field(kw_only=True)  # the retailer's terms per vendor

    def __post_init__(self) -> None:
        from tillwise.pipeline.backfill import Backfill

        self.backfill = Backfill(
            self.engine, self.inbox, self.api_for, self._platform_of, self.clock
        )

    def _platform_of(self, connection_id: str) -> str:
        conn = self.connections.get(connection_id)
        if conn is None:
            raise LookupError(f"no connection {connection_id!r}")
        return conn.platform

    def api_connections(self) -> list[str]:
        """Active connections whose platform has an API (backfill and reconciliation)."""
        return [
            c.id
            for c in self.connections.list(status="active")
            if (connector := self.connectors.get(c.platform)) is not None
            and connector.api is not None
        ]

    def oauth_redirect_uri(self, platform: str) -> str:
        """Where platforms send people back after an install (TILLWISE_PUBLIC_URL)."""
        base = self.settings.public_url or f"http://{self.settings.host}:{self.settings.port}"
        return f"{base.rstrip('/')}/oauth/{platform}/callback"

    def connection_config(self, connection_id: str) -> Mapping[str, Any]:
        """A connection's non-secret config, what its deliveries are normalized with ({} for
        an unknown connection)."""
        conn = self.connections.get(connection_id)
        return {} if conn is None else dict(conn.config)

    def normalizer(self) -> Normalizer:
        """The ``deliveries`` handler: normalize with each connection's config, fetch what a
        delivery only names through the connection's API."""
        from tillwise.pipeline.dispatch import Normalizer

        return Normalizer(
            self.uow,
            self.inbox,
            self.connectors,
            self.api_for,
            self.clock,
            config_for=self.connection_config,
        )

    def planner(self) -> Planner:
        """The replenishment planner (built once): the production forecaster on the configured
        executor (``TILLWISE_FORECAST_EXECUTOR``: local processes by default, or Dask)."""
        cached = self.__dict__.get("_planner")
        if cached is None:
            from tillwise.compute import make_executor
            from tillwise.compute.forecasting import ProductionForecaster
            from tillwise.workflows.replenishment.planner import Planner, PlanSettings

            executor = make_executor(self.settings.forecast_executor, self.settings.dask_address)
            policy = PlanSettings(
                service_level=self.settings.service_level,
                review_period_days=self.settings.review_period_days,
                class_service_levels=self.settings.service_level_abc,
            )
            cached = Planner(
                self.uow,
                ProductionForecaster(executor=executor),
                self.clock,
                settings=policy,
                events=self.store_events,
            )
            self.__dict__["_planner"] = cached
            self.__dict__["_executor"] = executor
        return cached

    def store_events(self, connection_id: str, location_external_id: str) -> dict[date, str]:
        """The events of ``TILLWISE_EVENTS_FILE`` for one store (none when it cannot be read:
        the error is logged with its file and row, and the plan goes on without them). Read
        again whenever the file changes."""
        from tillwise.compute.forecasting import InvalidSalesFile

        path = self.settings.events_file
        if path is None:
            return {}
        try:
            stat = Path(path).stat()
            version = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            version = (0, 0)  # missing: read_events says so
        try:
            return dict(_read_events(str(path), version, connection_id, location_external_id))
        except InvalidSalesFile as exc:
            log.error("events file not used: %s", exc)
            return {}

    def store_calendar(
        self, connection_id: str, location_external_id: str, start: date, end: date
    ) -> dict[date, str]:
        """The named days from ``start`` to ``end`` at one store, as its forecast sees them: the
        public holidays of its country (none where no calendar exists) and its events."""
        from tillwise.compute.forecasting import country_holidays
        from tillwise.compute.forecasting.holidays import merge_calendars
        from tillwise.ports.forecasting import UnknownHolidays

        with self.uow() as uow:
            store = uow.records.location(connection_id, location_external_id)
        public: dict[date, str] = {}
        if store is not None and store.country_code:
            try:
                public = country_holidays(store.country_code, start, end)
            except UnknownHolidays:
                public = {}
        events = self.store_events(connection_id, location_external_id)
        return merge_calendars(public, {d: n for d, n in events.items() if start <= d <= end})

    def risk_state(self) -> ScorerState:
        """The process's in-memory risk scorer (built once), shared by the risk workflow's
        workers and ``POST /v1/risk/score``; restored from its snapshot on first use."""
        cached = self.__dict__.get("_risk_state")
        if cached is None:
            from tillwise.workflows.risk.workflow import RiskConfig, ScorerState

            s = self.settings
            config = RiskConfig(
                sla_hours={
                    "high": s.risk_sla_hours_high,
                    "medium": s.risk_sla_hours_medium,
                    "low": s.risk_sla_hours_low,
                },
                manager_refund_over=s.risk_manager_refund_over or None,
                manager_discount_over=s.risk_manager_discount_over or None,
                learn_after_labels=s.risk_learn_after_labels,
                snapshot_every=s.risk_snapshot_every,
            )
            cached = ScorerState(self.uow, config=config, now=self.clock.now)
            self.__dict__["_risk_state"] = cached
        return cached

    def api_for(self, connection_id: str) -> Api:
        """The platform API of one connection (credentials decrypted, rotation persisted);
        close it when done."""
        conn = self.connections.get(connection_id)
        if conn is None:
            raise LookupError(f"no connection {connection_id!r}")
        connector = self.connectors.get(conn.platform)
        if connector is None or connector.api is None:
            raise LookupError(f"the {conn.platform} connector has no API")
        app = self.settings.platform_app(conn.platform)
        return connector.api(self.connections.context(connection_id, app))

    async def close(self) -> None:
        executor = self.__dict__.pop("_executor", None)
        if executor is not None:
            executor.close()
        await self.llm.aclose()
        await self.inbox.close()
        await self.bus.close()
        self.engine.dispose()
        self.work_engine.dispose()


def build_container(
    settings: Settings,
    *,
    clock: Clock | None = None,
    connectors: Mapping[str, Connector] | None = None,
) -> Container:
    """Build every part from settings. Call ``await container.close()`` when done.

    ``connectors`` replaces some platforms' connectors (tests point them at local fakes)."""
    from tillwise.ai import AuditedLLM, make_provider
    from tillwise.connectors._po_documents import with_documents
    from tillwise.connectors._transfers import with_transfers
    from tillwise.connectors.registry import default_connectors
    from tillwise.governance.approvals import Approvals
    from tillwise.governance.audit import AuditLog
    from tillwise.governance.connections import Connections
    from tillwise.governance.forecast_adjustments import ForecastAdjustments
    from tillwise.governance.oauth_state import OAuthStates
    from tillwise.governance.reorder_stops import ReorderStops
    from tillwise.governance.risk import RiskCases
    from tillwise.governance.rollout import Modes
    from tillwise.governance.secrets import KnownSecrets, load_or_create_key
    from tillwise.governance.tokens import Tokens
    from tillwise.governance.users import Users
    from tillwise.governance.vendor_terms import VendorTermsBook
    from tillwise.pipeline.dead_letters import SqlDeadLetters
    from tillwise.pipeline.inbox import SqlInbox
    from tillwise.pipeline.relay import OutboxRelay
    from tillwise.store.engine import make_engine, make_session_factory
    from tillwise.store.unit_of_work import SqlUnitOfWorkFactory

    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)  # inbox and governance: fsync'd commits
    # What the pipeline derives from the inbox can be rebuilt from it (see store.engine).
    work_engine = (
        make_engine(settings.database_url, durable=False) if settings.is_sqlite else engine
    )
    bus = _build_bus(settings, work_engine)
    relay = OutboxRelay(work_engine, bus)
    known = KnownSecrets()  # secrets seen in this process, masked in logs and audit entries
    audit = AuditLog(engine, clock, known_secrets=known, anchor_path=_audit_anchor_path(settings))
    overrides = connectors
    connectors = default_connectors(settings.platform_app)
    connectors.update(overrides or {})
    box = load_or_create_key(settings)
    connections = Connections(engine, box, audit, clock, known_secrets=known)
    modes = Modes(engine, audit, clock)
    if settings.llm_api_key is not None:  # masked wherever it might surface
        known.add(settings.llm_api_key.get_secret_value())
    llm = AuditedLLM(
        make_provider(
            settings.llm_base_url,
            settings.llm_model,
            settings.llm_api_key,
            settings.llm_timeout_seconds,
        ),
        audit,
    )
    uow = SqlUnitOfWorkFactory(
        make_session_factory(work_engine), on_commit=relay.notify, clock=clock
    )
    documents = _purchase_order_documents(settings, uow, known)
    writebacks = {
        name: with_documents(with_transfers(c.writeback), documents)
        for name, c in connectors.items()
    }
    return Container(
        settings=settings,
        engine=engine,
        work_engine=work_engine,
        uow=uow,
        inbox=SqlInbox(
            engine,
            outbox_notify=relay.notify,
            window_ms=settings.group_commit_window_ms,
            clock=clock,
        ),
        bus=bus,
        dead_letters=SqlDeadLetters(work_engine),
        connectors=connectors,
        connections=connections,
        tokens=Tokens(engine, audit, clock),
        audit=audit,
        users=Users(engine, audit, clock),
        modes=modes,
        approvals=Approvals(
            engine, audit, clock, modes, connections, writebacks, settings.platform_app
        ),
        llm=llm,
        clock=clock,
        relay=relay,
        known_secrets=known,
        oauth_states=OAuthStates(box),
        risk_cases=RiskCases(engine, audit, clock),
        reorder_stops=ReorderStops(engine, audit, clock),
        forecast_adjustments=ForecastAdjustments(engine, audit, clock),
        vendor_terms=VendorTermsBook(engine, audit, clock),
    )


def _purchase_order_documents(
    settings: Settings, uow: UnitOfWorkFactory, known: KnownSecrets
) -> PurchaseOrderDocuments:
    """Purchase orders as vendor documents (platforms without a PO API), recorded as open
    canonical purchase orders so their stock counts as on order."""
    from tillwise.connectors._po_documents import PurchaseOrderDocuments, Smtp
    from tillwise.governance.secrets import default_key_path

    directory = settings.documents_dir
    if directory is None:
        key = default_key_path(settings.database_url) if settings.is_sqlite else None
        directory = (key.parent if key is not None else Path.cwd()) / "documents"
    smtp = None
    if settings.smtp_url is not None:
        known.add(settings.smtp_url.get_secret_value())
        smtp = Smtp(settings.smtp_url.get_secret_value(), settings.po_from_email)

    async def record(order: PurchaseOrder) -> None:
        def store() -> None:
            with uow() as work:
                work.records.upsert(order)

        await asyncio.to_thread(store)

    return PurchaseOrderDocuments(directory, smtp=smtp, record=record)


def _audit_anchor_path(settings: Settings) -> Path | None:
    if settings.audit_anchor_file is not None:
        return settings.audit_anchor_file
    from tillwise.governance.secrets import default_key_path

    if not settings.is_sqlite:
        return None
    key = default_key_path(settings.database_url)
    return None if key is None else key.with_name(key.stem + ".audit-anchor")


def _build_bus(settings: Settings, engine: Engine) -> Bus:
    if settings.bus == "nats":
        from tillwise.pipeline.backends.jetstream import JetStreamBus

        assert settings.nats_url is not None
        return JetStreamBus(
            settings.nats_url, stream=settings.nats_stream, ack_wait=settings.ack_wait_seconds
        )
    if settings.bus == "memory":
        from tillwise.pipeline.backends.memory import MemoryBus

        return MemoryBus(ack_wait=settings.ack_wait_seconds)
    from tillwise.pipeline.backends.sql import SqlBus

    return SqlBus(engine, ack_wait=settings.ack_wait_seconds)


def build_workers(container: Container, *, copies: int = 1) -> list[Worker]:
    """``copies`` worker loops for each consumer of the spine (normalizer, each workflow)."""
    from tillwise.pipeline.dispatch import (
        DELIVERIES,
        EVENTS,
        NORMALIZER,
        PERMANENT_ERRORS,
        WorkflowDispatcher,
    )
    from tillwise.pipeline.worker import Worker
    from tillwise.workflows.registry import default_workflows

    c = container
    handlers: list[tuple[str, str, Any]] = [(DELIVERIES, NORMALIZER, c.normalizer())]
    for workflow in default_workflows(risk=c.risk_state()):
        dispatcher = WorkflowDispatcher(workflow, c.uow, c.clock, c.approvals.route_new)
        handlers.append((EVENTS, dispatcher.consumer, dispatcher))
    return [
        Worker(
            c.bus,
            topic=topic,
            consumer=consumer,
            handler=handler,
            dead_letters=c.dead_letters,
            max_attempts=c.settings.max_attempts,
            clock=c.clock,
            permanent=PERMANENT_ERRORS,
            batch=64,
        )
        for topic, consumer, handler in handlers
        for _ in range(copies)
    ]


async def register_consumers(container: Container) -> None:
    """Create every durable consumer of the spine, so nothing published later misses one."""
    from tillwise.pipeline.dispatch import spine_consumers
    from tillwise.workflows.registry import default_workflows

    for topic, consumer in spine_consumers(default_workflows()):
        await container.bus.ensure_consumer(topic, consumer)


def build_runtime(container: Container, *, workers: int = 1, relay: bool = True) -> Runtime:
    """The relay plus ``workers`` copies of each consumer loop; consumers registered first."""
    from tillwise.pipeline.runtime import Runtime

    loops: list[Callable[[asyncio.Event], Awaitable[None]]] = []
    if relay and container.relay is not None:
        loops.append(container.relay.run)
    loops += [w.run for w in build_workers(container, copies=workers)]
    loops.append(container.approvals.run)  # route, expire, retry write-backs
    loops.append(container.audit.run_anchor)  # the audit head, copied outside the database
    hour = container.settings.replenish_hour
    if hour >= 0:  # each store's plan at its local night (a store never planned: at once)

        async def nightly(stop: asyncio.Event) -> None:
            from tillwise.workflows.replenishment.schedule import run_nightly

            await run_nightly(stop, container.planner(), container.approvals.route_new, hour=hour)

        loops.append(nightly)
    interval = container.settings.reconcile_interval_seconds
    if interval > 0:  # fill in what webhooks missed (platforms with an API)

        async def reconcile(stop: asyncio.Event) -> None:
            await container.backfill.run_sweeps(stop, container.api_connections, interval=interval)

        loops.append(reconcile)

    async def prepare() -> None:
        await register_consumers(container)

    return Runtime(loops=loops, prepare=prepare)


@functools.lru_cache(maxsize=256)
def _read_events(
    path: str, version: tuple[int, int], connection_id: str, location_external_id: str
) -> Mapping[date, str]:
    """One store's events of one version (modification time, size) of an events file: a
    plan of every store, or the dashboard's charts, parse the file once per change."""
    from types import MappingProxyType

    from tillwise.compute.forecasting import read_events

    return MappingProxyType(read_events(path, connection_id, location_external_id))
