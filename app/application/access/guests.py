"""Guest identities for browsers: a signed guest id in an HttpOnly cookie, so a browser keeps
its conversations without an account and two browsers never see each other's.

The cookie holds nothing but the id, signed and timestamped (itsdangerous): a forged or altered
cookie is no identity at all, and one older than `max_age_seconds` is refused (the browser gets
a new guest). The same secrets as job tokens sign it, so every gateway replica accepts it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

from app.application.access.job_tokens import key_bytes
from app.domain.access import Principal

SALT = "eco2.guest"
PREFIX = "guest-"
GUEST_ID = re.compile(r"^guest-[0-9a-f]{32}$")


class GuestIdentities:
    def __init__(
        self,
        secret: SecretStr | bytes,
        *,
        previous: Sequence[SecretStr | bytes] = (),
        max_age_days: int = 365,
    ) -> None:
        keys = [key_bytes(k) for k in (*previous, secret)]
        self._serializer = URLSafeTimedSerializer(keys, salt=SALT)
        self.max_age_seconds = max_age_days * 86_400

    def issue(self) -> tuple[Principal, str]:
        """A new guest and the cookie value that names it."""
        guest = Principal(id=PREFIX + secrets.token_hex(16))
        return guest, self._serializer.dumps(guest.id)

    def read(self, cookie: str | None) -> Principal | None:
        """The guest a cookie names, or None for a missing, forged, altered or expired one."""
        if not cookie or len(cookie) > 512:
            return None
        try:
            guest_id = self._serializer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired is one
            return None
        if not isinstance(guest_id, str) or not GUEST_ID.match(guest_id):
            return None
        return Principal(id=guest_id)
