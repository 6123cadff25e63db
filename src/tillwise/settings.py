"""Settings from ``TILLWISE_*`` environment variables (or a ``.env`` file); CLI and server
share them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TILLWISE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{Path.cwd() / 'tillwise.db'}",
        description="SQLAlchemy URL; SQLite (embedded default) or postgresql+psycopg://",
    )
    bus: Literal["sql", "nats", "memory"] = "sql"
    nats_url: str | None = None
    nats_stream: str = "TILLWISE"
    # Key that encrypts secrets at rest (Fernet, urlsafe base64 of 32 bytes). If unset, a key
    # file is created beside the SQLite database (embedded default) with mode 0600.
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    # Where the audit log's newest (id, hash) is copied, outside the database, so deleting the
    # newest entries is detected. Default: beside the SQLite database; none for PostgreSQL
    # unless set (put it on another host's storage).
    audit_anchor_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # the URL POS platforms call (behind proxies)
    embedded_workers: int = Field(default=1, ge=0, description="worker tasks inside `serve`")
    max_attempts: int = Field(default=5, ge=1, description="handling attempts before dead letter")
    ack_wait_seconds: float = Field(default=30.0, gt=0)
    webhook_tolerance_seconds: int = 300
    max_body_bytes: int = 1024 * 1024
    group_commit_window_ms: float = Field(default=2.0, ge=0)
    reconcile_interval_seconds: float = Field(
        default=900.0, ge=0, description="reconciliation sweep period; 0 turns it off"
    )
    replenish_hour: int = Field(
        default=2, ge=-1, le=23, description="local hour of each store's nightly plan; -1: off"
    )
    # Replenishment policy: the chance that the reorder point covers the demand until an order
    # arrives (the lead time plus the review period: the days between plans).
    service_level: float = Field(default=0.95, ge=0.5, lt=1.0, description="e.g. 0.95")
    review_period_days: int = Field(default=1, ge=1, le=90, description="days between orders")
    # Or one per ABC class, A B C (A: the items making the first 80 % of a store's forecast
    # sales value, B: the next 15 %), e.g. TILLWISE_SERVICE_LEVEL_ABC=[0.98,0.95,0.9]
    service_level_abc: tuple[float, float, float] | None = None
    forecast_executor: str = Field(
        default="processes", pattern="^(inline|processes|dask)$", description="where forecasts run"
    )
    dask_address: str | None = None  # tcp://host:8786 with forecast_executor=dask
    # The retailer's own events (CSV or Parquet: ds, name[, connection, location]), past and
    # planned — Black Friday, a store's sale days: the nightly forecasts learn their effects
    # like public holidays'. Read at each plan, so edits count from the next one.
    events_file: Path | None = None
    # Loss prevention: hours to work a case by severity, and the amounts (minor units of the
    # store's currency) above which a refund or a sale's discounts need a manager (0: no rule).
    risk_sla_hours_high: float = Field(default=4.0, gt=0)
    risk_sla_hours_medium: float = Field(default=24.0, gt=0)
    risk_sla_hours_low: float = Field(default=72.0, gt=0)
    risk_manager_refund_over: int = Field(default=25_000, ge=0)
    risk_manager_discount_over: int = Field(default=5_000, ge=0)
    risk_learn_after_labels: int = Field(default=5, ge=1, description="new labels that retrain")
    risk_snapshot_every: int = Field(
        default=5000, ge=1, description="events between snapshots (a save costs ~0.4 s)"
    )
    # LLM (optional): any OpenAI-compatible endpoint, e.g. https://api.example.com/v1 or
    # http://localhost:11434/v1 (Ollama). Unset: no model, deterministic explanations.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = Field(default=30, gt=0)

    # Purchase orders for platforms without a purchase-order API: CSV + PDF written here and,
    # with an SMTP server, e-mailed to the vendor (smtp://user:password@host:port or smtps://).
    documents_dir: Path | None = None  # default: "documents" beside the SQLite database / cwd
    smtp_url: SecretStr | None = None
    po_from_email: str = "purchasing@localhost"

    # POS platform apps (OAuth client credentials; one app per platform). Secrets stay SecretStr.
    shopify_client_id: str | None = None
    shopify_client_secret: SecretStr | None = None
    shopify_api_version: str = "2026-10"
    square_application_id: str | None = None
    square_application_secret: SecretStr | None = None
    square_environment: Literal["production", "sandbox"] = "production"
    square_api_version: str = "2024-07-17"
    clover_app_id: str | None = None
    clover_app_secret: SecretStr | None = None
    clover_region: Literal["na", "eu", "la", "sandbox"] = "na"
    # Clover's published caps on concurrent requests (docs.clover.com api-usage-rate-limits)
    clover_max_concurrent_per_token: int = Field(default=5, ge=1)
    clover_max_concurrent_per_app: int = Field(default=10, ge=1)
    lightspeed_x_client_id: str | None = None
    lightspeed_x_client_secret: SecretStr | None = None
    lightspeed_x_signature_over: Literal["body", "payload"] = "body"  # [UNVERIFIED] scheme
    # X-Series / R-Series objects name no currency: what a new connection's config starts with
    # (each connection's own ``currency`` is what its deliveries are normalized with)
    lightspeed_x_currency: str | None = None
    lightspeed_r_client_id: str | None = None
    lightspeed_r_client_secret: SecretStr | None = None
    lightspeed_r_currency: str | None = None

    def platform_app(self, platform: str) -> dict[str, str]:
        """The platform app's settings as plain strings (secrets revealed: pass them only to
        the connector that signs or exchanges with them)."""
        prefix = platform.replace("-", "_") + "_"
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            if name.startswith(prefix):
                value = getattr(self, name)
                if value is None:
                    continue
                out[name[len(prefix) :]] = (
                    value.get_secret_value() if isinstance(value, SecretStr) else str(value)
                )
        return out

    @field_validator("service_level_abc")
    @classmethod
    def _service_levels(
        cls, value: tuple[float, float, float] | None
    ) -> tuple[float, float, float] | None:
        if value is not None and not all(0.5 <= v < 1 for v in value):
            raise ValueError("each class's service level must be at least 0.5 and below 1")
        return value

    @model_validator(mode="after")
    def _nats_needs_url(self) -> Settings:
        if self.bus == "nats" and not self.nats_url:
            raise ValueError("TILLWISE_BUS=nats needs TILLWISE_NATS_URL")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
