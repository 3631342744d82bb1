"""OpenAI chat completions (and any OpenAI-compatible server) behind the LLM port."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from functools import lru_cache
from typing import Any

from openai import AsyncOpenAI
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel

from app.application.ports.llm import BadRequest, MalformedResponse, ToolChoice
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
from app.infrastructure.llm.openai_errors import translate_error

# Reasoning models take no temperature and count output as max_completion_tokens.
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


class OpenAILLMClient(LLMAdapter):
    """Chat completions over the shared `AsyncOpenAI` client (which uses the shared pool)."""

    def __init__(self, client: AsyncOpenAI, *, web_search: bool = False, **kwargs: Any) -> None:
        super().__init__(provider="openai", **kwargs)
        self._client = client
        # OpenAI's search models (gpt-4o-search-preview...) search the web themselves.
        self._web_search = web_search

    async def _complete(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> tuple[str, TokenUsage]:
        response = await self._client.chat.completions.create(
            **_prepared(self._request(messages, temperature, max_tokens))
        )
        return response.choices[0].message.content or "", _usage(response.usage)

    async def _structured(
        self, messages: list[ChatMessage], schema: type[BaseModel], temperature: float
    ) -> tuple[str | dict[str, Any], TokenUsage]:
        request = self._request(messages, temperature, self._max_output_tokens)
        request["response_format"] = response_format(schema)
        response = await self._client.chat.completions.create(**_prepared(request))
        message = response.choices[0].message
        if getattr(message, "refusal", None):
            raise BadRequest(f"model refused: {message.refusal}", provider=self.provider)
        return message.content or "", _usage(response.usage)

    async def _stream(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> AsyncIterator[str | TokenUsage]:
        request = self._request(messages, temperature, max_tokens)
        request["stream_options"] = {"include_usage": True}
        stream = await self._client.chat.completions.create(**_prepared(request), stream=True)
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    yield _usage(chunk.usage)
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    async def _tools(
        self, messages: list[ChatMessage], tools: list[ToolSpec], tool_choice: ToolChoice
    ) -> ToolReply:
        extra: dict[str, Any] = {}
        if tools:
            extra["tools"] = [_tool(spec) for spec in tools]
            extra["tool_choice"] = tool_choice
        if self._web_search:
            extra["web_search_options"] = {"search_context_size": "low"}
        response = await self._client.chat.completions.create(
            **self._request(messages, self._temperature, self._max_output_tokens), **extra
        )
        message = response.choices[0].message
        calls = tuple(
            ToolCall(id=call.id, name=call.function.name, arguments=self._arguments(call))
            for call in message.tool_calls or ()
            if call.type == "function"
        )
        return ToolReply(text=message.content or "", tool_calls=calls, usage=_usage(response.usage))

    def _translate(self, exc: Exception) -> DomainError:
        return translate_error(exc, self.provider)

    def _request(
        self, messages: list[ChatMessage], temperature: float, max_tokens: int
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": _messages(messages)}
        if self.model.startswith(REASONING_PREFIXES):
            request["max_completion_tokens"] = max_tokens
        else:
            request["temperature"] = temperature
            request["max_tokens"] = max_tokens
        return request

    def _arguments(self, call: Any) -> dict[str, Any]:
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except json.JSONDecodeError as exc:
            raise MalformedResponse(
                f"tool {call.function.name} got arguments that are not JSON", provider=self.provider
            ) from exc
        if not isinstance(arguments, dict):
            raise MalformedResponse(
                f"tool {call.function.name} got non-object arguments", provider=self.provider
            )
        return arguments


def _prepared(request: dict[str, Any]) -> dict[str, Any]:
    """A request the SDK sends as it is: built here from our own types, it goes in
    `extra_body`, which the SDK merges over the body unchecked. Passed as typed parameters, it
    would be walked against the SDK's TypedDicts on every call to change nothing: about a
    millisecond of CPU per call for a prompt with its context (measured: half the SDK's cost
    of a streamed answer), more for the intent call's JSON schema."""
    body = dict(request)
    return {"model": body.pop("model"), "messages": [], "extra_body": body}


def _messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    return [_message(m) for m in messages]


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role is Role.TOOL:
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role is Role.USER and message.image_url:
        return {
            "role": "user",
            "content": [
                {"type": "text", "text": message.content},
                {"type": "image_url", "image_url": {"url": message.image_url}},
            ],
        }
    payload: dict[str, Any] = {"role": message.role.value, "content": message.content}
    if message.tool_calls:
        payload["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    return payload


def _tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
        },
    }


@lru_cache(maxsize=64)
def response_format(schema: type[BaseModel]) -> dict[str, Any]:
    """The strict JSON-schema response format of a model, built once per schema."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": schema.__name__,
            "schema": to_strict_json_schema(schema),
            "strict": True,
        },
    }


def _usage(usage: Any) -> TokenUsage:
    if usage is None:
        return TokenUsage(calls=1)
    return TokenUsage(
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        calls=1,
    )
