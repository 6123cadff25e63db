"""Risk and loss-prevention triage: every till event scored as it arrives.

The scoring engine (pure, no I/O): :mod:`.events` (what is scored, and the adapter from
canonical records), :mod:`.baselines` (per-store and per-employee peer baselines),
:mod:`.signals` (the documented reason codes), :mod:`.models` (isolation forest, calibrated
supervised model), :mod:`.scorer` (:class:`RiskScorer`), :mod:`.injector` (the seeded
loss-pattern injector and the Online Retail II event stream used by tests and the benchmark).
"""

from __future__ import annotations

from .events import LineFact, RiskEvent, TenderFact, from_canonical, make_event
from .scorer import Assessment, RiskScorer
from .signals import CODES, Reason

__all__ = [
    "CODES",
    "Assessment",
    "LineFact",
    "Reason",
    "RiskEvent",
    "RiskScorer",
    "TenderFact",
    "from_canonical",
    "make_event",
]
