"""Identity: every canonical record keeps where it came from.

External ids are always strings (Shopify ids exceed 2**53; Square ids are opaque). A record's
canonical id is derived deterministically from its source reference, so the same POS object
always maps to the same row however often it is delivered.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

_NAMESPACE = uuid.UUID("6f1c7d1e-3b5a-4d0e-9a57-7e0c2a8f9b11")


class SourceRef(BaseModel):
    """Where a record came from: platform, the connection (merchant install) and its id there."""

    model_config = ConfigDict(frozen=True)

    platform: str = Field(min_length=1, max_length=32)
    connection_id: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=255)

    def canonical_id(self, kind: str) -> str:
        key = f"{self.platform}\x1f{self.connection_id}\x1f{kind}\x1f{self.external_id}"
        return str(uuid.uuid5(_NAMESPACE, key))


class SourceRecord(BaseModel):
    """Base of every canonical object that mirrors a POS record.

    ``source_updated_at`` and/or ``source_version`` are what the POS says about the record's
    freshness; :mod:`tillwise.domain.merge` uses them so upserts never move a record backwards.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = "record"
    source: SourceRef
    source_updated_at: datetime | None = None
    source_version: int | None = None

    @property
    def id(self) -> str:
        return self.source.canonical_id(self.kind)

    @property
    def external_id(self) -> str:
        return self.source.external_id
