"""Job access tokens: a signed, timestamped job id (itsdangerous), so only whoever submitted a
job can read it, and only for `ttl_seconds`. Older secrets still verify, for rotation."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import structlog
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

SALT = "eco2.job-token"
log = structlog.get_logger(__name__)


def process_secret(configured: SecretStr | None) -> SecretStr | bytes:
    """The secret that signs job tokens and guest cookies. Without a configured one each process
    makes its own, so replicas would refuse each other's tokens and guests: said once, at
    start-up."""
    if configured is not None:
        return configured
    log.warning(
        "gateway.random_secret",
        fix="set APP_GATEWAY__SECRET so replicas accept each other's tokens and guest cookies",
    )
    return secrets.token_bytes(32)


class JobTokens:
    def __init__(
        self,
        secret: SecretStr | bytes,
        *,
        previous: Sequence[SecretStr | bytes] = (),
        ttl_seconds: int = 86_400,
    ) -> None:
        keys = [key_bytes(k) for k in (*previous, secret)]
        # itsdangerous signs with the last key and accepts any of them.
        self._serializer = URLSafeTimedSerializer(keys, salt=SALT)
        self._ttl = ttl_seconds

    def sign(self, job_id: str) -> str:
        return self._serializer.dumps(job_id)

    def issued_at(self, job_id: str, token: str | None) -> float | None:
        """When a valid token for this job was signed (whole seconds), else None."""
        if not token:
            return None
        try:
            signed, when = self._serializer.loads(token, max_age=self._ttl, return_timestamp=True)
        except BadSignature:
            return None
        return float(when.timestamp()) if signed == job_id else None

    def verify(self, job_id: str, token: str | None) -> bool:
        if not token:
            return False
        try:
            signed = self._serializer.loads(token, max_age=self._ttl)
        except BadSignature:  # forged, altered, or expired (SignatureExpired is one)
            return False
        return bool(signed == job_id)


def key_bytes(key: SecretStr | bytes) -> bytes:
    return key.get_secret_value().encode() if isinstance(key, SecretStr) else key
