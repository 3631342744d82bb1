"""A chat entering the service: the caller's limits, its thread, then the queue."""

from __future__ import annotations

from app.application.ports.access import ThreadRegistryPort, UsageLimiterPort
from app.application.ports.jobs import ChatJobsPort
from app.domain.access import Principal
from app.domain.chat import ChatDraft, ChatRequest
from app.domain.errors import NotWaitingForInput, ThreadNotFound
from app.domain.jobs import ChatTicket, TurnPolicy


class ChatIntake:
    def __init__(
        self, jobs: ChatJobsPort, threads: ThreadRegistryPort, limiter: UsageLimiterPort
    ) -> None:
        self._jobs = jobs
        self._threads = threads
        self._limiter = limiter

    async def submit(
        self,
        principal: Principal,
        draft: ChatDraft,
        *,
        thread_id: str | None = None,
        if_busy: TurnPolicy = "enqueue",
    ) -> ChatTicket:
        """Raises LimitExceeded, ThreadNotFound, and what ChatJobsPort.submit raises."""
        await self._limiter.admit(principal.id)
        thread = await self._thread(principal, thread_id)
        return await self._jobs.submit(
            draft.for_thread(thread), if_busy=if_busy, principal=principal.id
        )

    async def admit(self, principal: Principal) -> None:
        """Counts against the caller's rate like a chat does (a photo upload). Raises
        LimitExceeded."""
        await self._limiter.admit(principal.id)

    async def answer(self, principal: Principal, job_id: str, value: str) -> ChatTicket:
        """The answer to a paused chat's question, as a new job on its thread that resumes
        it. Raises NotWaitingForInput, InputExpired, LimitExceeded, ThreadNotFound."""
        await self._limiter.admit(principal.id)
        thread = await self._jobs.thread_of(job_id)
        if thread is None:
            raise NotWaitingForInput("no such chat (or it expired)")
        await self._thread(principal, thread)  # the caller's own thread, or not found
        request = ChatRequest(message=value, thread_id=thread, answers_question=True)
        return await self._jobs.submit(request, principal=principal.id, answering=job_id)

    async def _thread(self, principal: Principal, thread_id: str | None) -> str:
        if thread_id is None:
            return await self._threads.issue(principal.id)
        # Someone else's thread is "not found" too: its existence is not ours to reveal.
        if await self._threads.owner(thread_id) != principal.id:
            raise ThreadNotFound(f"no thread {thread_id}")
        return thread_id
