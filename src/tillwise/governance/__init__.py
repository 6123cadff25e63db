"""Governance: the audit log, connections and their secrets, API tokens, roles and permissions.

    secrets      SecretBox (Fernet at rest, key rotation), load_or_create_key, redaction
    audit        AuditLog: append-only, hash-chained, verifiable
    connections  Connections: POS connections with encrypted webhook secrets
    tokens       Tokens: API bearer tokens (hash stored), Principal
    rbac         roles → permissions, as data

Every service is synchronous and takes an SQLAlchemy Engine and a Clock; nothing is built at
import time.
"""
