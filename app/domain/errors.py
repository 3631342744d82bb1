"""Errors named after the condition; external-service errors carry provider and status."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error this application raises on purpose."""


class ConfigurationError(DomainError):
    """Settings are invalid or incomplete; the message names the key and the fix."""


class NotWaitingForInput(DomainError):
    """An answer for a chat that is not paused on a question (still running, or ended)."""


class InputExpired(NotWaitingForInput):
    """The chat waited for its answer longer than it may, and ended."""


class ThreadBusy(DomainError):
    """The thread has an unfinished turn and the new one asked to be refused, not queued."""

    def __init__(self, message: str, *, running: str) -> None:
        super().__init__(message)
        self.running = running


class BudgetExceeded(DomainError):
    """The chat used up its token or cost budget (its own, or its principal's for the day)."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit  # "tokens", "cost", "daily_tokens" or "daily_cost"


class UnknownEventId(DomainError):
    """A resume point (`Last-Event-ID`) that is not an id of the job's stream: malformed, out
    of range, or past its last event while the job still runs."""


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


class ServiceUnreachable(DomainError):
    """A service this process cannot start without (Redis, PostgreSQL) did not answer; the
    message says where it was looked for, why it failed and how to fix it, in one line."""

    def __init__(self, service: str, *, where: str, reason: str, fix: str) -> None:
        super().__init__(f"{service} at {where} is unreachable ({reason}) — {fix}")
        self.service = service
        self.where = where
        self.reason = reason
