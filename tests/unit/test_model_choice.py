"""A chat's preferred model: the chain tries the provider serving it first, the others stay
behind it as fallbacks; the scope around a call says which model completed it."""

from __future__ import annotations

import asyncio

import pytest

from app.application.model_choice import preferred_model, preferring, recording
from app.application.ports.llm import AuthenticationFailed, CircuitOpen, ProviderUnavailable
from app.infrastructure.llm.breaker import CircuitBreaker
from app.infrastructure.llm.fallback import FallbackLLM
from tests.fakes import FakeLLM

DOWN = ProviderUnavailable("overloaded", provider="gemini", status=503)


def provider(name: str, model: str, replies: tuple[str, ...] = (), **kwargs: object) -> FakeLLM:
    llm = FakeLLM(replies or (f"from {name}",), **kwargs)  # type: ignore[arg-type]
    llm.provider, llm.model = name, model
    return llm


def openai_then_gemini(**gemini: object) -> tuple[FallbackLLM, FakeLLM, FakeLLM]:
    openai = provider("openai", "gpt-5.2")
    google = provider("gemini", "gemini-3-flash-preview", **gemini)
    return FallbackLLM([openai, google]), openai, google


async def test_the_preferred_model_answers_first() -> None:
    chain, openai, google = openai_then_gemini()
    with preferring("gemini-3-flash-preview"), recording() as answered:
        assert await chain.generate("hi") == "from gemini"
    assert openai.prompts == [] and len(google.prompts) == 1
    assert (answered.provider, answered.model) == ("gemini", "gemini-3-flash-preview")


async def test_no_preference_or_an_unknown_model_keeps_the_configured_order() -> None:
    chain, _, google = openai_then_gemini()
    for model in (None, "unknown-x", "gemini-3-flash"):  # exact names only, no prefixes
        with preferring(model), recording() as answered:
            assert await chain.generate("hi") == "from openai"
        assert answered.model == "gpt-5.2"
    assert google.prompts == []


async def test_a_failing_preferred_provider_falls_back_to_the_others() -> None:
    chain, openai, _ = openai_then_gemini(error=DOWN)
    with preferring("gemini-3-flash-preview"), recording() as answered:
        text = "".join([chunk async for chunk in chain.generate_stream("hi")])
    assert text.strip() == "from openai" and answered.model == "gpt-5.2"
    assert len(openai.prompts) == 1


async def test_an_error_the_other_provider_would_repeat_is_not_retried() -> None:
    bad_key = AuthenticationFailed("bad key", provider="gemini", status=401)
    chain, openai, _ = openai_then_gemini(error=bad_key)
    with preferring("gemini-3-flash-preview"), pytest.raises(AuthenticationFailed):
        await chain.generate("hi")
    assert openai.prompts == []


async def test_the_preferred_providers_open_breaker_is_skipped() -> None:
    openai = provider("openai", "gpt-5.2")
    google = provider("gemini", "gemini-3-flash-preview", error=DOWN)
    breakers = [CircuitBreaker("openai"), CircuitBreaker("gemini", failures=1)]
    chain = FallbackLLM([openai, google], breakers)
    with preferring("gemini-3-flash-preview"):
        assert await chain.generate("one") == "from openai"  # gemini failed: its breaker opens
        assert await chain.generate("two") == "from openai"
    assert len(google.prompts) == 1 and len(openai.prompts) == 2


async def test_when_every_provider_is_open_the_chain_says_so() -> None:
    openai = provider("openai", "gpt-5.2", error=DOWN)
    google = provider("gemini", "gemini-3-flash-preview", error=DOWN)
    breakers = [CircuitBreaker("openai", failures=1), CircuitBreaker("gemini", failures=1)]
    chain = FallbackLLM([openai, google], breakers)
    with preferring("gemini-3-flash-preview"):
        with pytest.raises(ProviderUnavailable):
            await chain.generate("one")
        with pytest.raises(CircuitOpen):
            await chain.generate("two")


async def test_concurrent_chats_keep_their_own_preference() -> None:
    chain, _, _ = openai_then_gemini()
    both_inside = asyncio.Barrier(2)

    async def chat(model: str | None) -> str | None:
        with preferring(model), recording() as answered:
            await both_inside.wait()  # the two preferences are set at the same time
            await chain.generate("hi")
        return answered.model

    got = await asyncio.gather(chat("gemini-3-flash-preview"), chat(None))
    assert got == ["gemini-3-flash-preview", "gpt-5.2"]
    assert preferred_model() is None


async def test_a_recording_scope_sees_its_own_calls_only() -> None:
    chain, _, _ = openai_then_gemini()
    grader = provider("offline", "offline-extractive")
    other_done = asyncio.Event()

    async def answer_node() -> str | None:
        with recording() as answer:
            await chain.generate("the answer")
            await other_done.wait()  # a sibling's call completes while this scope is open
        return answer.model

    async def sibling_node() -> None:
        await grader.generate("a call beside the answer")
        other_done.set()

    with preferring("gemini-3-flash-preview") as turn:
        answered, _ = await asyncio.gather(answer_node(), sibling_node())
    assert answered == "gemini-3-flash-preview"
    assert turn.model == "offline-extractive"  # the sibling's call landed in the run's scope
