"""Run one chat turn through the graph: input state, thread key, terminal events, result."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from app.application.chat.asking import accepts
from app.application.chat.progress import StageReporter
from app.application.chat.recording import TurnRecorder, persistence
from app.application.chat.state import LookupStatus, new_turn
from app.application.errors import public_error
from app.application.model_choice import preferring
from app.application.ports.conversations import StoreUnavailable
from app.application.ports.jobs import ChatGraphPort, ProgressNotifierPort, Turn
from app.application.usage import metered
from app.domain.chat import ChatRequest, ChatResult, InputRequest, Source
from app.domain.conversations import RecordedTurn
from app.domain.errors import DomainError
from app.domain.llm import TokenUsage

log = structlog.get_logger(__name__)


Settle = Callable[[TokenUsage], Awaitable[None]]


class ChatService:
    """Every run ends with exactly one terminal event: `done` with the result, or `error`;
    or it pauses with `needs_input`, and the run that takes the answer ends it."""

    def __init__(
        self,
        graph: ChatGraphPort,
        notifier: ProgressNotifierPort | None = None,
        *,
        input_wait_seconds: float = 1800.0,
        recorder: TurnRecorder | None = None,
    ) -> None:
        self._graph = graph
        self._reporter = StageReporter(notifier)
        self._input_wait = input_wait_seconds
        self._recorder = recorder

    async def run(
        self, request: ChatRequest, job_id: str | None = None, *, settle: Settle | None = None
    ) -> ChatResult:
        """One turn (or the paused one, answered). Run it inside `metered(limits)` to give it
        a budget; `settle` records what it used before its ending is published, so a client
        that sees `done` and asks again is held to the new total."""
        job_id = job_id or uuid.uuid4().hex
        with metered() as usage, preferring(request.model):
            try:
                turn = await self._turn(request, job_id)
            except BaseException as exc:  # a cancelled chat's calls are counted too
                await _settled(settle, usage.total)
                if isinstance(exc, Exception):
                    await self._failed(job_id, request, exc, usage.total)
                raise
        await _settled(settle, usage.total)
        try:
            return await self._ended(job_id, request, turn, usage.total)
        except StoreUnavailable as exc:
            await self._failed(job_id, request, exc, usage.total, record=False)
            raise

    async def _ended(
        self, job_id: str, request: ChatRequest, turn: Turn, usage: TokenUsage
    ) -> ChatResult:
        if turn.needs_input is not None:
            return await self._paused(job_id, request, turn.needs_input, usage)
        result = to_result(request, turn.state, usage)
        stored = await self._recorded(job_id, request, result)
        if stored is not None and stored.assistant_message is not None:
            # A re-run of a turn recorded before: say what history shows, not a second text.
            result = result.model_copy(update={"answer": stored.assistant_message.content})
        await self._reporter.emit(
            job_id, "answer", data={"text": result.answer, "sources": _dump(result.sources)}
        )
        done: dict[str, Any] = {
            "failed_stages": result.failed_stages,
            "usage": result.usage.model_dump(),
            "intents": [str(i) for i in result.intents],
            "model": result.model,
            "provider": result.provider,
        }
        if result.grade is not None:
            done["grade"] = result.grade.model_dump(mode="json")
        if stored is not None and request.conversation_owner is not None:
            done["persistence"] = persistence(request.conversation_owner, stored)
        await self._reporter.emit(job_id, "done", data=done)
        return result

    async def _recorded(
        self, job_id: str, request: ChatRequest, result: ChatResult
    ) -> RecordedTurn | None:
        """The turn in its conversation, before anyone is told it ended; a store that stays
        down ends the turn `error` (raised, so `run` publishes it)."""
        if self._recorder is None:
            return None
        return await self._recorder.answered(job_id, request, result)

    async def waiting_for(self, thread_id: str) -> InputRequest | None:
        return await self._graph.waiting_for(thread_id)

    async def _turn(self, request: ChatRequest, job_id: str) -> Turn:
        """A new turn, or the paused one when this message answers its question."""
        if request.new_thread:  # issued for this turn: no memory, no question to resume
            return await self._graph.run(
                dict(new_turn(request)), request.thread_id, job_id, new_thread=True
            )
        waiting = await self._graph.waiting_for(request.thread_id)
        if waiting is not None:
            value = (
                request.message if request.answers_question else accepts(waiting, request.message)
            )
            if value is not None:
                log.info("chat.resumed", field=waiting.field)
                return await self._graph.resume(value, request.thread_id, job_id)
        return await self._graph.run(dict(new_turn(request)), request.thread_id, job_id)

    async def _paused(
        self, job_id: str, request: ChatRequest, asked: InputRequest, usage: TokenUsage
    ) -> ChatResult:
        data = {**asked.model_dump(), "expires_at": round(time.time() + self._input_wait, 3)}
        if self._recorder is not None and request.conversation_owner is not None:
            stored = await self._recorder.asked(job_id, request, asked)
            if stored is not None:  # the eco2 client's `done` for a question back
                data["persistence"] = persistence(request.conversation_owner, stored)
        await self._reporter.emit(job_id, "needs_input", data=data)
        log.info("chat.needs_input", field=asked.field)
        return ChatResult(
            thread_id=request.thread_id, answer="", intents=[], usage=usage, needs_input=asked
        )

    async def _failed(
        self,
        job_id: str,
        request: ChatRequest,
        exc: Exception,
        usage: TokenUsage,
        *,
        record: bool = True,
    ) -> None:
        if isinstance(exc, DomainError):  # expected kinds of failure: one line, no traceback
            log.warning("chat.failed", job_id=job_id, thread_id=request.thread_id, error=str(exc))
        else:
            log.exception("chat.failed", job_id=job_id, thread_id=request.thread_id)
        data = {**public_error(exc), "usage": usage.model_dump()}
        if record and self._recorder is not None:
            try:  # the user's message stays in history, with no answer
                stored = await self._recorder.failed(job_id, request)
            except StoreUnavailable as lost:
                log.error("conversation.record_failed", job_id=job_id, error=str(lost))
            else:
                if stored is not None and request.conversation_owner is not None:
                    data["persistence"] = persistence(request.conversation_owner, stored)
        await self._reporter.emit(job_id, "error", data=data)


async def _settled(settle: Settle | None, usage: TokenUsage) -> None:
    """Count what the turn used. A limits store that cannot be reached (Redis down) must not
    cost the turn itself: the day's total misses this turn, and the turn is still recorded and
    ended (a lost budget count is cheaper than a lost answer)."""
    if settle is None or not usage.calls:
        return
    try:
        await asyncio.shield(settle(usage))
    except Exception as exc:
        log.error("usage.settle_failed", error=str(exc), tokens=usage.total_tokens)


def to_result(request: ChatRequest, state: Mapping[str, Any], usage: TokenUsage) -> ChatResult:
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
        model=state.get("answered_by"),
        provider=state.get("answered_provider"),
        grade=state.get("grade"),
    )


def _dump(sources: list[Source]) -> list[dict[str, Any]]:
    return [s.model_dump(exclude_none=True) for s in sources]
