"""What each model call leaves behind: Prometheus counts, an OpenTelemetry span, and a
LangSmith `llm` run with prompt, output and token usage.

Our adapters call the SDKs directly (not LangChain chat models), so LangChain's tracer sees the
graph's nodes as `chain` runs but never a model call; this records them as children of the
node's run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from pydantic import BaseModel

from app.application.ports.telemetry import MetricsPort
from app.domain.llm import ChatMessage, TokenUsage

log = structlog.get_logger(__name__)
# A call that did not fail but was stopped: the reader left a stream, or the chat was cancelled.
ENDED_BY: dict[type[BaseException], str] = {
    GeneratorExit: "abandoned",
    asyncio.CancelledError: "cancelled",
}


class LLMCall:
    """One call in flight; `done` with what it returned, or left by an exception."""

    def __init__(self) -> None:
        self.usage = TokenUsage()
        self.output: Any = None

    def done(self, usage: TokenUsage, output: Any) -> None:
        self.usage, self.output = usage, output


class LLMCalls:
    """Built once per process by the container and handed to every adapter."""

    def __init__(self, metrics: MetricsPort, tracer: Tracer | None, langsmith: bool) -> None:
        self._metrics = metrics
        self._tracer = tracer
        self._langsmith = langsmith

    @contextmanager
    def call(
        self,
        provider: str,
        model: str,
        operation: str,
        messages: Sequence[ChatMessage],
        *,
        current: bool = True,
        langsmith: bool = True,
    ) -> Iterator[LLMCall]:
        """Observe the block as one call. `current=False` for a stream: an async generator
        may resume in another context, where a current span could not be detached.
        `langsmith=False` for a client that records its own LangSmith run."""
        call = LLMCall()
        recorded = self._langsmith and langsmith
        run = self._run(provider, model, operation, messages) if recorded else None
        span = self._span(provider, model, operation)
        started = time.perf_counter()
        outcome = "ok"
        try:
            with ExitStack() as stack:
                if current and span is not None:  # HTTP spans of the call nest under it
                    stack.enter_context(trace.use_span(span, end_on_exit=False))
                yield call
        except BaseException as exc:
            outcome = ENDED_BY.get(type(exc), type(exc).__name__)
            if span is not None:
                span.set_status(StatusCode.ERROR, outcome)
            _end_run(run, call, error=f"{outcome}: {exc}")
            raise
        else:
            _end_run(run, call)
        finally:
            self._metrics.llm_call(
                provider, model, outcome, time.perf_counter() - started, call.usage
            )
            if span is not None:
                span.set_attribute("gen_ai.usage.input_tokens", call.usage.prompt_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", call.usage.completion_tokens)
                span.end()

    def _span(self, provider: str, model: str, operation: str) -> trace.Span | None:
        if self._tracer is None:
            return None
        return self._tracer.start_span(
            f"llm {operation}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.system": provider,
                "gen_ai.request.model": model,
                "gen_ai.operation.name": operation,
            },
        )

    def _run(
        self, provider: str, model: str, operation: str, messages: Sequence[ChatMessage]
    ) -> Any:
        try:
            return _start_run(provider, model, operation, messages)
        except Exception as exc:  # tracing is best effort: the answer is what matters
            log.warning("tracing.langsmith_run_failed", error=str(exc))
            return None


def _start_run(provider: str, model: str, operation: str, messages: Sequence[ChatMessage]) -> Any:
    from langsmith.run_helpers import get_current_run_tree
    from langsmith.run_trees import RunTree

    inputs = {"messages": [_message(m) for m in messages]}
    extra = {"metadata": {"ls_provider": provider, "ls_model_name": model}}
    name = f"{provider}.{operation}"
    parent = get_current_run_tree()  # the graph node's run, set by LangChain's tracer
    run = (
        parent.create_child(name=name, run_type="llm", inputs=inputs, extra=extra)
        if parent is not None
        else RunTree(name=name, run_type="llm", inputs=inputs, extra=extra)
    )
    run.post()
    return run


def _message(message: ChatMessage) -> dict[str, Any]:
    shown: dict[str, Any] = {"role": message.role.value, "content": message.content}
    if message.image_url is not None:  # a data URL would be megabytes; its kind is enough
        shown["image_url"] = message.image_url.split(",", 1)[0][:80]
    return shown


def _end_run(run: Any, call: LLMCall, error: str | None = None) -> None:
    if run is None:
        return
    usage = {
        "input_tokens": call.usage.prompt_tokens,
        "output_tokens": call.usage.completion_tokens,
        "total_tokens": call.usage.total_tokens,
    }
    try:
        run.set(usage_metadata=usage)
        output = call.output
        if isinstance(output, BaseModel):
            output = output.model_dump(mode="json")
        run.end(outputs={"output": output, "usage_metadata": usage}, error=error)
        run.patch()
    except Exception as exc:
        log.warning("tracing.langsmith_run_failed", error=str(exc))
