"""What a client may be told when a chat fails: a kind and a message of our own.

Upstream error text (a provider's body, a database's error) can carry credentials or
internals; it goes to the logs, never into an `error` event or a response.
"""

from __future__ import annotations

from app.application.ports.conversations import StoreUnavailable
from app.application.ports.llm import (
    AuthenticationFailed,
    BadRequest,
    ContextTooLong,
    MalformedResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from app.domain.errors import BudgetExceeded, ConfigurationError
from app.domain.events import ErrorKind

MISCONFIGURED = "the service is misconfigured; the operator is told"
PUBLIC: list[tuple[type[BaseException], ErrorKind, str]] = [
    (BudgetExceeded, ErrorKind.BUDGET_EXCEEDED, "this chat reached its budget"),
    (RateLimited, ErrorKind.PROVIDER_BUSY, "the language model is busy; try again shortly"),
    (ProviderTimeout, ErrorKind.PROVIDER_TIMEOUT, "the language model took too long; try again"),
    (
        StoreUnavailable,  # before ProviderUnavailable, which it is
        ErrorKind.STORE_UNAVAILABLE,
        "the conversation could not be saved; try again shortly",
    ),
    (
        ProviderUnavailable,
        ErrorKind.PROVIDER_UNAVAILABLE,
        "the language model is unavailable; try again",
    ),
    (AuthenticationFailed, ErrorKind.MISCONFIGURED, MISCONFIGURED),
    (
        ContextTooLong,
        ErrorKind.TOO_LONG,
        "the conversation is too long for the model; start a new one",
    ),
    (BadRequest, ErrorKind.PROVIDER_REJECTED, "the language model refused this request"),
    (
        MalformedResponse,
        ErrorKind.PROVIDER_MALFORMED,
        "the language model answered in an unusable form",
    ),
    (ConfigurationError, ErrorKind.MISCONFIGURED, MISCONFIGURED),
]


def public_error(exc: BaseException) -> dict[str, str]:
    """The `error` event data for a failure: kind and a safe message (never `str(exc)`)."""
    for error, kind, message in PUBLIC:
        if isinstance(exc, error):
            if isinstance(exc, BudgetExceeded):
                return {"kind": kind.value, "message": message, "limit": exc.limit}
            return {"kind": kind.value, "message": message}
    return {"kind": ErrorKind.INTERNAL.value, "message": "something went wrong; try again"}
