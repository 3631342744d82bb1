"""The container: only the selected provider is built, overrides work, everything is closed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from dependency_injector import providers
from redis.asyncio import Redis
from structlog.testing import capture_logs

from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.errors import ConfigurationError
from app.infrastructure.llm.offline_llm import OfflineLLMClient
from app.infrastructure.llm.openai_llm import OpenAILLMClient
from app.settings import load_settings
from tests.fakes import FakeLLM
from tests.support.gemini_wire import gemini_error
from tests.support.services import REDIS_URL


async def test_offline_default_builds_no_sdk_client_and_needs_no_key() -> None:
    async with running(CliContainer(settings=load_settings())) as container:
        llm = await resolve(container.chat.llm)
        assert isinstance(llm, OfflineLLMClient)
        assert not container.clients.gemini_client.initialized
        assert not container.clients.anthropic_client.initialized


async def test_only_the_selected_provider_is_constructed(openai_server: Any) -> None:
    server, _ = openai_server
    # No GOOGLE_API_KEY or ANTHROPIC_API_KEY: building either client would raise.
    settings = load_settings(
        llm={
            "provider": "openai",
            "openai": {"api_key": "sk-test-0123456789", "base_url": f"{server.url}/v1"},
        }
    )
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        assert isinstance(llm.chain[0], OpenAILLMClient)  # behind its circuit breaker
        assert not container.clients.gemini_client.initialized
        with pytest.raises(ConfigurationError, match=r"gemini\.api_key"):
            await resolve(container.clients.gemini_client)


async def test_llm_can_be_overridden_with_a_fake() -> None:
    container = CliContainer(settings=load_settings())
    fake = FakeLLM(["고정 답변"])
    with container.chat.llm.override(fake):
        async with running(container) as started:
            llm = await resolve(started.chat.llm)
            assert llm is fake
            assert await llm.generate("아무거나") == "고정 답변"
    assert fake.prompts[0][0].content == "아무거나"


async def test_the_same_llm_instance_is_reused() -> None:
    async with running(CliContainer(settings=load_settings())) as container:
        assert await resolve(container.chat.llm) is await resolve(container.chat.llm)


@pytest.mark.redis
async def test_every_pool_is_closed_at_shutdown(gemini_server: Any) -> None:
    server, _ = gemini_server
    name = f"eco2-test-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        llm={
            "provider": "gemini",
            "gemini": {"api_key": "AIza-test-0123456789", "base_url": server.url},
        },
        redis={"url": REDIS_URL, "client_name": name},
    )
    observer = Redis.from_url(REDIS_URL)
    try:
        async with running(CliContainer(settings=settings)) as container:
            http_client = await resolve(container.clients.http_client)
            redis = await resolve(container.core.redis)
            assert await redis.ping()
            llm = await resolve(container.chat.llm)
            assert await llm.generate("hi") == "echo: hi"
            assert name in str(await observer.client_list())
            assert container.clients.gemini_client.initialized
        assert http_client.is_closed
        assert not container.clients.gemini_client.initialized
        assert not container.core.redis.initialized
        assert name not in str(await observer.client_list())
    finally:
        await observer.aclose()


async def test_tracing_is_logged_with_project_never_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGCHAIN_TRACING_V2")
    monkeypatch.setenv("LANGCHAIN_API_KEY", "lsv2-secret-key-123")
    container = CliContainer(
        settings=load_settings(tracing={"enabled": True, "project": "eco2-ci"})
    )
    container.core.logging.override(providers.Object(None))  # keep the test's log capture
    with capture_logs() as logs:
        async with running(container):
            pass
    tracing = next(entry for entry in logs if entry["event"] == "tracing.langsmith")
    assert tracing["enabled"] is True and tracing["project"] == "eco2-ci"
    assert "lsv2-secret-key-123" not in str(logs)


async def test_fallbacks_answer_when_the_primary_is_down(openai_server: Any) -> None:
    from app.domain.llm import ContextBlock, ContextEntry
    from app.infrastructure.llm.fallback import FallbackLLM

    server, script = openai_server
    script.fail(503, {"error": {"message": "overloaded"}}, times=5)
    settings = load_settings(
        llm={
            "provider": "openai",
            "max_retries": 0,
            "fallbacks": ["offline"],
            "openai": {"api_key": "sk-test-0123456789", "base_url": f"{server.url}/v1"},
        }
    )
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        assert isinstance(llm, FallbackLLM)
        found = ContextEntry(title="페트병", steps=("라벨을 떼고 헹굽니다.",))
        block = ContextBlock(slot="waste_rag", kind="waste_rag", query="페트병", entries=(found,))
        answer = await llm.generate("페트병", context=[block])
    assert "라벨" in answer
    assert len(script.requests) == 1


def test_a_fallback_without_its_key_is_refused() -> None:
    with pytest.raises(
        ConfigurationError, match=r"llm\.fallbacks includes 'gemini' but GOOGLE_API_KEY"
    ):
        load_settings(llm={"fallbacks": ["gemini"]})


async def test_a_fallback_chain_of_any_length(openai_server: Any, gemini_server: Any) -> None:
    from app.domain.llm import ContextBlock, ContextEntry
    from app.infrastructure.llm.fallback import FallbackLLM

    (openai, openai_script), (gemini, gemini_script) = openai_server, gemini_server
    openai_script.fail(503, {"error": {"message": "overloaded"}}, times=5)
    gemini_script.fail(503, gemini_error(503, "UNAVAILABLE", "overloaded"), times=5)
    settings = load_settings(
        llm={
            "provider": "openai",
            "max_retries": 0,
            "fallbacks": ["gemini", "anthropic", "offline"],
            "openai": {"api_key": "sk-test-0123456789", "base_url": f"{openai.url}/v1"},
            "gemini": {"api_key": "AIza-test-0123456789", "base_url": gemini.url},
            "anthropic": {"api_key": "sk-ant-test-0123", "base_url": "http://127.0.0.1:9"},
        }
    )
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        assert isinstance(llm, FallbackLLM)
        assert [link.provider for link in llm.chain] == ["openai", "gemini", "anthropic", "offline"]
        found = ContextEntry(title="페트병", steps=("라벨을 떼고 헹굽니다.",))
        block = ContextBlock(slot="waste_rag", kind="waste_rag", query="페트병", entries=(found,))
        answer = await llm.generate("페트병", context=[block])
    assert answer.strip()
    assert len(openai_script.requests) == 1 and len(gemini_script.requests) == 1
