"""The replay as a file: the generic webhook bodies the simulator POS sends, one per line.

:func:`webhook_bodies` gives the bodies (``{"event", "created_at", "data"}``) of the replay
(:mod:`.replay`) in the order the POS sends them — time order — with the cashiers, registers,
tenders, voids, no-sales, price overrides and declined payment attempts of the seeded till
scheme (:mod:`.tills`). By
default only what the risk scorer reads (:data:`TILL_EVENTS`: the stores, the cashiers and the
till events); ``events=None`` keeps everything, stock levels included (played on a fresh stock
nobody adjusts). ``tillwise risk stream --out FILE`` writes them; ``tillwise risk replay
--events FILE`` reads them, and ``tillwise risk inject`` adds known loss patterns to them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from .dataset import Invoice
from .replay import SimEvent, build_replay
from .tills import DEFAULT_SEED

TILL_EVENTS = frozenset(
    {
        "location.updated",
        "employee.updated",
        "sale.completed",
        "refund.created",
        "sale.voided",
        "drawer.opened",
        "price.overridden",
        "payment.updated",
    }
)


def webhook_bodies(
    invoices: Sequence[Invoice],
    *,
    seed: int = DEFAULT_SEED,
    events: Collection[str] | None = TILL_EVENTS,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The replay's webhook bodies in send (time) order: those named in ``events`` (all when
    ``None``), at most ``limit``."""
    replay = build_replay(invoices, seed=seed)
    sent: Iterable[SimEvent]
    if events is None or any(name.startswith("inventory.") for name in events):
        from .pos import play_offline  # stock levels are played by the POS

        sent = play_offline(replay)
    else:
        sent = (step for step in replay.steps if isinstance(step, SimEvent))
    out: list[dict[str, Any]] = []
    for event in sent:
        if limit is not None and len(out) >= limit:
            break
        if events is None or event.event in events:
            out.append(event.payload())
    return out


def dumps(body: dict[str, Any]) -> str:
    """One body as one compact JSON line (no newline)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)


def write_jsonl(bodies: Iterable[dict[str, Any]], path: Path) -> int:
    """Write ``bodies`` to ``path``, one JSON per line; returns how many."""
    n = 0
    with path.open("w", encoding="utf-8") as handle:
        for body in bodies:
            handle.write(dumps(body) + "\n")
            n += 1
    return n
