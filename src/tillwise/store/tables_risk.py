"""Tables of loss prevention: every score, the review queue, reviewers' labels, the scorer's
state.

* ``risk_scores``: one row per scored till event (keyed on its type and record, so an event
  re-sent under any delivery id is scored once), with the score, decision, reasons, and the
  model and version that produced them — the employee's recent pattern and the reports read it —
  and the supervised model's input as scored, what a reviewer's label of the event trains on.
* ``risk_cases``: the review queue. One case per flagged event (its id derived from the
  event), per store, with its state (new → in_review → dismissed | confirmed), owner, SLA due
  time, plain-language summary and the flattened event it was scored on.
* ``risk_labels``: reviewers' decisions (confirmed = loss, dismissed = not), the flattened
  event beside each, and which model version learned from it.
* ``risk_scorer_state``: the scorer's latest snapshot (baselines and models) per name, so a
  worker restarts warm.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from tillwise.store.metadata import JsonDoc, metadata

CONNECTION_ID = String(64)
EXTERNAL_ID = String(255)


def _utc() -> DateTime:
    return DateTime(timezone=True)


risk_scores = Table(
    "risk_scores",
    metadata,
    Column("event_key", String(255), primary_key=True),  # "<event type>:<record id>"
    Column("event_id", EXTERNAL_ID, nullable=False),  # the event data's id (sale id, ...)
    Column("kind", String(16), nullable=False),
    Column("connection_id", CONNECTION_ID, nullable=False),
    Column("location_external_id", EXTERNAL_ID, nullable=False),
    Column("employee_id", EXTERNAL_ID, nullable=True),
    Column("occurred_at", _utc(), nullable=False),
    Column("local_day", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),  # minor units
    Column("score", Float, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reasons", JsonDoc, nullable=False),
    Column("model", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("scored_at", _utc(), nullable=False),
    Column("features", JsonDoc, nullable=True),  # None: scored before features were kept
    Index(
        "ix_risk_scores_store_employee",
        "connection_id",
        "location_external_id",
        "employee_id",
        "occurred_at",
    ),
    Index("ix_risk_scores_store_time", "connection_id", "location_external_id", "occurred_at"),
)

risk_cases = Table(
    "risk_cases",
    metadata,
    Column("id", String(36), primary_key=True),  # uuid5 of the flagged event
    Column("connection_id", CONNECTION_ID, nullable=False),
    Column("location_external_id", EXTERNAL_ID, nullable=False),
    Column("store", String(320), nullable=False, index=True),  # "<connection>:<location>"
    Column("event_key", String(255), nullable=False, unique=True),
    Column("event_id", EXTERNAL_ID, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("record_id", String(36), nullable=True),  # the canonical record scored, if any
    Column("employee_id", EXTERNAL_ID, nullable=True, index=True),
    Column("register_id", EXTERNAL_ID, nullable=True),
    Column("customer_id", EXTERNAL_ID, nullable=True),
    Column("occurred_at", _utc(), nullable=False),
    Column("local_day", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("score", Float, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("reasons", JsonDoc, nullable=False),
    Column("model", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("summary", Text, nullable=False),
    Column("event", JsonDoc, nullable=False),  # the flattened event scored (for labels)
    Column("state", String(16), nullable=False, index=True),
    Column("owner", String(100), nullable=True, index=True),
    Column("sla_due", _utc(), nullable=False),
    Column("proposal_id", String(36), nullable=True),  # require_manager: the approval
    Column("note", Text, nullable=True),
    Column("decided_by", String(100), nullable=True),
    Column("decided_at", _utc(), nullable=True),
    Column("created_at", _utc(), nullable=False, index=True),
    Column("updated_at", _utc(), nullable=False),
)

risk_labels = Table(
    "risk_labels",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("store", String(320), nullable=False, index=True),
    Column("event", JsonDoc, nullable=False),
    Column("label", Boolean, nullable=False),  # True: confirmed loss
    Column("decided_by", String(100), nullable=False),
    Column("decided_at", _utc(), nullable=False, index=True),
    Column("learned_version", String(64), nullable=True),  # the model version that used it
    Column("learned_at", _utc(), nullable=True),
)

risk_scorer_state = Table(
    "risk_scorer_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("model", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("events_seen", BigInteger, nullable=False),
    Column("labels_learned", Integer, nullable=False),
    Column("saved_at", _utc(), nullable=False),
)
