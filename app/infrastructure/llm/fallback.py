"""A chain of LLM providers: when one is rate limited, down or slow, the next one answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog

from app.application.ports.llm import LLMPort, SchemaT, ToolChoice
from app.domain.errors import ExternalServiceError
from app.domain.llm import Prompt, TokenUsage, ToolCall, ToolReply, ToolSpec

log = structlog.get_logger(__name__)
T = TypeVar("T")


class FallbackLLM(LLMPort):
    """Tries each provider in order on retryable failures (429, 5xx, timeouts, dropped
    connections). Other errors (a bad request, a bad key) are the caller's to see at once.
    A stream falls back only before its first chunk; after that the text is already out."""

    def __init__(self, chain: Sequence[LLMPort]) -> None:
        if not chain:
            raise ValueError("a fallback chain needs at least one provider")
        self._chain = list(chain)
        self.provider = self._chain[0].provider
        self.model = self._chain[0].model

    @property
    def chain(self) -> tuple[LLMPort, ...]:
        return tuple(self._chain)

    async def _first(self, call: Callable[[LLMPort], Awaitable[T]]) -> T:
        for index, llm in enumerate(self._chain):
            try:
                return await call(llm)
            except ExternalServiceError as exc:
                if not exc.retryable or index == len(self._chain) - 1:
                    raise
                log.warning(
                    "llm.fallback",
                    failed=llm.provider,
                    error=str(exc),
                    next=self._chain[index + 1].provider,
                )
        raise AssertionError("unreachable")

    async def generate(self, prompt: Prompt, **kwargs: Any) -> str:
        return await self._first(lambda llm: llm.generate(prompt, **kwargs))

    async def generate_structured(
        self, prompt: Prompt, schema: type[SchemaT], **kwargs: Any
    ) -> SchemaT:
        return await self._first(lambda llm: llm.generate_structured(prompt, schema, **kwargs))

    async def generate_stream(self, prompt: Prompt, **kwargs: Any) -> AsyncIterator[str]:
        for index, llm in enumerate(self._chain):
            started = False
            try:
                async for chunk in llm.generate_stream(prompt, **kwargs):
                    started = True
                    yield chunk
                return
            except ExternalServiceError as exc:
                if started or not exc.retryable or index == len(self._chain) - 1:
                    raise
                log.warning(
                    "llm.fallback",
                    failed=llm.provider,
                    error=str(exc),
                    next=self._chain[index + 1].provider,
                )

    async def generate_function_call(
        self,
        prompt: Prompt,
        functions: Sequence[ToolSpec],
        *,
        system: str | None = None,
        function_name: str | None = None,
    ) -> ToolCall | None:
        return await self._first(
            lambda llm: llm.generate_function_call(
                prompt, functions, system=system, function_name=function_name
            )
        )

    async def generate_with_tools(
        self,
        prompt: Prompt,
        tools: Sequence[ToolSpec],
        *,
        system: str | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> ToolReply:
        return await self._first(
            lambda llm: llm.generate_with_tools(
                prompt, tools, system=system, tool_choice=tool_choice
            )
        )

    def usage(self) -> TokenUsage:
        total = TokenUsage()
        for llm in self._chain:
            total = total + llm.usage()
        return total
