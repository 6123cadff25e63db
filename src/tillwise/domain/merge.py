"""The "never move backwards" rule for upserts, pure.

A record from the POS replaces the stored one only if it is not older: compare the source
version when both have one, else the source updated-at when both have one. With no freshness
information on either side the newer delivery wins (last writer), which is what the POS
itself would show.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class MergeDecision(StrEnum):
    REPLACE = "replace"  # incoming is newer (or equally fresh: idempotent re-delivery)
    KEEP = "keep"  # incoming is older: stored record stays


def decide(
    stored_version: int | None,
    stored_updated_at: datetime | None,
    incoming_version: int | None,
    incoming_updated_at: datetime | None,
) -> MergeDecision:
    if stored_version is not None and incoming_version is not None:
        return MergeDecision.REPLACE if incoming_version >= stored_version else MergeDecision.KEEP
    if stored_updated_at is not None and incoming_updated_at is not None:
        return (
            MergeDecision.REPLACE
            if incoming_updated_at >= stored_updated_at
            else MergeDecision.KEEP
        )
    stored_known = stored_version is not None or stored_updated_at is not None
    if stored_known and incoming_updated_at is None and incoming_version is None:
        # An incoming record without any freshness cannot prove it is newer.
        return MergeDecision.KEEP
    return MergeDecision.REPLACE
