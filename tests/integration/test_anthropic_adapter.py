"""The Anthropic adapter against a loopback server that speaks the Messages API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from app.application.ports.llm import AuthenticationFailed, ProviderUnavailable, RateLimited
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.llm import ToolSpec
from app.settings import load_settings
from tests.support.anthropic_wire import AnthropicWire
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.wire_script import Script


class Fee(BaseModel):
    item: str
    won: int


@pytest.fixture
def anthropic_server() -> Iterator[tuple[RunningServer, Script]]:
    script = Script()
    with serve_in_thread(AnthropicWire(script)) as server:
        yield server, script


@pytest.fixture
async def llm(anthropic_server: Any) -> Any:
    server, _ = anthropic_server
    settings = load_settings(
        llm={
            "provider": "anthropic",
            "max_retries": 0,
            "anthropic": {"api_key": "sk-ant-test-0123456789", "base_url": server.url},
        }
    )
    async with running(CliContainer(settings=settings)) as container:
        yield await resolve(container.chat.llm)
        assert container.clients.anthropic_client.initialized
    assert not container.clients.anthropic_client.initialized


async def test_messages_round_trip(llm: Any, anthropic_server: Any) -> None:
    _, script = anthropic_server
    assert await llm.generate("스티로폼", system="짧게") == "echo: 스티로폼"
    sent = script.requests[-1]
    assert sent["path"] == "/v1/messages" and sent["json"]["system"] == "짧게"
    assert sent["headers"]["authorization"] == "Bearer sk-ant-test-0123456789"
    chunks = [c async for c in llm.generate_stream("glass")]
    assert "".join(chunks) == "echo: glass" and llm.usage().calls == 2


async def test_structured_output_uses_output_config(llm: Any, anthropic_server: Any) -> None:
    _, script = anthropic_server
    assert await llm.generate_structured("sofa", Fee) == Fee(item="sofa", won=1)
    output_format = script.requests[-1]["json"]["output_config"]["format"]
    assert output_format["type"] == "json_schema"
    assert output_format["schema"]["additionalProperties"] is False


async def test_tools(llm: Any) -> None:
    spec = ToolSpec(
        name="find_bins", parameters={"type": "object", "properties": {"area": {"type": "string"}}}
    )
    reply = await llm.generate_with_tools("Mapo-gu", [spec], tool_choice="required")
    assert reply.tool_calls[0].arguments == {"area": "Mapo-gu"}


@pytest.mark.parametrize(
    ("status", "kind", "error"),
    [
        (429, "rate_limit_error", RateLimited),
        (529, "overloaded_error", ProviderUnavailable),
        (401, "authentication_error", AuthenticationFailed),
    ],
)
async def test_errors(llm: Any, anthropic_server: Any, status: int, kind: str, error: type) -> None:
    _, script = anthropic_server
    script.fail(status, {"type": "error", "error": {"type": kind, "message": "no"}})
    with pytest.raises(error):
        await llm.generate("hi")
