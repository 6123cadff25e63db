"""The retailer's vendor terms: what Tillwise is told of a vendor beyond what the POS says.

Shopify and Square name a product's vendor at most; Clover not even that. A buyer's reorder
needs the vendor's lead time, its e-mail (a PO document goes there), its minimum order value
and, per SKU, the unit cost, case pack and minimum order quantity. ``tillwise vendors import``
reads them from a CSV (``workflows.replenishment.terms``) and :meth:`VendorTermsBook.upsert`
keeps them per connection and vendor: a field given replaces the one kept, an item replaces
the kept item of its SKU, anything not given stays; a term *cleared* is taken back, so plans
use the POS's value again (a vendor with no term left has no row). The planner lays them over
the POS's vendors (:meth:`tillwise.domain.catalog.VendorTerms.applied_to`). Each import is
audited as ``vendor.terms_imported`` in the same transaction: the source (a file's name, or
``api``), the terms given per vendor (what changed; only the vendor ids and counts when an
import gives more than :data:`AUDITED_ITEMS` items), the terms cleared, and what it did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Engine, delete, insert, select, update

from tillwise.domain.catalog import Cleared, VendorTerms
from tillwise.governance.audit import AuditLog
from tillwise.ports.clock import Clock
from tillwise.store.tables_replenishment import vendor_terms

IMPORTED = "vendor.terms_imported"
AUDITED_ITEMS = 500  # a bigger import is audited by vendor id and counts


class VendorTermsBook:
    def __init__(self, engine: Engine, audit: AuditLog, clock: Clock) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock

    def upsert(
        self,
        connection_id: str,
        terms: Sequence[VendorTerms],
        *,
        actor: str,
        source: str,
        cleared: Mapping[str, Cleared] | None = None,
    ) -> dict[str, int]:
        """Merge ``terms`` into the kept ones and take back the ``cleared`` ones (by vendor id:
        plans then use the POS's values again), all or nothing; audited, unless it only clears
        what is not set. Returns what changed (vendors new, vendors changed, items given)."""
        t = vendor_terms.c
        now = self._clock.now()
        cleared = {vid: c for vid, c in (cleared or {}).items() if c}
        given = {new.vendor_external_id: new for new in terms}
        counts = {"vendors_new": 0, "vendors_changed": 0, "items": 0}
        with self._engine.begin() as db:
            for vid in [*given, *(v for v in cleared if v not in given)]:
                where = (t.connection_id == connection_id, t.vendor_external_id == vid)
                row = db.execute(select(t.data).where(*where).with_for_update()).first()
                kept = None if row is None else VendorTerms.model_validate(row[0])
                new = given.get(vid)
                counts["items"] += len(new.items) if new is not None else 0
                merged = kept.merged(new) if kept and new else (kept or new)
                if merged is not None and vid in cleared:
                    merged = merged.without(cleared[vid])
                if merged == kept:
                    continue
                if merged is None:
                    db.execute(delete(vendor_terms).where(*where))
                elif kept is None:
                    db.execute(
                        insert(vendor_terms).values(
                            connection_id=connection_id,
                            vendor_external_id=vid,
                            data=merged.model_dump(mode="json"),
                            updated_by=actor,
                            updated_at=now,
                        )
                    )
                    counts["vendors_new"] += 1
                    continue
                else:
                    db.execute(
                        update(vendor_terms)
                        .where(*where)
                        .values(
                            data=merged.model_dump(mode="json"), updated_by=actor, updated_at=now
                        )
                    )
                counts["vendors_changed"] += 1
            if not terms and not counts["vendors_changed"]:
                return counts  # only clearing, and nothing was set: nothing to record
            listed = counts["items"] <= AUDITED_ITEMS
            self._audit.append_in(
                db,
                actor=actor,
                action=IMPORTED,
                store=connection_id,
                inputs={
                    "source": source,
                    "vendors": [*given, *(v for v in cleared if v not in given)],
                    "terms": [t.model_dump(mode="json", exclude_none=True) for t in terms]
                    if listed
                    else None,
                    **(
                        {"cleared": {vid: c.as_dict() for vid, c in cleared.items()}}
                        if cleared
                        else {}
                    ),
                },
                outputs=counts,
            )
        return counts
