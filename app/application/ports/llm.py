"""The LLM port: five generation methods plus token usage."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel

from app.domain.llm import ContextBlock, Prompt, TokenUsage, ToolCall, ToolReply, ToolSpec

SchemaT = TypeVar("SchemaT", bound=BaseModel)
ToolChoice = Literal["auto", "required", "none"]


class LLMPort(ABC):
    """A chat model. Every method raises only `app.domain.errors` types.

    `prompt` is a bare user message or a list of `ChatMessage`; `system` is prepended.
    `context` is what lookups found for the question, as structured blocks: each provider
    presents them to its model its own way (real models read them in the system message).
    Implementations fit the prompt to the model's context window before sending it.
    """

    provider: str
    model: str

    @abstractmethod
    async def generate(
        self,
        prompt: Prompt,
        *,
        system: str | None = None,
        context: Sequence[ContextBlock] = (),
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        """The model's text answer."""

    @abstractmethod
    async def generate_structured(
        self,
        prompt: Prompt,
        schema: type[SchemaT],
        *,
        system: str | None = None,
        temperature: float | None = None,
    ) -> SchemaT:
        """An instance of `schema`, produced in the provider's native JSON-schema mode."""

    @abstractmethod
    def generate_stream(
        self,
        prompt: Prompt,
        *,
        system: str | None = None,
        context: Sequence[ContextBlock] = (),
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Text chunks as they arrive; their concatenation is the answer."""

    @abstractmethod
    async def generate_function_call(
        self,
        prompt: Prompt,
        functions: Sequence[ToolSpec],
        *,
        system: str | None = None,
        function_name: str | None = None,
    ) -> ToolCall | None:
        """One call of one of `functions` (forced to `function_name` when given), or None."""

    @abstractmethod
    async def generate_with_tools(
        self,
        prompt: Prompt,
        tools: Sequence[ToolSpec],
        *,
        system: str | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> ToolReply:
        """Text and/or tool calls; the caller runs the tools."""

    @abstractmethod
    def usage(self) -> TokenUsage:
        """Tokens consumed by this client since it was built."""
