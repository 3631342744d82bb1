"""The Gemini adapter against a loopback server that speaks the generateContent wire format."""

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
from app.domain.llm import ToolSpec
from app.settings import Settings, load_settings
from tests.conftest import fast_http
from tests.support.gemini_wire import gemini_error

SEARCH = ToolSpec(
    name="search_places",
    description="Find places on the map",
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
    },
)


class Item(BaseModel):
    name: str
    category: str


def gemini_settings(url: str, **llm: Any) -> Settings:
    return load_settings(
        llm={
            "provider": "gemini",
            "max_retries": 0,
            "gemini": {"api_key": "AIza-test-0123456789", "base_url": url},
            **llm,
        },
        http=fast_http(),
    )


@pytest.fixture
async def llm(gemini_server: Any) -> Any:
    server, _ = gemini_server
    async with running(CliContainer(settings=gemini_settings(server.url))) as container:
        yield await resolve(container.chat.llm)


async def test_generate_content(llm: LLMPort, gemini_server: Any) -> None:
    _, script = gemini_server
    assert await llm.generate("건전지 버리는 곳", system="짧게") == "echo: 건전지 버리는 곳"
    sent = script.requests[-1]
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent["headers"]["x-goog-api-key"] == "AIza-test-0123456789"
    assert sent["json"]["systemInstruction"]["parts"][0]["text"] == "짧게"
    assert llm.usage().calls == 1 and llm.usage().prompt_tokens > 0


async def test_stream_generate_content(llm: LLMPort, gemini_server: Any) -> None:
    _, script = gemini_server
    chunks = [c async for c in llm.generate_stream("where do batteries go?")]
    assert len(chunks) > 2 and "".join(chunks) == "echo: where do batteries go?"
    assert script.requests[-1]["path"].endswith(":streamGenerateContent")
    assert "alt=sse" in script.requests[-1]["query"]
    assert llm.usage().completion_tokens > 0


async def test_structured_uses_response_json_schema(llm: LLMPort, gemini_server: Any) -> None:
    _, script = gemini_server
    item = await llm.generate_structured("can", Item)
    assert item == Item(name="can", category="can")
    config = script.requests[-1]["json"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["name"]["type"] == "string"


async def test_function_calling(llm: LLMPort, gemini_server: Any) -> None:
    _, script = gemini_server
    call = await llm.generate_function_call("battery bin near Hongdae", [SEARCH])
    assert call is not None and call.name == "search_places"
    assert call.arguments == {"query": "battery bin near Hongdae"}
    sent = script.requests[-1]["json"]
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "search_places"
    assert sent["toolConfig"]["functionCallingConfig"]["mode"] == "AUTO"


async def test_rate_limited(llm: LLMPort, gemini_server: Any) -> None:
    _, script = gemini_server
    script.fail(429, gemini_error(429, "RESOURCE_EXHAUSTED", "quota"), headers={"retry-after": "3"})
    with pytest.raises(RateLimited) as caught:
        await llm.generate("hi")
    assert caught.value.retry_after == 3.0


async def test_server_error_then_success_is_retried(gemini_server: Any) -> None:
    server, script = gemini_server
    script.fail(503, gemini_error(503, "UNAVAILABLE", "overloaded"))
    async with running(
        CliContainer(settings=gemini_settings(server.url, max_retries=2))
    ) as container:
        llm = await resolve(container.chat.llm)
        assert await llm.generate("hi") == "echo: hi"
    assert len(script.requests) == 2


async def test_server_error_is_unavailable(llm: LLMPort, gemini_server: Any) -> None:
    _, script = gemini_server
    script.fail(500, gemini_error(500, "INTERNAL", "boom"))
    with pytest.raises(ProviderUnavailable):
        await llm.generate("hi")


async def test_bad_key(llm: LLMPort, gemini_server: Any) -> None:
    _, script = gemini_server
    script.fail(
        400,
        gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."),
    )
    script.fail(403, gemini_error(403, "PERMISSION_DENIED", "denied"))
    script.fail(400, gemini_error(400, "INVALID_ARGUMENT", "temperature out of range"))
    with pytest.raises(AuthenticationFailed):  # Gemini's way of saying "wrong key"
        await llm.generate("hi")
    with pytest.raises(AuthenticationFailed):
        await llm.generate("hi")
    with pytest.raises(BadRequest) as other:
        await llm.generate("hi")
    assert not isinstance(other.value, AuthenticationFailed)


async def test_too_many_tokens(llm: LLMPort, gemini_server: Any) -> None:
    _, script = gemini_server
    message = "The input token count (2000000) exceeds the maximum number of tokens allowed"
    script.fail(400, gemini_error(400, "INVALID_ARGUMENT", message))
    with pytest.raises(ContextTooLong):
        await llm.generate("hi")


async def test_malformed_body(llm: LLMPort, gemini_server: Any) -> None:
    _, script = gemini_server
    script.malformed()
    with pytest.raises(MalformedResponse):
        await llm.generate("hi")


async def test_timeout(gemini_server: Any) -> None:
    server, script = gemini_server
    script.hang()
    settings = load_settings(
        llm={
            "provider": "gemini",
            "max_retries": 0,
            "request_timeout": 0.5,  # google-genai sends its own per-request timeout
            "gemini": {"api_key": "k" * 12, "base_url": server.url},
        },
        http=fast_http(),
    )
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        with pytest.raises(ProviderTimeout):
            await llm.generate("hi")


async def test_native_web_search_is_offered_when_selected(gemini_server: Any) -> None:
    server, script = gemini_server
    settings = load_settings(
        llm={
            "provider": "gemini",
            "max_retries": 0,
            "gemini": {
                "api_key": "AIza-test-0123456789",
                "base_url": server.url,
                "web_search": True,
            },
        },
        http=fast_http(),
    )
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        await llm.generate_with_tools("latest recycling rules", [SEARCH])
    tools = script.requests[-1]["json"]["tools"]
    assert any("googleSearch" in tool or "google_search" in tool for tool in tools)
