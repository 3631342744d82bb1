"""The fallback chain: next provider on retryable failures only, never mid-stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.application.ports.llm import AuthenticationFailed, ProviderUnavailable, RateLimited
from app.domain.llm import ContextBlock
from app.infrastructure.llm.fallback import FallbackLLM
from tests.fakes import FakeLLM


class BrokenStream(FakeLLM):
    """Streams `before` chunks, then fails."""

    def __init__(self, before: int, error: Exception) -> None:
        super().__init__()
        self.before = before
        self.failure = error

    async def generate_stream(self, prompt: Any, **_: Any) -> AsyncIterator[str]:
        for i in range(self.before):
            yield f"part{i} "
        raise self.failure


async def test_a_rate_limited_provider_hands_over() -> None:
    primary = FakeLLM(error=RateLimited("slow down", provider="openai", retry_after=3))
    backup = FakeLLM(["from the backup"])
    chain = FallbackLLM([primary, backup])
    assert await chain.generate("hi") == "from the backup"
    assert chain.provider == "fake" and chain.usage().calls == 2


async def test_errors_that_another_provider_would_repeat_are_not_retried() -> None:
    primary = FakeLLM(error=AuthenticationFailed("bad key", provider="openai", status=401))
    backup = FakeLLM(["never"])
    with pytest.raises(AuthenticationFailed):
        await FallbackLLM([primary, backup]).generate("hi")
    assert backup.prompts == []


async def test_the_last_providers_error_surfaces() -> None:
    down = ProviderUnavailable("down", provider="x", status=503)
    with pytest.raises(ProviderUnavailable):
        await FallbackLLM([FakeLLM(error=down), FakeLLM(error=down)]).generate("hi")


async def test_a_stream_falls_back_only_before_its_first_chunk() -> None:
    down = ProviderUnavailable("down", provider="x", status=503)
    early = FallbackLLM([BrokenStream(0, down), FakeLLM(["backup answer"])])
    assert "".join([c async for c in early.generate_stream("hi")]).strip() == "backup answer"
    late = FallbackLLM([BrokenStream(2, down), FakeLLM(["backup answer"])])
    with pytest.raises(ProviderUnavailable):
        _ = [c async for c in late.generate_stream("hi")]


async def test_the_context_reaches_the_provider_that_answers() -> None:
    block = ContextBlock(slot="weather", kind="weather", query="rain?")
    primary = FakeLLM(error=RateLimited("slow down", provider="openai"))
    backup = FakeLLM(["dry"])
    chain = FallbackLLM([primary, backup])
    assert "".join([c async for c in chain.generate_stream("rain?", context=[block])]).strip()
    assert await chain.generate("rain?", context=[block]) == "dry"
    assert backup.contexts == [(block,), (block,)]
