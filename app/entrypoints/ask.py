"""`python -m app ask`: one turn through the real chat graph in this process, shown live."""

from __future__ import annotations

import sys
import uuid

from pydantic import ValidationError

from app.containers.cli import CliContainer
from app.containers.lifecycle import resolve, running
from app.domain.chat import ChatRequest
from app.settings import Settings

EXIT_BAD_INPUT = 2


async def ask(
    settings: Settings,
    question: str,
    *,
    as_json: bool,
    thread: str | None = None,
    image: str | None = None,
) -> int:
    try:
        request = ChatRequest(
            message=question, thread_id=thread or f"cli-{uuid.uuid4().hex[:12]}", image_url=image
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"invalid question: {problems}", file=sys.stderr)
        return EXIT_BAD_INPUT
    async with running(CliContainer(settings=settings, json_lines=as_json)) as container:
        service = await resolve(container.chat.service)
        result = await service.run(request)
        view = await resolve(container.view)
    if not as_json:
        sources = ", ".join(s.title for s in result.sources)
        view.note(
            f"  sources: {sources or '-'} · thread: {result.thread_id} "
            f"(continue with --thread {result.thread_id})"
        )
    return 0
