"""Job access tokens: an HMAC of the job id, so only whoever submitted a job can read it."""

from __future__ import annotations

import hashlib
import hmac


class JobTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, job_id: str) -> str:
        return hmac.new(self._secret, job_id.encode(), hashlib.sha256).hexdigest()[:40]

    def verify(self, job_id: str, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.sign(job_id), token)
