"""Stopped reordering: the SKUs a person took out of a store's replenishment.

A buyer or store manager stops reordering an item that is discontinued, phased out or bought
another way (consignment, a one-off range). From then on the store's plans still forecast the
item and show its stock, but propose no purchase (rule ``stopped``, quantity 0: the minimum
order quantity and the vendor minimum never raise it), no transfer into the store, and the
event trigger does not fire for it. Without this, the nightly plan proposes the same shortfall
again after every rejection.

Each stop carries its reason, who set it and when. Setting, changing (a new reason) and lifting
a stop are audited as ``replenishment.reorder_stopped`` / ``replenishment.reorder_resumed`` on
the store, in the same transaction as the change. A draft order already pending is left as it
is — changing it is its approver's decision — but its line for the item is shown marked
``reorder_stopped`` (the plan's page and ``GET /v1/proposals/{id}``), so the person deciding it
sees the line to drop (an edit to 0) or rejects the order.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, insert, select

from tillwise.domain.locations import store_key
from tillwise.governance.audit import AuditLog
from tillwise.governance.rollout import InvalidSetting
from tillwise.ports.clock import Clock
from tillwise.ports.repositories import ReorderStop
from tillwise.store.repositories.replenishment import reorder_stop
from tillwise.store.tables_replenishment import reorder_stops

MAX_REASON = 500
MAX_SKU = 128
STOPPED = "replenishment.reorder_stopped"
RESUMED = "replenishment.reorder_resumed"


class NoReorderStop(LookupError):
    code = "not_found"
    field = "sku"


def text_field(name: str, value: str, limit: int) -> str:
    """``value`` stripped; :class:`InvalidSetting` naming ``name`` when empty or too long."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidSetting(f"{name} is required", field=name)
    if len(text) > limit:
        raise InvalidSetting(f"{name}: at most {limit} characters, not {len(text)}", field=name)
    return text


class ReorderStops:
    def __init__(self, engine: Engine, audit: AuditLog, clock: Clock) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock

    def stop(
        self, connection_id: str, location_external_id: str, sku: str, *, reason: str, actor: str
    ) -> ReorderStop:
        """Stop reordering ``sku`` at the store (a stop already there takes the new reason)."""
        sku = text_field("sku", sku, MAX_SKU)
        reason = text_field("reason", reason, MAX_REASON)
        stop = ReorderStop(
            connection_id=connection_id,
            location_external_id=location_external_id,
            sku=sku,
            reason=reason,
            stopped_by=actor,
            stopped_at=self._clock.now(),
        )
        with self._engine.begin() as db:
            before = self._remove(db, connection_id, location_external_id, sku)
            db.execute(
                insert(reorder_stops).values(
                    connection_id=connection_id,
                    location_external_id=location_external_id,
                    sku=sku,
                    reason=reason,
                    stopped_by=actor,
                    stopped_at=stop.stopped_at,
                )
            )
            self._audit.append_in(
                db,
                actor=actor,
                action=STOPPED,
                store=store_key(connection_id, location_external_id),
                inputs={"sku": sku, "reason": reason},
                outputs={"previous_reason": None if before is None else before.reason},
            )
        return stop

    def resume(
        self, connection_id: str, location_external_id: str, sku: str, *, actor: str
    ) -> ReorderStop:
        """Lift the stop: the next plan reorders ``sku`` again. Raises
        :class:`NoReorderStop` when the SKU is not stopped at the store."""
        with self._engine.begin() as db:
            before = self._remove(db, connection_id, location_external_id, sku)
            if before is None:
                raise NoReorderStop(
                    f"{sku!r} is not stopped at {store_key(connection_id, location_external_id)}"
                )
            self._audit.append_in(
                db,
                actor=actor,
                action=RESUMED,
                store=store_key(connection_id, location_external_id),
                inputs={"sku": sku},
                outputs={
                    "reason": before.reason,
                    "stopped_by": before.stopped_by,
                    "stopped_at": before.stopped_at.isoformat(),
                },
            )
        return before

    @staticmethod
    def _remove(db: Connection, connection_id: str, location: str, sku: str) -> ReorderStop | None:
        """Delete the SKU's stop at the store (locked first), returning what it was."""
        s = reorder_stops.c
        where = (s.connection_id == connection_id, s.location_external_id == location, s.sku == sku)
        row = db.execute(select(reorder_stops).where(*where).with_for_update()).mappings().first()
        if row is None:
            return None
        db.execute(delete(reorder_stops).where(*where))
        return reorder_stop(row)
