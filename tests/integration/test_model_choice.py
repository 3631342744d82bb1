"""A message's `model` through the real container and compiled graph, against loopback servers
speaking the OpenAI and Gemini wire formats: the provider configured with that model answers,
an unknown model gets the default, a failing preferred provider falls back, and the result
names the model that wrote the answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.application.chat.service import ChatService
from app.domain.chat import ChatDraft, ChatResult
from tests.conftest import fast_http
from tests.support.gemini_wire import gemini_error
from tests.support.graph_kit import chat_kit
from tests.support.wire_script import Script

OPENAI_MODEL = "gpt-5.2"
GEMINI_MODEL = "gemini-3-flash-preview"
FEES = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "FIXTURE_bulky_waste_fees.csv"


@pytest.fixture
async def service(openai_server: Any, gemini_server: Any) -> AsyncIterator[ChatService]:
    (openai, _), (gemini, _) = openai_server, gemini_server
    llm = {
        "provider": "openai",
        "model": OPENAI_MODEL,
        "fallbacks": ["gemini"],
        "max_retries": 0,
        "openai": {"api_key": "sk-test-0123456789", "base_url": f"{openai.url}/v1"},
        "gemini": {
            "api_key": "AIza-test-0123456789",
            "base_url": gemini.url,
            "default_model": GEMINI_MODEL,
        },
    }
    async with chat_kit(settings={"llm": llm, "http": fast_http()}) as (chats, _, _):
        yield chats


async def ask(chats: ChatService, model: str | None) -> ChatResult:
    draft = ChatDraft(message="페트병은 어떻게 버려요?", model=model)
    return await chats.run(draft.for_thread(uuid.uuid4().hex))


def streamed(script: Script) -> list[str]:
    """The paths of the streamed calls (the answer node's) the server was sent."""
    return [
        r["path"]
        for r in script.requests
        if r["path"].endswith(":streamGenerateContent") or (r.get("json") or {}).get("stream")
    ]


async def test_the_named_model_answers(
    service: ChatService, openai_server: Any, gemini_server: Any
) -> None:
    (_, openai), (_, gemini) = openai_server, gemini_server
    result = await ask(service, GEMINI_MODEL)
    assert result.model == GEMINI_MODEL
    assert result.answer.startswith("echo:")
    assert streamed(gemini) == [f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent"]
    assert openai.requests == []  # every call of the turn went to the model it asked for


async def test_a_model_this_deployment_cannot_serve_gets_the_default(
    service: ChatService, openai_server: Any, gemini_server: Any
) -> None:
    (_, openai), (_, gemini) = openai_server, gemini_server
    for model in ("unknown-x", None):
        result = await ask(service, model)
        assert result.model == OPENAI_MODEL and result.answer.startswith("echo:")
    assert gemini.requests == []
    assert [r["json"]["model"] for r in openai.requests if r["json"].get("stream")] == [
        OPENAI_MODEL,
        OPENAI_MODEL,
    ]


async def test_a_failing_preferred_provider_falls_back_and_says_who_answered(
    service: ChatService, openai_server: Any, gemini_server: Any
) -> None:
    (_, openai), (_, gemini) = openai_server, gemini_server
    gemini.fail(503, gemini_error(503, "UNAVAILABLE", "overloaded"), times=10)
    result = await ask(service, GEMINI_MODEL)
    assert result.model == OPENAI_MODEL and result.answer.startswith("echo:")
    assert len(streamed(openai)) == 1
    assert gemini.requests  # it was asked first


async def test_offline_names_the_offline_model() -> None:
    async with chat_kit() as (chats, _, _):
        result = await ask(chats, GEMINI_MODEL)
    assert result.model == "offline-extractive"
    assert result.answer


async def test_a_paused_turn_names_no_model_and_the_resumed_one_does() -> None:
    services = {"weather": {"enabled": False}, "bulk_waste": {"enabled": True, "path": str(FEES)}}
    async with chat_kit(services=services) as (chats, _, _):
        thread = uuid.uuid4().hex
        asked = await chats.run(ChatDraft(message="소파 버리는 비용 얼마야?").for_thread(thread))
        answered = await chats.run(ChatDraft(message="마포구", model="x").for_thread(thread))
    assert asked.needs_input is not None and asked.model is None  # no answer was written
    assert answered.needs_input is None and answered.model == "offline-extractive"
