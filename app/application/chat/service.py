"""Run one chat turn through the graph: input state, thread key, terminal events, result."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from app.application.chat.progress import StageReporter
from app.application.chat.state import ChatState, LookupStatus, new_turn
from app.application.errors import public_error
from app.application.ports.chat_graph import ChatGraphPort
from app.application.ports.progress import ProgressNotifierPort
from app.application.usage import metered
from app.domain.chat import ChatRequest, ChatResult, Source
from app.domain.errors import DomainError
from app.domain.llm import TokenUsage

log = structlog.get_logger(__name__)


class ChatService:
    """Every run ends with exactly one terminal event: `done` with the result, or `error`."""

    def __init__(self, graph: ChatGraphPort, notifier: ProgressNotifierPort | None = None) -> None:
        self._graph = graph
        self._reporter = StageReporter(notifier)

    async def run(self, request: ChatRequest, job_id: str | None = None) -> ChatResult:
        """One turn. Run it inside `metered(limits)` to give it a budget."""
        job_id = job_id or uuid.uuid4().hex
        config = {"configurable": {"thread_id": request.thread_id}}
        with metered() as usage:
            try:
                # A turn is all or nothing: one checkpoint when it ends, none in between (a
                # re-run after a crash starts the turn over from the previous one).
                state = await self._graph.ainvoke(
                    dict(new_turn(job_id, request)), config, durability="exit"
                )
            except Exception as exc:
                await self._failed(job_id, request, exc, usage.total)
                raise
        result = to_result(request, state, usage.total)
        await self._reporter.emit(
            job_id, "answer", data={"text": result.answer, "sources": _dump(result.sources)}
        )
        await self._reporter.emit(
            job_id,
            "done",
            data={"failed_stages": result.failed_stages, "usage": result.usage.model_dump()},
        )
        return result

    async def _failed(
        self, job_id: str, request: ChatRequest, exc: Exception, usage: TokenUsage
    ) -> None:
        if isinstance(exc, DomainError):  # expected kinds of failure: one line, no traceback
            log.warning("chat.failed", job_id=job_id, thread_id=request.thread_id, error=str(exc))
        else:
            log.exception("chat.failed", job_id=job_id, thread_id=request.thread_id)
        data = {**public_error(exc), "usage": usage.model_dump()}
        await self._reporter.emit(job_id, "error", data=data)


def to_result(request: ChatRequest, state: ChatState, usage: TokenUsage) -> ChatResult:
    contexts = state.get("contexts", {})
    sources: dict[tuple[str, str], Source] = {}
    for result in contexts.values():
        if result.status is LookupStatus.OK:
            for source in result.sources:
                sources.setdefault((source.kind, source.title), source)
    intents = [score.intent for score in state["classification"].intents]
    failed = [slot for slot, result in contexts.items() if result.failed]
    return ChatResult(
        thread_id=request.thread_id,
        answer=state["answer"],
        intents=list(dict.fromkeys(intents)),
        sources=list(sources.values()),
        failed_stages=failed,
        usage=usage,
    )


def _dump(sources: list[Source]) -> list[dict[str, Any]]:
    return [s.model_dump(exclude_none=True) for s in sources]
