"""Builders the container calls; SDKs are imported only for the provider that is selected."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import httpx2
import structlog
from pydantic import BaseModel

from app.application.context_window import ContextBudget
from app.domain.errors import ConfigurationError
from app.infrastructure.http.libraries import SharedClient
from app.infrastructure.observability.llm_calls import LLMCalls
from app.settings import LLMSettings

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic
    from google import genai
    from openai import AsyncOpenAI

    from app.application.ports.llm import LLMPort
    from app.application.ports.telemetry import MetricsPort

log = structlog.get_logger(__name__)


def adapter_kwargs(
    settings: LLMSettings, provider: str | None = None, calls: LLMCalls | None = None
) -> dict[str, Any]:
    model = settings.model_for(provider or settings.provider)
    budget = ContextBudget(
        window=settings.context_window(model),
        reserved_output=settings.max_output_tokens,
        overflow=settings.context_overflow,
    )
    return {
        "model": model,
        "budget": budget,
        "temperature": settings.temperature,
        "max_output_tokens": settings.max_output_tokens,
        "price": settings.price(model),
        "calls": calls,
    }


def _secret(settings: LLMSettings, provider: str) -> str:
    key = getattr(settings, provider).api_key
    if key is None:
        raise ConfigurationError(f"llm.{provider}.api_key is not set")
    return str(key.get_secret_value())


def openai_client(settings: LLMSettings, http_client: SharedClient) -> AsyncOpenAI:
    """AsyncOpenAI over the shared pool. Not closed by us: closing it would close the pool."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(
        api_key=_secret(settings, "openai"),
        base_url=settings.openai.base_url,
        organization=settings.openai.organization,
        # openai 3.x is typed for httpx2 but takes a plain httpx client (see its _httpx2.py).
        http_client=cast(Any, http_client),
        max_retries=settings.max_retries,
        timeout=settings.request_timeout,
    )
    _require_shared("openai", client._client, http_client)
    return client


def _require_shared(sdk: str, used: object, shared: SharedClient) -> None:
    # An SDK that quietly wraps or replaces the client we hand it opens a second pool, which
    # neither our limits nor our GOAWAY resends cover; refuse that rather than assume.
    if used is not shared:
        raise ConfigurationError(
            f"the {sdk} SDK did not take the shared {type(shared).__module__} client; "
            "refusing a second connection pool"
        )


async def gemini_client(
    settings: LLMSettings, http_client: SharedClient
) -> AsyncIterator[genai.Client]:
    """genai.Client whose async calls go through the shared pool, checked rather than assumed."""
    from google import genai
    from google.genai import types

    options = types.HttpOptions(
        base_url=settings.gemini.base_url,
        api_version=settings.gemini.api_version,
        timeout=int(settings.request_timeout * 1000),
        httpx_async_client=http_client,
        retry_options=types.HttpRetryOptions(attempts=settings.max_retries + 1),
    )
    client = genai.Client(api_key=_secret(settings, "gemini"), http_options=options)
    # google-genai silently prefers aiohttp or its own client in some setups; refuse that.
    transport = getattr(client.aio._api_client, "_async_httpx_client", None)
    if transport is not http_client:
        client.close()
        raise ConfigurationError(
            "google-genai did not take the shared httpx client (is aiohttp forced, or "
            "GOOGLE_GENAI_HTTP_CLIENT set?); refusing a second connection pool"
        )
    try:
        yield client
    finally:
        client.close()  # its private sync client only; the shared async pool is ours
        await client.aio.aclose()


async def anthropic_client(
    settings: LLMSettings, http_client: SharedClient
) -> AsyncIterator[AsyncAnthropic]:
    """AsyncAnthropic over the shared pool when it runs on httpx2; anthropic 2.x refuses httpx
    clients, so on `http.client: httpx` it keeps a pool of its own."""
    try:
        from anthropic import AsyncAnthropic
    except ImportError as exc:
        raise ConfigurationError(
            "llm.provider is 'anthropic' but the SDK is missing: pip install '.[anthropic]'"
        ) from exc
    shared = http_client if isinstance(http_client, httpx2.AsyncClient) else None
    client = AsyncAnthropic(
        api_key=_secret(settings, "anthropic"),
        base_url=settings.anthropic.base_url,
        max_retries=settings.max_retries,
        timeout=settings.request_timeout,
        http_client=shared,
    )
    if shared is None:
        log.info("anthropic.own_pool", reason="http.client is httpx; anthropic 2.x needs httpx2")
    else:
        _require_shared("anthropic", client._client, shared)
    try:
        yield client
    finally:
        if shared is None:  # closing a client built on the shared pool would close the pool
            await client.close()


