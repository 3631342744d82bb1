"""The model (text, structured, tools, streaming, vision) and the provider errors."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel

from app.domain.errors import DomainError
from app.domain.llm import ContextBlock, Prompt, TokenUsage, ToolCall, ToolReply, ToolSpec
from app.domain.tools import VisionResult


class ExternalServiceError(DomainError):
    """A provider (LLM or HTTP service) did not give a usable answer."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        status = f" {self.status}" if self.status is not None else ""
        return f"{self.provider}{status}: {self.args[0]}"


class RateLimited(ExternalServiceError):
    """The provider said 429; `retry_after` is its hint in seconds, when it gave one."""

    retryable = True


class ProviderTimeout(ExternalServiceError):
    """The provider did not answer in time."""

    retryable = True


class ProviderUnavailable(ExternalServiceError):
    """5xx, a dropped connection, or an unreachable host."""

    retryable = True


class AuthenticationFailed(ExternalServiceError):
    """The key was missing, wrong or lacks permission (401/403)."""


class BadRequest(ExternalServiceError):
    """The provider rejected the request itself (4xx other than auth and rate limits)."""


class ContextTooLong(BadRequest):
    """The prompt does not fit the model's context window, even after trimming."""

    def __init__(
        self, message: str, *, provider: str, tokens: int | None = None, limit: int | None = None
    ) -> None:
        super().__init__(message, provider=provider, status=None)
        self.tokens = tokens
        self.limit = limit


class MalformedResponse(ExternalServiceError):
    """The provider answered, but not in the shape we asked for (bad JSON, schema mismatch)."""


class CircuitOpen(ProviderUnavailable):
    """The provider failed repeatedly; it is skipped until its cooldown ends."""


SchemaT = TypeVar("SchemaT", bound=BaseModel)
ToolChoice = Literal["auto", "required", "none"]


class LLMPort(Protocol):
    """A chat model. Every method raises only `app.domain.errors` types.

    `prompt` is a bare user message or a list of `ChatMessage`; `system` is prepended.
    `context` is what lookups found for the question, as structured blocks: each provider
    presents them to its model its own way (real models read them in the system message).
    Implementations fit the prompt to the model's context window before sending it, and
    report each call that completed with `model_choice.answered_by(provider, model)`.
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


class VisionModelPort(Protocol):
    """Says what item a photo shows, for disposal purposes."""

    @abstractmethod
    async def classify(self, image_url: str, question: str = "") -> VisionResult: ...
