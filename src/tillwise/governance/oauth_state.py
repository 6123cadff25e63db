"""OAuth installs: the ``state`` nonce, and completing an install from the platform's callback.

The state is the platform, what identifies the store (e.g. Shopify's ``shop``) and a random
nonce, encrypted and authenticated with the secret key (Fernet: tamper-evident, timestamped),
so the callback can be checked without a server-side table: right platform, at most
``STATE_TTL`` old, and — within this process — used once.
"""

from __future__ import annotations

import json
import secrets as _random
import threading
from collections.abc import Mapping
from typing import Any

from tillwise.governance.connections import Connection, Connections
from tillwise.governance.secrets import SecretBox, SecretDecryptionError
from tillwise.ports.platform import Connector, SignatureError

STATE_TTL = 600  # seconds a person has to approve the app


class OAuthStates:
    def __init__(self, box: SecretBox) -> None:
        self._box = box
        self._used: set[str] = set()
        self._lock = threading.Lock()

    def issue(self, platform: str, params: Mapping[str, str]) -> str:
        doc = {"p": platform, "s": dict(params), "n": _random.token_urlsafe(12)}
        return self._box.encrypt(json.dumps(doc)).decode("ascii")

    def check(self, state: str, platform: str) -> dict[str, Any]:
        """The state's contents, if it is ours, for ``platform``, fresh and not used before;
        else :class:`SignatureError` (field ``state``)."""
        try:
            doc = json.loads(self._box.decrypt(state.encode("ascii"), ttl=STATE_TTL))
        except (SecretDecryptionError, UnicodeEncodeError, ValueError):
            raise SignatureError(
                "the OAuth state is not one we issued, or it is more than 10 minutes old",
                field="state",
            ) from None
        if doc.get("p") != platform:
            raise SignatureError("the OAuth state was issued for another platform", field="state")
        with self._lock:
            if doc["n"] in self._used:
                raise SignatureError("the OAuth state was already used", field="state")
            self._used.add(doc["n"])
        return dict(doc.get("s") or {})


async def complete_install(
    connector: Connector,
    connections: Connections,
    states: OAuthStates,
    query: Mapping[str, str],
    *,
    redirect_uri: str,
) -> Connection:
    """Verify the callback (our state, then the platform's own signature where it signs one),
    exchange the code and store the connection, its credentials encrypted. Audited as
    ``connection.created`` (no token in it)."""
    if connector.oauth is None:
        raise SignatureError(f"{connector.platform} has no OAuth install", field="platform")
    states.check(query.get("state", ""), connector.platform)
    connector.oauth.verify_callback(query)
    installed = await connector.oauth.exchange(query, redirect_uri=redirect_uri)
    return connections.create(
        connector.platform,
        installed.name,
        list(installed.webhook_secrets),
        actor=f"oauth:{connector.platform}",
        config=installed.config,
        credentials=installed.credentials,
    )
