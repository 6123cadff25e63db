"""What normalizing one delivery yields, built up piece by piece: canonical records, canonical
events, and the objects it only names (to fetch). One builder for every platform normalizer."""

from __future__ import annotations

from dataclasses import dataclass, field

from tillwise.domain.events import Envelope
from tillwise.domain.normalized import CanonicalRecord, Fetch, NormalizedBatch


@dataclass
class Output:
    records: list[CanonicalRecord] = field(default_factory=list)
    events: list[Envelope] = field(default_factory=list)
    fetches: list[Fetch] = field(default_factory=list)

    def add(self, other: Output) -> None:
        self.records += other.records
        self.events += other.events
        for f in other.fetches:
            self.fetch(f.resource, *f.ids)

    def fetch(self, resource: str, *ids: str) -> None:
        """Name objects to fetch; ids of one resource are merged into one request."""
        for i, f in enumerate(self.fetches):
            if f.resource == resource:
                merged = f.ids + tuple(x for x in ids if x not in f.ids)
                self.fetches[i] = Fetch(resource=resource, ids=merged)
                return
        self.fetches.append(Fetch(resource=resource, ids=tuple(dict.fromkeys(ids))))

    def batch(self) -> NormalizedBatch:
        return NormalizedBatch(
            records=tuple(self.records), events=tuple(self.events), fetches=tuple(self.fetches)
        )
