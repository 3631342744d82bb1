"""The LangChain adapter wrapping a real LangChain chat model (ChatOpenAI) on a loopback server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from app.application.ports.llm import RateLimited
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.errors import ConfigurationError
from app.domain.llm import ToolSpec
from app.infrastructure.llm.langchain_llm import LangChainLLMClient
from app.settings import Settings, load_settings
from tests.support.openai_wire import openai_error


class Bin(BaseModel):
    name: str
    distance_m: int


def langchain_settings(url: str, **kwargs: Any) -> Settings:
    return load_settings(
        llm={
            "provider": "langchain",
            "langchain": {
                "class_path": "langchain_openai:ChatOpenAI",
                "kwargs": {
                    "model": "gpt-4o-mini",
                    "api_key": "sk-test-0123456789",
                    "base_url": f"{url}/v1",
                    "max_retries": 0,
                    **kwargs,
                },
            },
        }
    )


@pytest.fixture
async def llm(openai_server: Any) -> Any:
    server, _ = openai_server
    async with running(CliContainer(settings=langchain_settings(server.url))) as container:
        yield await resolve(container.chat.llm)


async def test_generate_and_stream(llm: LangChainLLMClient) -> None:
    assert isinstance(llm.chain[0], LangChainLLMClient)  # type: ignore[attr-defined]
    assert await llm.generate("캔 버리는 법") == "echo: 캔 버리는 법"
    chunks = [c async for c in llm.generate_stream("glass bottles?")]
    assert "".join(chunks) == "echo: glass bottles?"
    assert llm.usage().calls == 2


async def test_structured_output_through_json_schema(
    llm: LangChainLLMClient, openai_server: Any
) -> None:
    _, script = openai_server
    assert await llm.generate_structured("battery bin", Bin) == Bin(
        name="battery bin", distance_m=1
    )
    assert script.requests[-1]["json"]["response_format"]["type"] == "json_schema"


async def test_tools(llm: LangChainLLMClient) -> None:
    spec = ToolSpec(
        name="lookup_fee",
        description="bulky waste fee",
        parameters={"type": "object", "properties": {"item": {"type": "string"}}},
    )
    call = await llm.generate_function_call("소파", [spec], function_name="lookup_fee")
    assert call is not None and call.name == "lookup_fee" and call.arguments == {"item": "소파"}


async def test_vendor_errors_are_translated(llm: LangChainLLMClient, openai_server: Any) -> None:
    _, script = openai_server
    script.fail(429, openai_error("slow down", "rate_limit_exceeded"), headers={"retry-after": "2"})
    with pytest.raises(RateLimited) as caught:
        await llm.generate("hi")
    assert caught.value.retry_after == 2.0


async def test_a_wrong_class_path_names_the_setting() -> None:
    settings = load_settings(
        llm={"provider": "langchain", "langchain": {"class_path": "nowhere:Model"}}
    )
    async with running(CliContainer(settings=settings)) as container:
        with pytest.raises(ConfigurationError, match=r"llm\.langchain\.class_path 'nowhere:Model'"):
            await resolve(container.chat.llm)
