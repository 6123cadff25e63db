"""The retailer's vendor terms: what Tillwise is told of a vendor beyond what the POS says.

Shopify and Square name a product's vendor at most; Clover not even that. A buyer's reorder
needs the vendor's lead time, its e-mail (a PO document goes there), its minimum order value
and, per SKU, the unit cost, case pack and minimum order quantity. ``tillwise vendors import``
reads them from a CSV (``workflows.replenishment.terms``) and :meth:`VendorTermsBook.upsert`
keeps them per connection and vendor: a field given replaces the one kept, an item replaces
the kept item of its SKU, anything not given stays. The planner lays them over the POS's
vendors (:meth:`tillwise.domain.catalog.VendorTerms.applied_to`). Each import is audited as
``vendor.terms_imported`` in the same transaction: the source (a file's name, or ``api``),
the terms given per vendor (what changed; only the vendor ids and counts when an import gives
more than :data:`AUDITED_ITEMS` items) and what it did.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, insert, select, update

from tillwise.domain.catalog import VendorTerms
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
        self, connection_id: str, terms: Sequence[VendorTerms], *, actor: str, source: str
    ) -> dict[str, int]:
        """Merge ``terms`` into the kept ones, all or nothing; returns what changed (vendors
        new, vendors changed, items given)."""
        t = vendor_terms.c
        now = self._clock.now()
        counts = {"vendors_new": 0, "vendors_changed": 0, "items": 0}
        with self._engine.begin() as db:
            for new in terms:
                where = (
                    t.connection_id == connection_id,
                    t.vendor_external_id == new.vendor_external_id,
                )
                row = db.execute(select(t.data).where(*where).with_for_update()).first()
                counts["items"] += len(new.items)
                if row is None:
                    db.execute(
                        insert(vendor_terms).values(
                            connection_id=connection_id,
                            vendor_external_id=new.vendor_external_id,
                            data=new.model_dump(mode="json"),
                            updated_by=actor,
                            updated_at=now,
                        )
                    )
                    counts["vendors_new"] += 1
                    continue
                kept = VendorTerms.model_validate(row[0])
                merged = kept.merged(new)
                if merged == kept:
                    continue
                db.execute(
                    update(vendor_terms)
                    .where(*where)
                    .values(data=merged.model_dump(mode="json"), updated_by=actor, updated_at=now)
                )
                counts["vendors_changed"] += 1
            listed = counts["items"] <= AUDITED_ITEMS
            self._audit.append_in(
                db,
                actor=actor,
                action=IMPORTED,
                store=connection_id,
                inputs={
                    "source": source,
                    "vendors": [t.vendor_external_id for t in terms],
                    "terms": [t.model_dump(mode="json", exclude_none=True) for t in terms]
                    if listed
                    else None,
                },
                outputs=counts,
            )
        return counts
