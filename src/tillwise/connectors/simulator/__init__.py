"""A built-in POS: replays UCI Online Retail II as live, signed ``generic`` webhooks.

``simulate(base_url, connection_id, secret, *, pos, speed, limit, progress)`` loads the bundled
subset, builds the replay (:mod:`.replay`) and posts it to
``<base_url>/webhooks/generic/<connection_id>`` (:mod:`.client`) through a live
:class:`SimulatorPos` (:mod:`.pos`): the POS owns the stock, applies each sale or refund to it
as it is sent, takes stock adjustments written back through ``pos.app`` and reports every
change as ``inventory.updated``; now and then a store's cycle count finds shrinkage and is sent
as ``inventory.counted``.
"""

from __future__ import annotations

from .client import SimulationCounts, SimulatorError, WebhookSender, replay_events, simulate
from .pos import SimulatorPos

__all__ = [
    "SimulationCounts",
    "SimulatorError",
    "SimulatorPos",
    "WebhookSender",
    "replay_events",
    "simulate",
]
