"""The "never move backwards" rule: the source's version, else its updated-at, decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tillwise.domain.merge import MergeDecision, decide

KEEP, REPLACE = MergeDecision.KEEP, MergeDecision.REPLACE
T = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
EARLIER = T - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("stored", "incoming", "expected"),
    [
        # (version, updated_at) of the stored row and of the incoming record
        ((2, None), (3, None), REPLACE),  # newer version
        ((3, None), (3, None), REPLACE),  # same version: idempotent re-delivery
        ((3, None), (2, None), KEEP),  # older version
        ((3, EARLIER), (2, T), KEEP),  # versions win over times when both have one
        ((None, EARLIER), (None, T), REPLACE),  # newer updated-at
        ((None, T), (None, T), REPLACE),  # same updated-at
        ((None, T), (None, EARLIER), KEEP),  # older updated-at
        ((3, T), (None, EARLIER), KEEP),  # only times comparable: older
        ((None, T), (None, None), KEEP),  # no freshness cannot prove it is newer
        ((3, None), (None, None), KEEP),  # ... whichever freshness the stored copy has
        ((None, None), (None, None), REPLACE),  # nothing known on either side: last writer
        ((None, None), (1, None), REPLACE),
    ],
)
def test_decide(
    stored: tuple[int | None, datetime | None],
    incoming: tuple[int | None, datetime | None],
    expected: MergeDecision,
) -> None:
    assert decide(*stored, *incoming) is expected


def test_times_compare_as_instants_across_offsets() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    in_berlin = T.astimezone(berlin)
    assert decide(None, T, None, in_berlin) is REPLACE
    assert decide(None, T, None, EARLIER.astimezone(berlin)) is KEEP
