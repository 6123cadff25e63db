"""Forecast adjustments: a buyer's knowledge the forecast cannot have, over some days.

An end-cap display next fortnight, a local festival, a school term starting, a range about to
be delisted: the buyer knows, the history does not. An adjustment multiplies one SKU's forecast
at one store by a factor over a span of the store's local days (1.5: half as much again; 0.5:
half; 0: none expected). The planner applies it to the days of the forecast it covers — the
daily forecast the chart shows and the lead-time demand the reorder point and order quantity
come from (scaled by the share of the protection period's forecast it changes) — and every
order line it moves says so, with the reason, who set it and the days.

One adjustment per SKU and store at a time: a new one replaces the old. It must end on or
after the first day the store's plans forecast (its today; an adjustment wholly before it
changes nothing) and span at most :data:`MAX_DAYS`. Setting, replacing and removing are
audited as ``replenishment.forecast_adjusted`` / ``replenishment.forecast_adjustment_removed``
on the store, in the same transaction as the change. Quantities follow at the next plan (the nightly
batch, ``tillwise replenish run`` or an inventory change crossing the reorder point).
"""

from __future__ import annotations

import math
from datetime import date

from sqlalchemy import Connection, Engine, delete, insert, select

from tillwise.domain.locations import store_key
from tillwise.governance.audit import AuditLog
from tillwise.governance.rollout import InvalidSetting
from tillwise.ports.clock import Clock
from tillwise.ports.repositories import ForecastAdjustment
from tillwise.store.repositories.replenishment import forecast_adjustment
from tillwise.store.tables_replenishment import forecast_adjustments

from .reorder_stops import MAX_REASON, MAX_SKU, text_field

MAX_FACTOR = 10.0  # ten times the forecast: beyond that, a planned order is the better tool
MAX_DAYS = 366
ADJUSTED = "replenishment.forecast_adjusted"
REMOVED = "replenishment.forecast_adjustment_removed"


class NoForecastAdjustment(LookupError):
    code = "not_found"
    field = "sku"


class ForecastAdjustments:
    def __init__(self, engine: Engine, audit: AuditLog, clock: Clock) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock

    def set(
        self,
        connection_id: str,
        location_external_id: str,
        sku: str,
        *,
        factor: float,
        starts_on: date,
        ends_on: date,
        reason: str,
        actor: str,
        today: date,
    ) -> ForecastAdjustment:
        """Adjust ``sku``'s forecast at the store from ``starts_on`` to ``ends_on`` (inclusive)
        by ``factor``, replacing an adjustment already there; ``today`` is the first day the
        store's plans forecast (``planner.planning_day``).
        Raises :class:`InvalidSetting` naming the field that is wrong."""
        sku = text_field("sku", sku, MAX_SKU)
        reason = text_field("reason", reason, MAX_REASON)
        if not (isinstance(factor, int | float) and math.isfinite(factor)):
            raise InvalidSetting("factor must be a number", field="factor")
        if not 0 <= factor <= MAX_FACTOR:
            why = f"factor must be between 0 and {MAX_FACTOR:g} (1 leaves the forecast as it is)"
            raise InvalidSetting(why, field="factor")
        if ends_on < starts_on:
            raise InvalidSetting(
                f"ends_on ({ends_on}) is before starts_on ({starts_on})", field="ends_on"
            )
        if ends_on < today:
            why = f"ends_on ({ends_on}) is before the store's plans forecast (from {today})"
            raise InvalidSetting(why, field="ends_on")
        if (ends_on - starts_on).days + 1 > MAX_DAYS:
            raise InvalidSetting(f"at most {MAX_DAYS} days at a time", field="ends_on")
        adjustment = ForecastAdjustment(
            connection_id=connection_id,
            location_external_id=location_external_id,
            sku=sku,
            factor=float(factor),
            starts_on=starts_on,
            ends_on=ends_on,
            reason=reason,
            set_by=actor,
            set_at=self._clock.now(),
        )
        with self._engine.begin() as db:
            before = self._remove(db, connection_id, location_external_id, sku)
            db.execute(
                insert(forecast_adjustments).values(
                    connection_id=connection_id,
                    location_external_id=location_external_id,
                    sku=sku,
                    factor=adjustment.factor,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    reason=reason,
                    set_by=actor,
                    set_at=adjustment.set_at,
                )
            )
            self._audit.append_in(
                db,
                actor=actor,
                action=ADJUSTED,
                store=store_key(connection_id, location_external_id),
                inputs={
                    "sku": sku,
                    "factor": adjustment.factor,
                    "starts_on": starts_on.isoformat(),
                    "ends_on": ends_on.isoformat(),
                    "reason": reason,
                },
                outputs={"replaced": None if before is None else before.public()},
            )
        return adjustment

    def remove(
        self, connection_id: str, location_external_id: str, sku: str, *, actor: str
    ) -> ForecastAdjustment:
        """Take the adjustment away: the next plan uses the forecast as it is. Raises
        :class:`NoForecastAdjustment` when the SKU has none at the store."""
        with self._engine.begin() as db:
            before = self._remove(db, connection_id, location_external_id, sku)
            if before is None:
                raise NoForecastAdjustment(
                    f"{sku!r} has no forecast adjustment at "
                    f"{store_key(connection_id, location_external_id)}"
                )
            self._audit.append_in(
                db,
                actor=actor,
                action=REMOVED,
                store=store_key(connection_id, location_external_id),
                inputs={"sku": sku},
                outputs=before.public(),
            )
        return before

    @staticmethod
    def _remove(
        db: Connection, connection_id: str, location: str, sku: str
    ) -> ForecastAdjustment | None:
        """Delete the SKU's adjustment at the store (locked first), returning what it was."""
        a = forecast_adjustments.c
        where = (a.connection_id == connection_id, a.location_external_id == location, a.sku == sku)
        found = db.execute(select(forecast_adjustments).where(*where).with_for_update())
        row = found.mappings().first()
        if row is None:
            return None
        db.execute(delete(forecast_adjustments).where(*where))
        return forecast_adjustment(row)
