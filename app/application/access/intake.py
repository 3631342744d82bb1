"""A chat entering the service: the caller's limits, its thread, then the queue."""

from __future__ import annotations

from app.application.ports.access import ThreadRegistryPort, UsageLimiterPort
from app.application.ports.conversations import ConversationStore
from app.application.ports.jobs import ChatJobsPort
from app.domain.access import Principal
from app.domain.chat import ChatDraft, ChatRequest
from app.domain.conversations import ConversationNotFound
from app.domain.errors import NotWaitingForInput, ThreadNotFound
from app.domain.jobs import ChatTicket, TurnPolicy


class ChatIntake:
    """`/v1` threads live in the thread registry; a stored conversation (`/api/v1`) is its own
    thread, owned in the conversation store."""

    def __init__(
        self,
        jobs: ChatJobsPort,
        threads: ThreadRegistryPort,
        limiter: UsageLimiterPort,
        conversations: ConversationStore | None = None,
    ) -> None:
        self._jobs = jobs
        self._threads = threads
        self._limiter = limiter
        self._conversations = conversations

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
        request = draft.for_thread(thread)
        if thread_id is None:  # issued just now: nothing to remember
            request = request.model_copy(update={"new_thread": True})
        return await self._jobs.submit(request, if_busy=if_busy, principal=principal.id)

    async def send(
        self, principal: Principal, conversation_id: str, draft: ChatDraft
    ) -> ChatTicket:
        """A message to one of the caller's conversations: its next turn, queued behind the
        unfinished ones. Raises LimitExceeded, ConversationNotFound, StoreUnavailable (nothing
        is queued), and what ChatJobsPort.submit raises."""
        await self._limiter.admit(principal.id)
        conversation = await self._store().get(principal.id, conversation_id)
        request = draft.for_thread(conversation.id).model_copy(
            update={"conversation_owner": principal.id}
        )
        return await self._jobs.submit(request, principal=principal.id)

    async def conversation_of(self, principal: Principal, job_id: str) -> str:
        """The caller's conversation the job is a turn of; ConversationNotFound for a job that
        is not the caller's (or no longer exists)."""
        thread = await self._jobs.thread_of(job_id)
        if thread is None:
            raise ConversationNotFound("no such chat (or it expired)")
        return (await self._store().get(principal.id, thread)).id

    async def answer_in_conversation(
        self, principal: Principal, job_id: str, value: str
    ) -> ChatTicket:
        """`answer` for a turn of a stored conversation (`POST /api/v1/chat/{job_id}/input`)."""
        await self._limiter.admit(principal.id)
        conversation = await self.conversation_of(principal, job_id)
        request = ChatRequest(
            message=value,
            thread_id=conversation,
            answers_question=True,
            conversation_owner=principal.id,
        )
        return await self._jobs.submit(request, principal=principal.id, answering=job_id)

    def _store(self) -> ConversationStore:
        if self._conversations is None:
            raise RuntimeError("this intake has no conversation store")
        return self._conversations

    async def admit_guest(self, address: str) -> None:
        """A new guest identity counts against the address it came from (like a request of a
        principal of that name), so a client that drops its cookie cannot escape its limits."""
        await self._limiter.admit(f"new-guests:{address}")

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
