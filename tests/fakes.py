"""Fakes that implement our ports (not MagicMocks): they behave, and record what they saw."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import BaseModel

from app.application.ports.llm import LLMPort, SchemaT, ToolChoice
from app.domain.llm import (
    ChatMessage,
    Prompt,
    TokenUsage,
    ToolCall,
    ToolReply,
    ToolSpec,
    as_messages,
)


class FakeLLM(LLMPort):
    """Answers from a script: `replies` in order (then the last one again), structured from
    `structured` by schema, tool calls from `tool_calls`. Records every prompt it was given."""

    provider = "fake"
    model = "fake-model"

    def __init__(
        self,
        replies: Sequence[str] = ("fake answer",),
        *,
        structured: dict[type[BaseModel], BaseModel] | None = None,
        tool_calls: Sequence[ToolCall] = (),
        error: Exception | None = None,
    ) -> None:
        self._replies = list(replies)
        self._structured = structured or {}
        self._tool_calls = tuple(tool_calls)
        self._error = error
        self.prompts: list[list[ChatMessage]] = []
        self._usage = TokenUsage()

    def _take(self, prompt: Prompt, system: str | None) -> str:
        self.prompts.append(as_messages(prompt, system))
        self._usage = self._usage + TokenUsage(prompt_tokens=1, completion_tokens=1, calls=1)
        if self._error is not None:
            raise self._error
        return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]

    async def generate(self, prompt: Prompt, *, system: str | None = None, **_: Any) -> str:
        return self._take(prompt, system)

    async def generate_structured(
        self, prompt: Prompt, schema: type[SchemaT], *, system: str | None = None, **_: Any
    ) -> SchemaT:
        self._take(prompt, system)
        return schema.model_validate(self._structured[schema].model_dump())

    async def generate_stream(
        self, prompt: Prompt, *, system: str | None = None, **_: Any
    ) -> AsyncIterator[str]:
        for word in self._take(prompt, system).split(" "):
            yield word + " "

    async def generate_function_call(
        self,
        prompt: Prompt,
        functions: Sequence[ToolSpec],
        *,
        system: str | None = None,
        function_name: str | None = None,
    ) -> ToolCall | None:
        self._take(prompt, system)
        return self._tool_calls[0] if self._tool_calls else None

    async def generate_with_tools(
        self,
        prompt: Prompt,
        tools: Sequence[ToolSpec],
        *,
        system: str | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> ToolReply:
        text = self._take(prompt, system)
        return ToolReply(text="" if self._tool_calls else text, tool_calls=self._tool_calls)

    def usage(self) -> TokenUsage:
        return self._usage
