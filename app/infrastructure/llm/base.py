"""What every LLM adapter shares: prompt normalisation, the context guard, usage, errors."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError

from app.application.context_window import ContextBudget
from app.application.model_choice import answered_by
from app.application.ports.llm import LLMPort, MalformedResponse, SchemaT, ToolChoice
from app.application.usage import UsageMeter
from app.domain.errors import DomainError
from app.domain.llm import (
    ChatMessage,
    ContextBlock,
    ModelPrice,
    Prompt,
    Role,
    TokenUsage,
    ToolCall,
    ToolReply,
    ToolSpec,
    as_messages,
)
from app.infrastructure.observability.llm_calls import LLMCall, LLMCalls

log = structlog.get_logger(__name__)


class LLMAdapter(LLMPort):
    """Template for adapters: subclasses implement the four `_` hooks and `_translate`.

    Public methods put the context blocks in the prompt, fit it to the context window, call
    the hook, record usage and turn any vendor exception into our own error (`raise ... from e`).
    """

    # A LangChain chat model leaves its own LangSmith `llm` run; the others need ours.
    records_langsmith_runs = False

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        budget: ContextBudget,
        temperature: float = 0.2,
        max_output_tokens: int = 1024,
        price: ModelPrice | None = None,
        calls: LLMCalls | None = None,
    ) -> None:
        self.provider = provider
        self._calls = calls
        self.model = model
        self._budget = budget
        self._temperature = temperature
        self._max_output_tokens = max_output_tokens
        self._price = price or ModelPrice()
        self._meter = UsageMeter()

    # --- the port ---------------------------------------------------------------------

    async def generate(
        self,
        prompt: Prompt,
        *,
        system: str | None = None,
        context: Sequence[ContextBlock] = (),
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        messages = self._prepare(prompt, system, context)
        with self._observed("generate", messages) as call:
            try:
                text, usage = await self._complete(
                    messages,
                    self._temp(temperature),
                    max_tokens or self._max_output_tokens,
                    context,
                )
            except DomainError:
                raise
            except Exception as exc:
                raise self._translate(exc) from exc
            self._record(usage, call, text)
        return text

    async def generate_structured(
        self,
        prompt: Prompt,
        schema: type[SchemaT],
        *,
        system: str | None = None,
        temperature: float | None = None,
    ) -> SchemaT:
        messages = self._prepare(prompt, system)
        with self._observed("generate_structured", messages) as call:
            try:
                raw, usage = await self._structured(messages, schema, self._temp(temperature))
            except DomainError:
                raise
            except Exception as exc:
                raise self._translate(exc) from exc
            self._record(usage, call, raw)
        try:
            return (
                schema.model_validate_json(raw)
                if isinstance(raw, str)
                else (schema.model_validate(raw))
            )
        except ValidationError as exc:
            raise MalformedResponse(
                f"answer does not match {schema.__name__}: {exc.errors()[0]['msg']}",
                provider=self.provider,
            ) from exc

    async def generate_stream(
        self,
        prompt: Prompt,
        *,
        system: str | None = None,
        context: Sequence[ContextBlock] = (),
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        messages = self._prepare(prompt, system, context)
        usage = TokenUsage()
        text: list[str] = []
        with self._observed("generate_stream", messages, current=False) as call:
            try:
                async for chunk in self._stream(
                    messages,
                    self._temp(temperature),
                    max_tokens or self._max_output_tokens,
                    context,
                ):
                    if isinstance(chunk, TokenUsage):
                        usage = chunk
                    elif chunk:
                        text.append(chunk)
                        yield chunk
            except DomainError:
                raise
            except Exception as exc:
                raise self._translate(exc) from exc
            self._record(usage, call, "".join(text))

    async def generate_function_call(
        self,
        prompt: Prompt,
        functions: Sequence[ToolSpec],
        *,
        system: str | None = None,
        function_name: str | None = None,
    ) -> ToolCall | None:
        tools = [f for f in functions if function_name in (None, f.name)]
        if function_name is not None and not tools:
            raise ValueError(f"function_name {function_name!r} is not among the functions")
        reply = await self.generate_with_tools(
            prompt, tools, system=system, tool_choice="required" if function_name else "auto"
        )
        return reply.tool_calls[0] if reply.tool_calls else None

    async def generate_with_tools(
        self,
        prompt: Prompt,
        tools: Sequence[ToolSpec],
        *,
        system: str | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> ToolReply:
        messages = self._prepare(prompt, system)
        with self._observed("generate_with_tools", messages) as call:
            try:
                reply = await self._tools(messages, list(tools), tool_choice)
            except DomainError:
                raise
            except Exception as exc:
                raise self._translate(exc) from exc
            self._record(reply.usage, call, reply)
        return reply

    def usage(self) -> TokenUsage:
        return self._meter.total

    # --- hooks ------------------------------------------------------------------------

    # `context` reaches the text hooks already rendered into `messages` by `_with_context`;
    # an adapter that reads the blocks themselves (offline) overrides `_with_context`.

    @abstractmethod
    async def _complete(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> tuple[str, TokenUsage]: ...

    @abstractmethod
    async def _structured(
        self, messages: list[ChatMessage], schema: type[BaseModel], temperature: float
    ) -> tuple[str | dict[str, Any], TokenUsage]: ...

    @abstractmethod
    def _stream(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> AsyncIterator[str | TokenUsage]:
        """Yields text chunks, and at most one TokenUsage (the call's total) when known."""

    @abstractmethod
    async def _tools(
        self, messages: list[ChatMessage], tools: list[ToolSpec], tool_choice: ToolChoice
    ) -> ToolReply: ...

    @abstractmethod
    def _translate(self, exc: Exception) -> DomainError:
        """Map a vendor exception to one of `app.domain.errors`."""

    # --- shared -----------------------------------------------------------------------

    def _prepare(
        self, prompt: Prompt, system: str | None, context: Sequence[ContextBlock] = ()
    ) -> list[ChatMessage]:
        self._meter.before_call()  # a chat over its budget starts no more calls
        messages = as_messages(prompt, system)
        if not messages:
            raise ValueError("prompt is empty")
        # Before fitting: the blocks count against the window like any other text.
        messages = self._with_context(messages, context)
        fitted = self._budget.fit(messages, self.provider)
        if len(fitted) < len(messages):
            log.info(
                "llm.prompt_trimmed",
                provider=self.provider,
                model=self.model,
                dropped_messages=len(messages) - len(fitted),
            )
        return fitted

    def _with_context(
        self, messages: list[ChatMessage], context: Sequence[ContextBlock]
    ) -> list[ChatMessage]:
        """Real models read the lookups as `### slot: query` sections of the system message."""
        return with_context(messages, context)

    def _observed(
        self, operation: str, messages: list[ChatMessage], *, current: bool = True
    ) -> AbstractContextManager[LLMCall]:
        if self._calls is None:
            return nullcontext(LLMCall())
        return self._calls.call(
            self.provider,
            self.model,
            operation,
            messages,
            current=current,
            langsmith=not self.records_langsmith_runs,
        )

    def _temp(self, temperature: float | None) -> float:
        return self._temperature if temperature is None else temperature

    def _record(self, usage: TokenUsage, call: LLMCall, output: Any) -> None:
        counted = usage if usage.calls else usage + TokenUsage(calls=1)
        priced = counted.model_copy(update={"cost_usd": self._price.cost(counted)})
        call.done(priced, output)  # before the meter, which raises when over the budget
        answered_by(self.provider, self.model)  # it answered, whether or not over budget
        log.debug(
            "llm.call",
            provider=self.provider,
            model=self.model,
            tokens=priced.total_tokens,
            cost_usd=priced.cost_usd,
        )
        self._meter.record(priced)


def with_context(messages: list[ChatMessage], context: Sequence[ContextBlock]) -> list[ChatMessage]:
    """The messages with the blocks appended to the leading system message (or one made)."""
    sections = [render_block(block) for block in context if block.text_lines()]
    if not sections:
        return messages
    if messages[0].role is Role.SYSTEM:
        head, rest = messages[0].content, messages[1:]
    else:
        head, rest = "", messages
    content = "\n\n".join([head, *sections] if head else sections)
    return [ChatMessage.system(content), *rest]


def render_block(block: ContextBlock) -> str:
    return f"### {block.slot}: {block.query}\n" + "\n".join(block.text_lines())
