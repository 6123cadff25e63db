"""Lightspeed Retail R-Series sends no webhooks for retail data.

Data arrives by backfill and by the reconciliation sweep (``timeStamp`` filters), through the
API (:mod:`.backfill`). A POST to ``/webhooks/lightspeed-r/<connection>`` therefore cannot be a
genuine delivery: it is refused as unsigned, whatever it carries, so nothing unverified ever
reaches the inbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from tillwise.ports.platform import SignatureError, VerifiedDelivery

NO_WEBHOOKS = "R-Series sends no webhooks; data arrives by backfill and the reconciliation sweep"


def verify(
    raw_body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: datetime,
    *,
    url: str = "",
) -> VerifiedDelivery:
    """Always raises :class:`SignatureError`: there is no R-Series webhook to verify."""
    raise SignatureError(NO_WEBHOOKS, field="body")
