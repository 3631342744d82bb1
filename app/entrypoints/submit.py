"""`python -m app submit`: queue a chat as the gateway does, then follow its events."""

from __future__ import annotations

import asyncio
import uuid

from app.application.ports.jobs import ChatJobsPort, ProgressViewPort
from app.containers_core import Startup, Terminal, resolve, running
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
    view = Terminal(json_lines=as_json).view()
    with view.session(request.thread_id):  # the same view as `ask`, from the same events
        await Startup(settings=settings).require(redis=True, checkpoint=False)
        return await _follow(settings, request, view, as_json=as_json, wait_seconds=wait_seconds)


async def _follow(
    settings: Settings,
    request: ChatRequest,
    view: ProgressViewPort,
    *,
    as_json: bool,
    wait_seconds: float,
) -> int:
    from app.containers import CliContainer

    container = CliContainer(settings=settings, json_lines=as_json, view=view)
    async with running(container):
        jobs: ChatJobsPort = await resolve(container.jobs.chat_jobs)
        ticket = await jobs.submit(request)
        terminal = ""
        try:
            async with asyncio.timeout(wait_seconds):
                async for event in jobs.follow(ticket.job_id):
                    view.show(event)
                    terminal = event.type
        except TimeoutError:
            view.note(f"no terminal event after {wait_seconds:.0f} s: is a worker running?")
            return 1
    return 0 if terminal == "done" else 1
