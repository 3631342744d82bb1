"""The OpenAI adapter against a loopback server that speaks the chat-completions wire format."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from app.application.ports.llm import (
    AuthenticationFailed,
    BadRequest,
    ContextTooLong,
    LLMPort,
    MalformedResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.llm import ChatMessage, ContextBlock, ContextEntry, ToolSpec
from app.settings import Settings, load_settings
from tests.conftest import fast_http
from tests.support.dropping_proxy import dropping_proxy
from tests.support.openai_wire import openai_error

WEATHER = ToolSpec(
    name="get_weather",
    description="Weather forecast for a place",
    parameters={
        "type": "object",
        "properties": {"place": {"type": "string"}},
        "required": ["place"],
    },
)


PET_BLOCK = ContextBlock(
    slot="waste_rag",
    kind="waste_rag",
    query="PET?",
    entries=(
        ContextEntry(title="clear PET bottle", steps=("Rinse it.",), lines=("Note: cap on.",)),
    ),
)


class Disposal(BaseModel):
    item: str
    category: str
    steps: list[str]
    recyclable: bool


def openai_settings(url: str, **llm: Any) -> Settings:
    return load_settings(
        llm={
            "provider": "openai",
            "max_retries": 0,
            "openai": {"api_key": "sk-test-0123456789", "base_url": f"{url}/v1"},
            **llm,
        },
        http=fast_http(),
    )


@pytest.fixture
async def llm(openai_server: Any) -> Any:
    server, _ = openai_server
    async with running(CliContainer(settings=openai_settings(server.url))) as container:
        yield await resolve(container.chat.llm)


async def test_generate_sends_messages_and_counts_usage(llm: LLMPort, openai_server: Any) -> None:
    _, script = openai_server
    answer = await llm.generate("페트병 어떻게 버려요?", system="be brief")
    assert answer == "echo: 페트병 어떻게 버려요?"
    sent = script.requests[-1]
    assert sent["headers"]["authorization"] == "Bearer sk-test-0123456789"
    assert [m["role"] for m in sent["json"]["messages"]] == ["system", "user"]
    assert sent["json"]["model"] == "gpt-4o-mini"
    assert llm.usage().calls == 1 and llm.usage().total_tokens > 0


async def test_stream_yields_chunks_that_concatenate_to_the_answer(llm: LLMPort) -> None:
    chunks = [chunk async for chunk in llm.generate_stream("how do I recycle cans?")]
    assert len(chunks) > 3
    assert "".join(chunks) == "echo: how do I recycle cans?"
    assert llm.usage().completion_tokens > 0


async def test_context_blocks_are_sent_in_the_system_message(
    llm: LLMPort, openai_server: Any
) -> None:
    _, script = openai_server
    _ = [c async for c in llm.generate_stream("PET?", system="rules", context=[PET_BLOCK])]
    rendered = "### waste_rag: PET?\nclear PET bottle:\n- Rinse it.\nNote: cap on."
    sent = script.requests[-1]["json"]  # sent as prepared: every parameter, as we built it
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == "gpt-4o-mini" and "max_tokens" in sent and "temperature" in sent
    assert script.requests[-1]["json"]["messages"] == [
        {"role": "system", "content": f"rules\n\n{rendered}"},
        {"role": "user", "content": "PET?"},
    ]
    await llm.generate("PET?", context=[PET_BLOCK])  # no system prompt: the blocks make one
    first = script.requests[-1]["json"]["messages"][0]
    assert first == {"role": "system", "content": rendered}


async def test_context_blocks_count_against_the_window(openai_server: Any) -> None:
    server, script = openai_server
    settings = openai_settings(
        server.url,
        context_windows={"gpt-4o-mini": 600},
        max_output_tokens=100,
        context_overflow="refuse",
    )
    long = ContextBlock(
        slot="general", kind="general", entries=(ContextEntry(lines=("x" * 2000,)),)
    )
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        with pytest.raises(ContextTooLong):
            await llm.generate("short question", context=[long])
    assert script.requests == []


async def test_structured_output_uses_strict_json_schema(llm: LLMPort, openai_server: Any) -> None:
    _, script = openai_server
    result = await llm.generate_structured("umbrella", Disposal)
    assert isinstance(result, Disposal)
    assert result.item == "umbrella" and result.recyclable is True
    fmt = script.requests[-1]["json"]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["additionalProperties"] is False


async def test_tools_return_parsed_calls(llm: LLMPort, openai_server: Any) -> None:
    _, script = openai_server
    reply = await llm.generate_with_tools("Seoul", [WEATHER])
    assert reply.tool_calls[0].name == "get_weather"
    assert reply.tool_calls[0].arguments == {"place": "Seoul"}
    assert script.requests[-1]["json"]["tool_choice"] == "auto"
    call = await llm.generate_function_call("Busan", [WEATHER], function_name="get_weather")
    assert call is not None and call.arguments == {"place": "Busan"}
    assert script.requests[-1]["json"]["tool_choice"] == "required"


async def test_tool_results_round_trip(llm: LLMPort, openai_server: Any) -> None:
    _, script = openai_server
    call = (await llm.generate_with_tools("Seoul", [WEATHER])).tool_calls[0]
    history = [
        ChatMessage.user("Seoul"),
        ChatMessage.assistant("", tool_calls=[call]),
        ChatMessage.tool_result(call, "sunny"),
        ChatMessage.user("so?"),
    ]
    await llm.generate(history)
    sent = script.requests[-1]["json"]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "sunny"}


async def test_rate_limit_carries_retry_after(llm: LLMPort, openai_server: Any) -> None:
    _, script = openai_server
    script.fail(429, openai_error("slow down", "rate_limit_exceeded"), headers={"retry-after": "7"})
    with pytest.raises(RateLimited) as caught:
        await llm.generate("hi")
    assert caught.value.retry_after == 7.0 and caught.value.status == 429
    assert caught.value.retryable


async def test_server_error_then_success_is_retried_by_the_sdk(openai_server: Any) -> None:
    server, script = openai_server
    script.fail(503, openai_error("overloaded", "server_error"), headers={"retry-after-ms": "10"})
    async with running(
        CliContainer(settings=openai_settings(server.url, max_retries=2))
    ) as container:
        llm = await resolve(container.chat.llm)
        assert await llm.generate("hi") == "echo: hi"
    assert len(script.requests) == 2


async def test_persistent_server_error_is_provider_unavailable(
    llm: LLMPort, openai_server: Any
) -> None:
    _, script = openai_server
    script.fail(500, openai_error("boom", "server_error"))
    with pytest.raises(ProviderUnavailable) as caught:
        await llm.generate("hi")
    assert caught.value.status == 500


async def test_bad_key_is_authentication_failed(llm: LLMPort, openai_server: Any) -> None:
    _, script = openai_server
    script.fail(401, openai_error("Incorrect API key provided", "invalid_api_key"))
    with pytest.raises(AuthenticationFailed):
        await llm.generate("hi")


async def test_provider_context_error_is_context_too_long(llm: LLMPort, openai_server: Any) -> None:
    _, script = openai_server
    script.fail(
        400,
        openai_error("This model's maximum context length is 8 tokens", "context_length_exceeded"),
    )
    with pytest.raises(ContextTooLong):
        await llm.generate("hi")


async def test_other_400_is_bad_request(llm: LLMPort, openai_server: Any) -> None:
    _, script = openai_server
    script.fail(400, openai_error("temperature must be <= 2", "invalid_value"))
    with pytest.raises(BadRequest) as caught:
        await llm.generate("hi")
    assert not isinstance(caught.value, ContextTooLong)


async def test_malformed_json_body_is_malformed_response(llm: LLMPort, openai_server: Any) -> None:
    _, script = openai_server
    script.malformed()
    with pytest.raises(MalformedResponse):
        await llm.generate("hi")


async def test_no_answer_in_time_is_provider_timeout(openai_server: Any) -> None:
    server, script = openai_server
    script.hang()
    settings = openai_settings(server.url, request_timeout=0.5)
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        with pytest.raises(ProviderTimeout):
            await llm.generate("hi")


async def test_unreachable_server_is_provider_unavailable(unused_tcp_port: int) -> None:
    settings = openai_settings(f"http://127.0.0.1:{unused_tcp_port}")
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        with pytest.raises(ProviderUnavailable):
            await llm.generate("hi")


async def test_prompt_over_the_window_is_refused_before_sending(openai_server: Any) -> None:
    server, script = openai_server
    settings = openai_settings(
        server.url,
        context_windows={"gpt-4o-mini": 600},
        max_output_tokens=100,
        context_overflow="refuse",
    )
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        with pytest.raises(ContextTooLong) as caught:
            await llm.generate("쓰레기 " * 400)
    assert caught.value.limit == 500
    assert script.requests == []


async def test_long_history_is_trimmed_to_fit(openai_server: Any) -> None:
    server, script = openai_server
    settings = openai_settings(
        server.url, context_windows={"gpt-4o-mini": 1200}, max_output_tokens=200
    )
    history = [ChatMessage.user(f"old question {i} " + "x" * 300) for i in range(20)]
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        await llm.generate([*history, ChatMessage.user("latest")], system="rules")
    sent = script.requests[-1]["json"]["messages"]
    assert sent[0] == {"role": "system", "content": "rules"}
    assert sent[-1]["content"] == "latest"
    assert 2 < len(sent) < 22


async def test_dropped_connections_are_resent_by_the_pool(openai_server: Any) -> None:
    server, script = openai_server
    port = int(server.url.rsplit(":", 1)[1])
    async with (
        dropping_proxy(port, drop=2) as (url, counter),
        running(CliContainer(settings=openai_settings(url))) as container,
    ):
        llm = await resolve(container.chat.llm)
        assert await llm.generate("still there?") == "echo: still there?"
    assert counter.dropped == 2 and len(script.requests) == 1


async def test_a_server_that_always_drops_is_provider_unavailable(openai_server: Any) -> None:
    server, _ = openai_server
    port = int(server.url.rsplit(":", 1)[1])
    async with (
        dropping_proxy(port, drop=100) as (url, counter),
        running(CliContainer(settings=openai_settings(url))) as container,
    ):
        llm = await resolve(container.chat.llm)
        with pytest.raises(ProviderUnavailable, match="connection failed"):
            await llm.generate("hello?")
    assert counter.dropped == 10  # http.retry_attempts, then the error surfaces


async def test_native_web_search_is_requested_when_selected(openai_server: Any) -> None:
    server, script = openai_server
    settings = load_settings(
        llm={
            "provider": "openai",
            "max_retries": 0,
            "openai": {
                "api_key": "sk-test-0123456789",
                "base_url": f"{server.url}/v1",
                "web_search": True,
            },
        },
        http=fast_http(),
    )
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        await llm.generate_with_tools("latest recycling rules", [])
    assert script.requests[-1]["json"]["web_search_options"] == {"search_context_size": "low"}
