"""`python -m app submit`: queue a chat as the gateway does, then follow its events."""

from __future__ import annotations

import asyncio
import sys
import uuid

from app.application.ports.chat_jobs import ChatJobsPort
from app.containers.cli import CliContainer
from app.containers.lifecycle import resolve, running
from app.domain.chat import ChatRequest
from app.settings import Settings


async def submit(
    settings: Settings,
    question: str,
    *,
    thread: str | None = None,
    as_json: bool = False,
    wait_seconds: float = 120.0,
) -> int:
    request = ChatRequest(message=question, thread_id=thread or f"cli-{uuid.uuid4().hex[:12]}")
    async with running(CliContainer(settings=settings, json_lines=as_json)) as container:
        jobs: ChatJobsPort = await resolve(container.jobs.chat_jobs)
        view = await resolve(container.view)
        ticket = await jobs.submit(request)
        view.note(f"job {ticket.job_id} · thread {ticket.thread_id}")
        terminal = ""
        try:
            async with asyncio.timeout(wait_seconds):
                async for event in jobs.follow(ticket.job_id):
                    view.show(event)
                    terminal = event.type
        except TimeoutError:
            print(
                f"no terminal event after {wait_seconds:.0f} s: is a worker running?",
                file=sys.stderr,
            )
            return 1
    return 0 if terminal == "done" else 1
