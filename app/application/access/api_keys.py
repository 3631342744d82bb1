"""API keys: `eco2_<key id>_<secret>`. Only a hash of the secret is stored; a key is checked
by looking up its id and comparing hashes in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from app.domain.access import IssuedKey, KeyInfo, Principal

KEY = re.compile(r"^eco2_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")


def secret_hash(secret: str) -> str:
    # The secret is 256 random bits: a plain SHA-256 is enough (GitHub does the same for
    # tokens); a slow password hash would only slow every request down.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(principal: str) -> IssuedKey:
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    info = KeyInfo(
        key_id=key_id,
        principal=principal,
        secret_hash=secret_hash(secret),
        created_at=datetime.now(UTC),
    )
    return IssuedKey(key=f"eco2_{key_id}_{secret}", info=info)


def parse(presented: str) -> tuple[str, str] | None:
    """(key id, secret), or None for anything that is not one of our keys."""
    found = KEY.match(presented.strip())
    return (found.group(1), found.group(2)) if found else None


def principal_for(info: KeyInfo | None, secret: str) -> Principal | None:
    if info is None or not info.active:
        return None
    if not hmac.compare_digest(info.secret_hash, secret_hash(secret)):
        return None
    return Principal(id=info.principal)
