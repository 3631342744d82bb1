"""Presigned photo uploads: a signed, timestamped grant (itsdangerous) to PUT one photo of one
content type under one key for one owner, valid `ttl_seconds`. The URL is the credential (as an
S3 presigned URL is), so the PUT needs no cookie; the same secrets as job tokens sign it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

from app.application.access.job_tokens import key_bytes

SALT = "eco2.photo-upload"


@dataclass(frozen=True)
class UploadGrant:
    channel: str
    key: str  # the photo's name in the store: <32 hex>.<png|jpeg|webp>
    owner: str  # the principal the photo is kept for
    content_type: str


class UploadGrants:
    def __init__(
        self,
        secret: SecretStr | bytes,
        *,
        previous: Sequence[SecretStr | bytes] = (),
        ttl_seconds: int = 300,
    ) -> None:
        keys = [key_bytes(k) for k in (*previous, secret)]
        self._serializer = URLSafeTimedSerializer(keys, salt=SALT)
        self.ttl_seconds = ttl_seconds

    def sign(self, grant: UploadGrant) -> str:
        return self._serializer.dumps([grant.channel, grant.key, grant.owner, grant.content_type])

    def verify(self, channel: str, key: str, signature: str | None) -> UploadGrant | None:
        """The grant the signature carries, if it is ours, unexpired and for this channel and
        key (a signature is never good for another URL); else None."""
        if not signature or len(signature) > 1024:
            return None
        try:
            signed = self._serializer.loads(signature, max_age=self.ttl_seconds)
        except BadSignature:  # forged, altered, or expired (SignatureExpired is one)
            return None
        if not (isinstance(signed, list) and len(signed) == 4):
            return None
        if not all(isinstance(part, str) for part in signed):
            return None
        grant = UploadGrant(*signed)
        return grant if (grant.channel, grant.key) == (channel, key) else None
