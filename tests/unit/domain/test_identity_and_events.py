"""Locations need a real time zone; events need an aware time; ids are stable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from tests.factories import envelope, make
from tillwise.domain.events import Envelope
from tillwise.domain.ids import SourceRef
from tillwise.domain.locations import Location
from tillwise.domain.sales import Refund, Transaction


def test_location_rejects_a_bad_time_zone() -> None:
    with pytest.raises(ValidationError, match="'Mars/Olympus_Mons' is not an IANA time zone"):
        make(Location, time_zone="Mars/Olympus_Mons")
    # a region's name (a folder of tzdata, not a zone) is refused the same way, not a crash
    with pytest.raises(ValidationError, match="'Europe' is not an IANA time zone"):
        make(Location, time_zone="Europe")
    assert make(Location, time_zone="Asia/Tokyo").zone.key == "Asia/Tokyo"


def test_envelope_rejects_a_naive_time() -> None:
    naive = datetime(2024, 1, 15, 14, 30)
    with pytest.raises(ValidationError, match="event time must be timezone-aware"):
        envelope(time=naive)
    aware = envelope(time=naive.replace(tzinfo=timezone(timedelta(hours=-5))))
    assert aware.time is not None and aware.time.utcoffset() == timedelta(hours=-5)
    assert Envelope.model_validate(aware.model_dump(mode="json")) == aware


def test_canonical_ids_are_stable_and_differ_by_kind_and_source() -> None:
    source = SourceRef(platform="generic", connection_id="c1", external_id="42")
    assert source.canonical_id("transaction") == source.canonical_id("transaction")
    assert make(Transaction, "42").id == make(Transaction, "42").id
    assert make(Transaction, "42").id != make(Refund, "42").id
    assert make(Transaction, "42").id != make(Transaction, "42", connection_id="c2").id
    assert make(Transaction, "42").external_id == "42"
