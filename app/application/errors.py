"""What a client may be told when a chat fails: a kind and a message of our own.

Upstream error text (a provider's body, a database's error) can carry credentials or
internals; it goes to the logs, never into an `error` event or a response.
"""

from __future__ import annotations

from app.domain.errors import (
    AuthenticationFailed,
    BadRequest,
    BudgetExceeded,
    ConfigurationError,
    ContextTooLong,
    MalformedResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)

PUBLIC: list[tuple[type[BaseException], str, str]] = [
    (BudgetExceeded, "budget_exceeded", "this chat reached its budget"),
    (RateLimited, "provider_busy", "the language model is busy; try again shortly"),
    (ProviderTimeout, "provider_timeout", "the language model took too long; try again"),
    (ProviderUnavailable, "provider_unavailable", "the language model is unavailable; try again"),
    (AuthenticationFailed, "misconfigured", "the service is misconfigured; the operator is told"),
    (ContextTooLong, "too_long", "the conversation is too long for the model; start a new one"),
    (BadRequest, "provider_rejected", "the language model refused this request"),
    (MalformedResponse, "provider_malformed", "the language model answered in an unusable form"),
    (ConfigurationError, "misconfigured", "the service is misconfigured; the operator is told"),
]


def public_error(exc: BaseException) -> dict[str, str]:
    """The `error` event data for a failure: kind and a safe message (never `str(exc)`)."""
    for kind, name, message in PUBLIC:
        if isinstance(exc, kind):
            if isinstance(exc, BudgetExceeded):
                return {"kind": name, "message": message, "limit": exc.limit}
            return {"kind": name, "message": message}
    return {"kind": "internal", "message": "something went wrong; try again"}
