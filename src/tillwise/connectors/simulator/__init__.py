"""A built-in POS: replays UCI Online Retail II as live, signed ``generic`` webhooks.

``simulate(base_url, connection_id, secret, *, speed, limit, progress)`` loads the bundled
subset, builds the event stream (:mod:`.replay`) and posts it to
``<base_url>/webhooks/generic/<connection_id>`` (:mod:`.client`).
"""

from __future__ import annotations

from .client import SimulationCounts, SimulatorError, WebhookSender, replay_events, simulate

__all__ = ["SimulationCounts", "SimulatorError", "WebhookSender", "replay_events", "simulate"]
