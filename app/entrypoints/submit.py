"""`python -m app submit`: queue a chat as the gateway does, then follow its events.

A question back (`needs_input`) is asked at the terminal as `ask` asks it, and the answer goes
to the workers as the job that resumes the turn; off a terminal, or with `--json`, it exits 3.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

from app.application.ports.jobs import ChatJobsPort, ProgressViewPort
from app.containers_core import Startup, Terminal, resolve, running
from app.domain.chat import ChatRequest, InputRequest
from app.domain.jobs import ChatTicket
from app.entrypoints.prompting import how_to_answer, prompt
from app.settings import Settings

EXIT_NEEDS_INPUT = 3


async def submit(
    settings: Settings,
    question: str,
    *,
    thread: str | None = None,
    as_json: bool = False,
    wait_seconds: float = 120.0,
    interactive: bool | None = None,
) -> int:
    interactive = sys.stdin.isatty() and not as_json if interactive is None else interactive
    request = ChatRequest(message=question, thread_id=thread or f"cli-{uuid.uuid4().hex[:12]}")
    view = Terminal(json_lines=as_json).view()
    with view.session(request.thread_id):  # the same view as `ask`, from the same events
        await Startup(settings=settings).require(redis=True, checkpoint=False)
        return await _follow(
            settings,
            request,
            view,
            as_json=as_json,
            wait_seconds=wait_seconds,
            interactive=interactive,
        )


async def _follow(
    settings: Settings,
    request: ChatRequest,
    view: ProgressViewPort,
    *,
    as_json: bool,
    wait_seconds: float,
    interactive: bool,
) -> int:
    from app.containers import CliContainer

    container = CliContainer(settings=settings, json_lines=as_json, view=view)
    async with running(container):
        jobs: ChatJobsPort = await resolve(container.jobs.chat_jobs)
        ticket = await jobs.submit(request)
        while True:
            try:
                async with asyncio.timeout(wait_seconds):
                    ended, asked = await _until_end(jobs, ticket, view)
            except TimeoutError:
                view.note(f"no terminal event after {wait_seconds:.0f} s: is a worker running?")
                return 1
            if asked is None:
                return 0 if ended == "done" else 1
            reply: str | None = ""
            while interactive and reply == "":  # blank: the question stands; ask again
                reply = await prompt(asked)
            if not reply:
                how_to_answer(asked, request.thread_id, as_json, command="submit")
                return EXIT_NEEDS_INPUT
            answer = ChatRequest(message=reply, thread_id=request.thread_id, answers_question=True)
            ticket = await jobs.submit(answer, answering=ticket.job_id)


async def _until_end(
    jobs: ChatJobsPort, ticket: ChatTicket, view: ProgressViewPort
) -> tuple[str, InputRequest | None]:
    """Follow the job to its end, or to the question it paused on."""
    async for event in jobs.follow(ticket.job_id):
        view.show(event)
        if event.type == "needs_input":
            asked = InputRequest.model_validate(
                {k: event.data[k] for k in ("field", "question", "options") if k in event.data}
            )
            return event.type, asked
        if event.terminal:
            return event.type, None
    return "", None
