"""A chain of LLM providers, each behind a circuit breaker: when one is rate limited, down or
slow, the next one answers; one that keeps failing is skipped until it recovers. A chat that
names a model the chain serves has that provider tried first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog

from app.application.model_choice import preferred_model
from app.application.ports.llm import (
    CircuitOpen,
    ExternalServiceError,
    LLMPort,
    SchemaT,
    ToolChoice,
)
from app.application.ports.telemetry import MetricsPort
from app.domain.llm import Prompt, TokenUsage, ToolCall, ToolReply, ToolSpec
from app.infrastructure.llm.breaker import BreakerState, CircuitBreaker

log = structlog.get_logger(__name__)
T = TypeVar("T")


class FallbackLLM(LLMPort):
    """Tries each provider in order on retryable failures (429, 5xx, timeouts, dropped
    connections). Other errors (a bad request, a bad key) are the caller's to see at once.
    A stream falls back only before its first chunk; after that the text is already out.

    The chat's preferred model (`model_choice.preferring`) moves the provider configured with
    exactly that model to the front, the others keep their order behind it; a model no
    provider is configured with changes nothing. No other model is ever asked for."""

    def __init__(
        self,
        chain: Sequence[LLMPort],
        breakers: Sequence[CircuitBreaker] | None = None,
        metrics: MetricsPort | None = None,
    ) -> None:
        if not chain:
            raise ValueError("a fallback chain needs at least one provider")
        self._chain = list(chain)
        self._breakers = list(breakers or [CircuitBreaker(llm.provider) for llm in chain])
        self._metrics = metrics
        self.provider = self._chain[0].provider
        self.model = self._chain[0].model

    @property
    def chain(self) -> tuple[LLMPort, ...]:
        return tuple(self._chain)

    def breaker_states(self) -> dict[str, BreakerState]:
        return {b.name: b.state for b in self._breakers}

    def _report(self) -> None:
        if self._metrics is not None:
            self._metrics.breaker_states({b.name: b.state.value for b in self._breakers})

    def _fell_back(self, failed: str, error: ExternalServiceError) -> None:
        log.warning("llm.fallback", failed=failed, error=str(error))
        if self._metrics is not None:
            self._metrics.llm_fallback(failed)

    def _links(self) -> list[tuple[LLMPort, CircuitBreaker]]:
        """The providers to try in order (the preferred one first); an open breaker's provider
        is skipped."""
        links = list(zip(self._chain, self._breakers, strict=True))
        preferred = preferred_model()
        if preferred is None or preferred == self.model:
            return links
        # A stable sort: the provider serving the preferred model first, the rest as configured.
        return sorted(links, key=lambda link: link[0].model != preferred)

    async def _first(self, call: Callable[[LLMPort], Awaitable[T]]) -> T:
        links = self._links()
        for index, (llm, breaker) in enumerate(links):
            last = index == len(links) - 1
            if not breaker.allow():
                log.info("llm.breaker_skipped", provider=llm.provider)
                if last:
                    raise CircuitOpen(
                        "every provider is failing; try again shortly", provider=llm.provider
                    )
                continue
            try:
                result = await call(llm)
            except ExternalServiceError as exc:
                self._count(breaker, exc)
                if not exc.retryable or last:
                    raise
                self._fell_back(llm.provider, exc)
            else:
                breaker.succeeded()
                self._report()
                return result
        raise AssertionError("unreachable")

    def _count(self, breaker: CircuitBreaker, exc: ExternalServiceError) -> None:
        if exc.retryable:
            breaker.failed()
        else:
            breaker.succeeded()  # it answered: the provider is up, the request was wrong
        self._report()

    async def generate(self, prompt: Prompt, **kwargs: Any) -> str:
        return await self._first(lambda llm: llm.generate(prompt, **kwargs))

    async def generate_structured(
        self, prompt: Prompt, schema: type[SchemaT], **kwargs: Any
    ) -> SchemaT:
        return await self._first(lambda llm: llm.generate_structured(prompt, schema, **kwargs))

    async def generate_stream(self, prompt: Prompt, **kwargs: Any) -> AsyncIterator[str]:
        links = self._links()
        for index, (llm, breaker) in enumerate(links):
            last = index == len(links) - 1
            if not breaker.allow():
                log.info("llm.breaker_skipped", provider=llm.provider)
                if last:
                    raise CircuitOpen(
                        "every provider is failing; try again shortly", provider=llm.provider
                    )
                continue
            started = False
            try:
                async for chunk in llm.generate_stream(prompt, **kwargs):
                    started = True
                    yield chunk
            except ExternalServiceError as exc:
                self._count(breaker, exc)
                if started or not exc.retryable or last:
                    raise
                self._fell_back(llm.provider, exc)
            else:
                breaker.succeeded()
                self._report()
                return

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
