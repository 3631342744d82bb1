"""The intake marks a thread it issues for a turn as new: the worker then reads no memory."""

from __future__ import annotations

from typing import Any

from app.application.access.intake import ChatIntake
from app.domain.access import Principal
from app.domain.chat import ChatDraft, ChatRequest
from app.domain.jobs import ChatTicket
from app.domain.llm import TokenUsage, UsageLimits


class Jobs:
    def __init__(self) -> None:
        self.submitted: list[ChatRequest] = []

    async def submit(self, request: ChatRequest, **_: Any) -> ChatTicket:
        self.submitted.append(request)
        return ChatTicket(job_id=f"j{len(self.submitted)}", thread_id=request.thread_id)


class Threads:
    def __init__(self) -> None:
        self.owners: dict[str, str] = {}

    async def issue(self, principal: str) -> str:
        thread = f"t{len(self.owners)}"
        self.owners[thread] = principal
        return thread

    async def owner(self, thread_id: str) -> str | None:
        return self.owners.get(thread_id)


class Limiter:
    async def admit(self, principal: str) -> None:
        return None

    async def remaining(self, principal: str) -> UsageLimits:
        return UsageLimits()

    async def record(self, principal: str, usage: TokenUsage) -> None:
        return None


async def test_only_a_thread_issued_for_the_turn_is_new() -> None:
    jobs = Jobs()
    intake = ChatIntake(jobs, Threads(), Limiter())  # type: ignore[arg-type]
    caller = Principal(id="alice")
    first = await intake.submit(caller, ChatDraft(message="페트병 어떻게 버려요?"))
    await intake.submit(caller, ChatDraft(message="뚜껑은요?"), thread_id=first.thread_id)
    assert [r.new_thread for r in jobs.submitted] == [True, False]
    assert jobs.submitted[0].thread_id == jobs.submitted[1].thread_id
