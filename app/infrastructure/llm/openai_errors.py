"""OpenAI SDK exceptions as our errors: one translation for every adapter on that SDK (chat,
embeddings, images)."""

from __future__ import annotations

import openai

from app.application.ports.llm import MalformedResponse, ProviderTimeout, ProviderUnavailable
from app.domain.errors import DomainError
from app.infrastructure.llm.errors import from_status, from_transport


def translate_error(exc: Exception, provider: str = "openai") -> DomainError:
    """An OpenAI SDK exception as one of our errors."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        code = str(body.get("code") or "")
        return from_status(
            exc.status_code, f"{exc.message} {code}".strip(), provider, exc.response.headers
        )
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout(f"no answer in time: {exc}", provider=provider)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else None
        translated = from_transport(cause, provider) if cause else None
        return translated or ProviderUnavailable(f"connection failed: {exc}", provider=provider)
    if isinstance(exc, openai.LengthFinishReasonError):
        return MalformedResponse("answer was cut off at max tokens", provider=provider)
    transport = from_transport(exc, provider)
    if transport is not None:
        return transport
    return MalformedResponse(f"{type(exc).__name__}: {exc}", provider=provider)
