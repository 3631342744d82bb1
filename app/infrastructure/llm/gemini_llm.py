"""Google Gemini (google-genai) behind the LLM port."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel

from app.application.ports.llm import AuthenticationFailed, MalformedResponse, ToolChoice
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

MODES: dict[ToolChoice, types.FunctionCallingConfigMode] = {
    "auto": types.FunctionCallingConfigMode.AUTO,
    "required": types.FunctionCallingConfigMode.ANY,
    "none": types.FunctionCallingConfigMode.NONE,
}


class GeminiLLMClient(LLMAdapter):
    """generateContent / streamGenerateContent over the shared `genai.Client`."""

    def __init__(self, client: genai.Client, *, web_search: bool = False, **kwargs: Any) -> None:
        super().__init__(provider="gemini", **kwargs)
        self._client = client
        self._web_search = web_search  # grounding with Google Search, when selected

    async def _complete(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> tuple[str, TokenUsage]:
        system, contents = _contents(messages)
        response = await self._client.aio.models.generate_content(
            model=self.model,
            contents=contents,
            config=self._config(system, temperature, max_tokens),
        )
        return response.text or "", _usage(response.usage_metadata)

    async def _structured(
        self, messages: list[ChatMessage], schema: type[BaseModel], temperature: float
    ) -> tuple[str | dict[str, Any], TokenUsage]:
        system, contents = _contents(messages)
        config = self._config(system, temperature, self._max_output_tokens)
        config.response_mime_type = "application/json"
        config.response_json_schema = schema.model_json_schema()
        response = await self._client.aio.models.generate_content(
            model=self.model, contents=contents, config=config
        )
        return response.text or "", _usage(response.usage_metadata)

    async def _stream(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> AsyncIterator[str | TokenUsage]:
        system, contents = _contents(messages)
        stream = await self._client.aio.models.generate_content_stream(
            model=self.model,
            contents=contents,
            config=self._config(system, temperature, max_tokens),
        )
        usage: TokenUsage | None = None
        async for chunk in stream:
            if chunk.usage_metadata is not None:
                usage = _usage(chunk.usage_metadata)  # cumulative: the last one is the total
            if chunk.text:
                yield chunk.text
        if usage is not None:
            yield usage

    async def _tools(
        self, messages: list[ChatMessage], tools: list[ToolSpec], tool_choice: ToolChoice
    ) -> ToolReply:
        system, contents = _contents(messages)
        config = self._config(system, self._temperature, self._max_output_tokens)
        if tools:
            config.tools = [
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(
                            name=spec.name,
                            description=spec.description,
                            parameters_json_schema=spec.parameters,
                        )
                        for spec in tools
                    ]
                )
            ]
            config.tool_config = types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(mode=MODES[tool_choice])
            )
        if self._web_search:
            config.tools = [*(config.tools or []), types.Tool(google_search=types.GoogleSearch())]
        response = await self._client.aio.models.generate_content(
            model=self.model, contents=contents, config=config
        )
        calls = tuple(
            ToolCall(
                id=call.id or f"call_{uuid.uuid4().hex[:12]}",
                name=call.name or "",
                arguments=dict(call.args or {}),
            )
            for call in response.function_calls or ()
        )
        text = "".join(
            part.text
            for candidate in response.candidates or ()
            for part in (candidate.content.parts if candidate.content else None) or ()
            if part.text and not part.thought
        )
        return ToolReply(text=text, tool_calls=calls, usage=_usage(response.usage_metadata))

    def _translate(self, exc: Exception) -> DomainError:
        if isinstance(exc, genai_errors.APIError):
            headers = getattr(exc.response, "headers", None)
            message = f"{exc.status or ''} {exc.message or ''}".strip()
            if exc.code == 400 and "api key not valid" in message.lower():
                # The Gemini API answers a wrong key with 400 INVALID_ARGUMENT, not 401.
                return AuthenticationFailed(message, provider=self.provider, status=400)
            return from_status(exc.code or 500, message, self.provider, headers)
        transport = from_transport(exc, self.provider)
        if transport is not None:
            return transport
        return MalformedResponse(f"{type(exc).__name__}: {exc}", provider=self.provider)

    def _config(
        self, system: str | None, temperature: float, max_tokens: int
    ) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            system_instruction=system,
            temperature=temperature,
            max_output_tokens=max_tokens,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )


def _contents(messages: list[ChatMessage]) -> tuple[str | None, list[types.Content]]:
    """Gemini takes the system prompt apart and calls the assistant 'model'."""
    system = "\n\n".join(m.content for m in messages if m.role is Role.SYSTEM) or None
    contents = [_content(m) for m in messages if m.role is not Role.SYSTEM]
    return system, contents


def _content(message: ChatMessage) -> types.Content:
    if message.role is Role.TOOL:
        part = types.Part.from_function_response(
            name=message.name or "tool", response={"result": message.content}
        )
        return types.Content(role="user", parts=[part])
    parts: list[types.Part] = []
    if message.content:
        parts.append(types.Part.from_text(text=message.content))
    if message.image_url:
        parts.append(_image_part(message.image_url))
    for call in message.tool_calls:
        parts.append(
            types.Part(
                function_call=types.FunctionCall(id=call.id, name=call.name, args=call.arguments)
            )
        )
    role = "model" if message.role is Role.ASSISTANT else "user"
    return types.Content(role=role, parts=parts or [types.Part.from_text(text="")])


def _image_part(url: str) -> types.Part:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = header.removeprefix("data:").split(";")[0] or "image/jpeg"
        return types.Part.from_bytes(data=base64.b64decode(data), mime_type=mime)
    return types.Part.from_uri(file_uri=url, mime_type="image/jpeg")


def _usage(metadata: types.GenerateContentResponseUsageMetadata | None) -> TokenUsage:
    if metadata is None:
        return TokenUsage(calls=1)
    return TokenUsage(
        prompt_tokens=metadata.prompt_token_count or 0,
        completion_tokens=(metadata.candidates_token_count or 0)
        + (metadata.thoughts_token_count or 0),
        calls=1,
    )
