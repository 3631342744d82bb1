"""Errors named after the condition; external-service errors carry provider and status."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error this application raises on purpose."""


class ConfigurationError(DomainError):
    """Settings are invalid or incomplete; the message names the key and the fix."""


class ExternalServiceError(DomainError):
    """A provider (LLM or HTTP service) did not give a usable answer."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        status = f" {self.status}" if self.status is not None else ""
        return f"{self.provider}{status}: {self.args[0]}"


class RateLimited(ExternalServiceError):
    """The provider said 429; `retry_after` is its hint in seconds, when it gave one."""

    retryable = True


class ProviderTimeout(ExternalServiceError):
    """The provider did not answer in time."""

    retryable = True


class ProviderUnavailable(ExternalServiceError):
    """5xx, a dropped connection, or an unreachable host."""

    retryable = True


class QueueUnavailable(ProviderUnavailable):
    """The job queue (Redis) cannot be reached: nothing was queued."""


class NoWorkerAvailable(ProviderUnavailable):
    """No worker is running to take the chat: nothing was queued."""


class ThreadBusy(DomainError):
    """The thread has an unfinished turn and the new one asked to be refused, not queued."""

    def __init__(self, message: str, *, running: str) -> None:
        super().__init__(message)
        self.running = running


class AuthenticationFailed(ExternalServiceError):
    """The key was missing, wrong or lacks permission (401/403)."""


class BadRequest(ExternalServiceError):
    """The provider rejected the request itself (4xx other than auth and rate limits)."""


class ContextTooLong(BadRequest):
    """The prompt does not fit the model's context window, even after trimming."""

    def __init__(
        self, message: str, *, provider: str, tokens: int | None = None, limit: int | None = None
    ) -> None:
        super().__init__(message, provider=provider, status=None)
        self.tokens = tokens
        self.limit = limit


class MalformedResponse(ExternalServiceError):
    """The provider answered, but not in the shape we asked for (bad JSON, schema mismatch)."""
