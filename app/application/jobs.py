"""The job policy: one chat job from its payload to its terminal event, over ports.

Whatever runs the jobs (arq in the worker) calls `ChatJobRunner.run` with the job's id, payload
and attempt; the policy validates the payload once, skips a re-run of an ended job, marks a new
attempt, holds the turn to its budget, settles what it used, and counts the outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol, TypedDict

import structlog
from pydantic import ValidationError

from app.application.chat.recording import TurnRecorder, persistence, stored_ending
from app.application.ports.access import UsageLimiterPort
from app.application.ports.conversations import StoreUnavailable
from app.application.ports.jobs import JobEventsPort, QueueUnavailable
from app.application.ports.telemetry import MetricsPort, TracingPort
from app.application.retry import RetryPolicy
from app.application.usage import metered
from app.domain.chat import ChatRequest, ChatResult
from app.domain.events import ErrorKind, ProgressEvent, ProgressUpdate, failure
from app.domain.llm import TokenUsage, UsageLimits

log = structlog.get_logger(__name__)
WAITING_INPUT = "waiting_input"  # what a job returns when its chat paused on a question


class JobResult(TypedDict, total=False):
    """What a job returns (its runner stores it): how it ended, and whether it was a re-run."""

    status: str  # done, error, waiting_input, or the terminal event of an ended job
    rerun: bool
    error: str


class ChatTurns(Protocol):
    async def run(
        self,
        request: ChatRequest,
        job_id: str | None = None,
        *,
        settle: Callable[[TokenUsage], Awaitable[None]] | None = None,
    ) -> ChatResult: ...


class ChatJobRunner:
    """One chat job: validate the payload once, run the turn, and leave a terminal event.

    A bad payload fails once with an `error` event, never a retry loop. A re-run of a job
    that already ended (the queue is at-least-once) does nothing.
    """

    def __init__(
        self,
        chats: ChatTurns,
        publisher: JobEventsPort,
        limiter: UsageLimiterPort | None = None,
        chat_limits: UsageLimits | None = None,
        metrics: MetricsPort | None = None,
        tracing: TracingPort | None = None,
        recorder: TurnRecorder | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._chats = chats
        self._recorder = recorder
        self._retry = retry or RetryPolicy()
        self._publisher = publisher
        self._metrics = metrics
        self._tracing = tracing
        self._limiter = limiter
        self._chat_limits = chat_limits or UsageLimits()

    async def run(
        self,
        job_id: str,
        payload: Any,
        attempt: int,
        principal: str = "anonymous",
        *,
        trace: Mapping[str, str] | None = None,
        enqueued_at: float | None = None,
    ) -> JobResult:
        """`trace` is the submitter's W3C context (the chat's span continues its trace);
        `enqueued_at` (epoch seconds) gives the pickup delay."""
        started = time.time()
        if self._metrics is not None and enqueued_at is not None and attempt == 1:
            self._metrics.chat_picked_up(started - enqueued_at)
        structlog.contextvars.bind_contextvars(job_id=job_id, job_try=attempt, principal=principal)
        outcome = "failed"  # a bug: the queue's finish step ends the chat
        try:
            with self._span(job_id, attempt, trace):
                log.info("chat.started")
                result = await self._run(job_id, payload, attempt, principal)
            # A re-run of an ended job did nothing: not a second chat of that outcome.
            outcome = "rerun" if result.get("rerun") else str(result.get("status", "unknown"))
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "job_try", "thread_id", "principal")
            if self._metrics is not None:
                self._metrics.chat_finished(outcome, time.time() - started)

    def _span(
        self, job_id: str, attempt: int, trace: Mapping[str, str] | None
    ) -> AbstractContextManager[None]:
        if self._tracing is None:
            return nullcontext()
        attributes: dict[str, str | int | float | bool] = {
            "eco2.job_id": job_id,
            "eco2.attempt": attempt,
        }
        return self._tracing.span("chat", attributes, remote_parent=trace)

    async def _run(self, job_id: str, payload: Any, attempt: int, principal: str) -> JobResult:
        try:
            request = ChatRequest.model_validate(payload)
        except ValidationError as exc:
            return await self._invalid(job_id, exc)
        structlog.contextvars.bind_contextvars(thread_id=request.thread_id)
        terminal = await self._publisher.terminal(job_id)
        if terminal is not None:  # an earlier try ended (or was cancelled) before the queue knew
            log.info("chat.already_finished", terminal=terminal)
            return {"status": terminal, "rerun": True}
        if attempt > 1:
            started = ProgressUpdate(
                type="stage", stage="attempt", status="started", data={"attempt": attempt}
            )
            await self._publisher.publish_attempt(job_id, started, attempt=attempt)
        try:
            result = await self._within_budget(principal, request, job_id)
        except asyncio.CancelledError:
            # Timeout, abort or shutdown: the queue decides what follows, and its finish step
            # leaves the terminal event (a shutdown leaves none: the job runs again elsewhere).
            log.warning("chat.cancelled")
            raise
        except Exception as exc:  # the chat service published the `error` event already
            return {"status": "error", "error": type(exc).__name__}
        if result.needs_input is not None:  # paused: the job that takes the answer goes on
            return {"status": WAITING_INPUT}
        log.info(
            "chat.completed",
            intents=[str(i) for i in result.intents],
            tokens=result.usage.total_tokens,
            cost_usd=result.usage.cost_usd,
            failed_stages=result.failed_stages,
        )
        if self._metrics is not None and result.grade is not None:
            self._metrics.answer_graded(result.grade.by, result.grade.passed, result.grade.score)
        return {"status": "done"}

    async def _within_budget(self, principal: str, request: ChatRequest, job_id: str) -> ChatResult:
        """The turn, limited by the chat's budget and what is left of the principal's day."""
        limits = self._chat_limits
        limiter = self._limiter
        if limiter is None:
            with metered(limits):
                return await self._chats.run(request, job_id=job_id)
        left = await self._retry.run(
            lambda: limiter.remaining(principal), transient=QueueUnavailable, what="limits.read"
        )
        limits = limits.tightened(tokens=left.max_tokens, cost_usd=left.max_cost_usd)

        async def settle(usage: TokenUsage) -> None:
            # Before the terminal event: a client that sees `done` and asks again at once is
            # held to the day's new total. (Retried: a reply lost after the count was made
            # counts it twice, in the principal's disfavour, never a free chat.)
            await self._retry.run(
                lambda: limiter.record(principal, usage),
                transient=QueueUnavailable,
                what="limits.settle",
            )

        with metered(limits):
            return await self._chats.run(request, job_id=job_id, settle=settle)

    async def ended_by_queue(
        self, job_id: str, payload: Any, ending: ProgressUpdate
    ) -> ProgressEvent | None:
        """The queue ended the job by itself (tries used up, a timeout, a cancellation, a crash)
        and `ending` is its `error`: unless the job's stream has a terminal event already, the
        turn ends here, once. A turn of a stored conversation keeps the user's message (with
        `persistence` in the error); one recorded with its answer before its `done` went out
        ends `done` with what history holds. Returns the terminal event published, if any."""
        request = _request_or_none(payload)
        turn = None
        if request is not None and request.conversation_owner is not None and self._recorder:
            if await self._publisher.terminal(job_id) is not None:
                return None  # ended (most finished jobs): no write to the store for nothing
            try:  # idempotent by job id: a turn stored before comes back as it was
                turn = await self._recorder.failed(job_id, request)
            except StoreUnavailable as exc:
                log.error("conversation.record_failed", job_id=job_id, error=str(exc))
        if turn is None or request is None or request.conversation_owner is None:
            return await self._publisher.publish(job_id, ending)
        owner = request.conversation_owner
        replayed = stored_ending(owner, turn)
        if replayed is None:
            data = {**ending.data, "persistence": persistence(owner, turn)}
            return await self._publisher.publish(job_id, ending.model_copy(update={"data": data}))
        answer, done = replayed
        await self._publisher.publish(job_id, answer)
        return await self._publisher.publish(job_id, done)

    async def _invalid(self, job_id: str, exc: ValidationError) -> JobResult:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()
        ]
        log.warning("chat.invalid_payload", problems=problems)
        kind = ErrorKind.INVALID_REQUEST
        await self._publisher.publish(
            job_id, failure(kind, "the job is malformed", problems=problems)
        )
        return {"status": "error", "error": kind.value}


def _request_or_none(payload: Any) -> ChatRequest | None:
    try:
        return ChatRequest.model_validate(payload)
    except ValidationError:
        return None
