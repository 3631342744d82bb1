"""Helpers shared by adapters when translating transport and status failures."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from app.application.ports.llm import (
    AuthenticationFailed,
    BadRequest,
    ContextTooLong,
    ExternalServiceError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from app.infrastructure.http.libraries import TIMEOUT_ERRORS, TRANSPORT_ERRORS

CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "input token count",
    "exceeds the maximum number of tokens",
    "prompt is too long",
    "too many tokens",
)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After as seconds, from `retry-after-ms`, delta-seconds or an HTTP date."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def from_status(
    status: int, message: str, provider: str, headers: Mapping[str, str] | None = None
) -> ExternalServiceError:
    """The domain error for an HTTP status the provider answered with."""
    if status == 429:
        return RateLimited(
            message, provider=provider, status=status, retry_after=retry_after_seconds(headers)
        )
    if status in (401, 403):
        return AuthenticationFailed(message, provider=provider, status=status)
    if status in (408, 504):
        return ProviderTimeout(message, provider=provider, status=status)
    if status >= 500:
        return ProviderUnavailable(
            message, provider=provider, status=status, retry_after=retry_after_seconds(headers)
        )
    if any(marker in message.lower() for marker in CONTEXT_MARKERS):
        return ContextTooLong(message, provider=provider)
    return BadRequest(message, provider=provider, status=status)


def from_transport(exc: Exception, provider: str) -> ExternalServiceError | None:
    """Timeouts and connection failures raised by httpx or httpx2, or None for anything else."""
    if isinstance(exc, (*TIMEOUT_ERRORS, TimeoutError)):
        return ProviderTimeout(f"no answer in time ({type(exc).__name__})", provider=provider)
    if isinstance(exc, (*TRANSPORT_ERRORS, ConnectionError)):
        return ProviderUnavailable(
            f"connection failed: {exc or type(exc).__name__}", provider=provider
        )
    return None
