"""Job access tokens: a signed, timestamped job id (itsdangerous), so only whoever submitted a
job can read it, and only for `ttl_seconds`. Older secrets still verify, for rotation."""

from __future__ import annotations

from collections.abc import Sequence

from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "eco2.job-token"


class JobTokens:
    def __init__(
        self, secret: bytes, *, previous: Sequence[bytes] = (), ttl_seconds: int = 86_400
    ) -> None:
        # itsdangerous signs with the last key and accepts any of them.
        self._serializer = URLSafeTimedSerializer([*previous, secret], salt=SALT)
        self._ttl = ttl_seconds

    def sign(self, job_id: str) -> str:
        return self._serializer.dumps(job_id)

    def verify(self, job_id: str, token: str | None) -> bool:
        if not token:
            return False
        try:
            signed = self._serializer.loads(token, max_age=self._ttl)
        except BadSignature:  # forged, altered, or expired (SignatureExpired is one)
            return False
        return bool(signed == job_id)
