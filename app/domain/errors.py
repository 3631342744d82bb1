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


class NotWaitingForInput(DomainError):
    """An answer for a chat that is not paused on a question (still running, or ended)."""


class InputExpired(NotWaitingForInput):
    """The chat waited for its answer longer than it may, and ended."""


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


class BudgetExceeded(DomainError):
    """The chat used up its token or cost budget (its own, or its principal's for the day)."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit  # "tokens", "cost", "daily_tokens" or "daily_cost"


class Unauthorized(DomainError):
    """No valid credentials: an unknown, revoked or missing API key."""


class ThreadNotFound(DomainError):
    """No such thread for this principal (another principal's thread is not found either)."""


class LimitExceeded(DomainError):
    """A rate limit or budget of the principal: try again after `retry_after` seconds."""

    def __init__(self, message: str, *, limit: str, retry_after: float) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after = retry_after


class QueueFull(ProviderUnavailable):
    """The queue holds as many chats as it may: nothing was queued."""


class CircuitOpen(ProviderUnavailable):
    """The provider failed repeatedly; it is skipped until its cooldown ends."""


class ServiceUnreachable(DomainError):
    """A service this process cannot start without (Redis, PostgreSQL) did not answer; the
    message says where it was looked for, why it failed and how to fix it, in one line."""

    def __init__(self, service: str, *, where: str, reason: str, fix: str) -> None:
        super().__init__(f"{service} at {where} is unreachable ({reason}) — {fix}")
        self.service = service
        self.where = where
        self.reason = reason
