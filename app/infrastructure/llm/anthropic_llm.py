"""Anthropic Messages API behind the LLM port (optional extra: `pip install .[anthropic]`)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anthropic
from anthropic import AsyncAnthropic
from anthropic.lib._parse._transform import transform_schema
from pydantic import BaseModel

from app.application.ports.llm import MalformedResponse, ToolChoice
from app.domain.errors import DomainError
from app.domain.llm import (
    ChatMessage,
    ContextBlock,
    Role,
    TokenUsage,
    ToolCall,
    ToolReply,
    ToolSpec,
)
from app.infrastructure.llm.base import LLMAdapter
from app.infrastructure.llm.errors import from_status, from_transport


class AnthropicLLMClient(LLMAdapter):
    """Messages API; structured output through `output_config.format` (JSON schema)."""

    def __init__(self, client: AsyncAnthropic, **kwargs: Any) -> None:
        super().__init__(provider="anthropic", **kwargs)
        self._client = client
        # The SDK's overloads pin literal model names and TypedDicts; we pass plain dicts.
        self._messages: Any = client.messages

    async def _complete(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> tuple[str, TokenUsage]:
        response = await self._messages.create(**_request(self.model, messages, max_tokens))
        return _text(response), _usage(response.usage)

    async def _structured(
        self, messages: list[ChatMessage], schema: type[BaseModel], temperature: float
    ) -> tuple[str | dict[str, Any], TokenUsage]:
        # Native structured outputs: the API constrains decoding to the (transformed) schema.
        output_config = {"format": {"type": "json_schema", "schema": transform_schema(schema)}}
        response = await self._messages.create(
            **_request(self.model, messages, self._max_output_tokens),
            output_config=output_config,
        )
        text = _text(response)
        if not text:
            raise MalformedResponse("no structured answer in the response", provider=self.provider)
        return text, _usage(response.usage)

    async def _stream(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> AsyncIterator[str | TokenUsage]:
        prompt_tokens = completion_tokens = 0
        stream = await self._messages.create(
            **_request(self.model, messages, max_tokens), stream=True
        )
        async for event in stream:
            if event.type == "message_start":
                prompt_tokens = event.message.usage.input_tokens or 0
            elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                yield event.delta.text
            elif event.type == "message_delta":
                completion_tokens = event.usage.output_tokens or 0
        yield TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, calls=1)

    async def _tools(
        self, messages: list[ChatMessage], tools: list[ToolSpec], tool_choice: ToolChoice
    ) -> ToolReply:
        extra: dict[str, Any] = {}
        if tools and tool_choice != "none":
            extra["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
            extra["tool_choice"] = {"type": "any" if tool_choice == "required" else "auto"}
        response = await self._messages.create(
            **_request(self.model, messages, self._max_output_tokens), **extra
        )
        calls = tuple(
            ToolCall(id=block.id, name=block.name, arguments=dict(block.input))
            for block in response.content
            if block.type == "tool_use"
        )
        return ToolReply(text=_text(response), tool_calls=calls, usage=_usage(response.usage))

    def _translate(self, exc: Exception) -> DomainError:
        if isinstance(exc, anthropic.APIStatusError):
            return from_status(exc.status_code, exc.message, self.provider, exc.response.headers)
        if isinstance(exc, anthropic.APITimeoutError):
            return from_transport(TimeoutError(), self.provider) or MalformedResponse(
                str(exc), provider=self.provider
            )
        if isinstance(exc, anthropic.APIConnectionError):
            return from_transport(ConnectionError(str(exc)), self.provider) or MalformedResponse(
                str(exc), provider=self.provider
            )
        return from_transport(exc, self.provider) or MalformedResponse(
            f"{type(exc).__name__}: {exc}", provider=self.provider
        )


def _request(model: str, messages: list[ChatMessage], max_tokens: int) -> dict[str, Any]:
    # anthropic 2.x's Messages API takes no sampling temperature; the setting is ignored here.
    system = "\n\n".join(m.content for m in messages if m.role is Role.SYSTEM)
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": [_message(m) for m in messages if m.role is not Role.SYSTEM],
    }
    if system:
        request["system"] = system
    return request


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role is Role.TOOL:
        return {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id,
                    "content": message.content,
                }
            ],
        }
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    if message.image_url:
        blocks.append({"type": "image", "source": _image_source(message.image_url)})
    blocks.extend(
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
        for c in message.tool_calls
    )
    role = "assistant" if message.role is Role.ASSISTANT else "user"
    return {"role": role, "content": blocks or [{"type": "text", "text": ""}]}


def _image_source(url: str) -> dict[str, Any]:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        base64.b64decode(data, validate=True)
        media = header.removeprefix("data:").split(";")[0] or "image/jpeg"
        return {"type": "base64", "media_type": media, "data": data}
    return {"type": "url", "url": url}


def _text(response: Any) -> str:
    return "".join(block.text for block in response.content if block.type == "text")


def _usage(usage: Any) -> TokenUsage:
    return TokenUsage(
        prompt_tokens=usage.input_tokens or 0, completion_tokens=usage.output_tokens or 0, calls=1
    )