def openai_llm(
    settings: LLMSettings, client: AsyncOpenAI, calls: LLMCalls | None = None
) -> LLMPort:
    from app.infrastructure.llm.openai_llm import OpenAILLMClient

    return OpenAILLMClient(
        client, web_search=settings.openai.web_search, **adapter_kwargs(settings, "openai", calls)
    )


def gemini_llm(
    settings: LLMSettings, client: genai.Client, calls: LLMCalls | None = None
) -> LLMPort:
    from app.infrastructure.llm.gemini_llm import GeminiLLMClient

    return GeminiLLMClient(
        client, web_search=settings.gemini.web_search, **adapter_kwargs(settings, "gemini", calls)
    )


def anthropic_llm(
    settings: LLMSettings, client: AsyncAnthropic, calls: LLMCalls | None = None
) -> LLMPort:
    from app.infrastructure.llm.anthropic_llm import AnthropicLLMClient

    return AnthropicLLMClient(client, **adapter_kwargs(settings, "anthropic", calls))


def langchain_llm(
    settings: LLMSettings, http_client: SharedClient, calls: LLMCalls | None = None
) -> LLMPort:
    from app.infrastructure.llm.langchain_llm import LangChainLLMClient, load_chat_model

    class_path = settings.langchain.class_path
    if not class_path:
        raise ConfigurationError("llm.langchain.class_path is not set")
    return LangChainLLMClient(
        load_chat_model(class_path, settings.langchain.kwargs, http_client),
        **adapter_kwargs(settings, "langchain", calls),
    )


def offline_llm(settings: LLMSettings, calls: LLMCalls | None = None) -> LLMPort:
    """Offline, our own schemas get deterministic producers: the intent lexicon, and a vision
    answer that says it cannot see."""
    from app.application.chat.intents import lexicon_responder
    from app.domain.chat import IntentClassification
    from app.domain.tools import VisionResult
    from app.infrastructure.llm.offline_llm import OfflineLLMClient, StructuredResponder
    from app.infrastructure.llm.vision import offline_vision

    responders: dict[type[BaseModel], StructuredResponder] = {
        IntentClassification: lexicon_responder,
        VisionResult: offline_vision,
    }
    return OfflineLLMClient(responders=responders, **adapter_kwargs(settings, "offline", calls))


async def llm_chain(
    settings: LLMSettings, adapters: Any, metrics: MetricsPort | None = None
) -> LLMPort:
    """`llm.provider` then every provider in `llm.fallbacks`, each behind a circuit breaker.

    `adapters` is the container's aggregate of adapter providers: only the named ones are
    built, so an unnamed provider never needs its key.
    """
    from app.infrastructure.llm.breaker import CircuitBreaker
    from app.infrastructure.llm.fallback import FallbackLLM

    names = list(dict.fromkeys([settings.provider, *settings.fallbacks]))
    if names == ["offline"]:
        built = adapters("offline")  # in-process: nothing to break, nothing to fall back to
        return await built if inspect.isawaitable(built) else built  # type: ignore[no-any-return]
    chain: list[LLMPort] = []
    for name in names:
        # Not `adapters.async_(name)`: it leaves the injecting providers awaiting plain values.
        built = adapters(name)
        chain.append(await built if inspect.isawaitable(built) else built)
    breakers = [
        CircuitBreaker(
            name,
            failures=settings.breaker.failures,
            cooldown_seconds=settings.breaker.cooldown_seconds,
        )
        for name in names
    ]
    return FallbackLLM(chain, breakers, metrics)
