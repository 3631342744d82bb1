"""`python -m app ask`: one turn through the real chat graph in this process, shown live.

A turn that asks back (`needs_input`: which district?) prompts on a terminal; off one, or with
`--json`, it exits 3 and `ask --thread T --input "마포구"` answers it later.
"""

from __future__ import annotations

import sys
import uuid

from pydantic import ValidationError

from app.application.ports.jobs import ProgressViewPort
from app.containers_core import Startup, Terminal, resolve, running
from app.domain.chat import ChatRequest, ChatResult
from app.entrypoints.prompting import how_to_answer, prompt
from app.settings import Settings

EXIT_BAD_INPUT = 2
EXIT_NEEDS_INPUT = 3  # the chat waits for an answer: `ask --thread T --input …` gives it


async def ask(
    settings: Settings,
    question: str | None,
    *,
    as_json: bool,
    thread: str | None = None,
    image: str | None = None,
    answer: str | None = None,
    interactive: bool | None = None,
) -> int:
    interactive = sys.stdin.isatty() and not as_json if interactive is None else interactive
    thread = thread or f"cli-{uuid.uuid4().hex[:12]}"
    if answer is not None and question is not None:
        print("give a question or --input, not both", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        request = ChatRequest(
            message=answer if answer is not None else question or "",
            thread_id=thread,
            image_url=image,
            answers_question=answer is not None,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"invalid question: {problems}", file=sys.stderr)
        return EXIT_BAD_INPUT
    view = Terminal(json_lines=as_json).view()
    with view.session(thread):  # up at once: the chat graph is imported and built behind it
        await Startup(settings=settings).require(redis=False, checkpoint=True)
        return await _turns(settings, request, view, as_json=as_json, interactive=interactive)


async def _turns(
    settings: Settings,
    request: ChatRequest,
    view: ProgressViewPort,
    *,
    as_json: bool,
    interactive: bool,
) -> int:
    from app.containers import CliContainer

    thread = request.thread_id
    container = CliContainer(settings=settings, json_lines=as_json, view=view)
    async with running(container):
        service = await resolve(container.chat.service)
        if request.answers_question and await service.waiting_for(thread) is None:
            print(f"thread {thread} is not waiting for an answer", file=sys.stderr)
            return EXIT_BAD_INPUT
        result: ChatResult = await service.run(request)
        while result.needs_input is not None:
            if not interactive:
                how_to_answer(result.needs_input, thread, as_json)
                return EXIT_NEEDS_INPUT
            reply = await prompt(result.needs_input)
            if reply is None:  # end of input: leave the question for later
                how_to_answer(result.needs_input, thread, as_json)
                return EXIT_NEEDS_INPUT
            try:
                follow = ChatRequest(message=reply, thread_id=thread, answers_question=True)
            except ValidationError:
                continue  # blank: ask again
            result = await service.run(follow)
    return 0
