"""Asking the person at the terminal (a question back) for `ask` and `submit` alike."""

from __future__ import annotations

import asyncio
import sys
import threading

from app.domain.chat import InputRequest


async def prompt(asked: InputRequest) -> str | None:
    """The person's answer, or None at end of input. Ctrl-C ends the command at once."""
    print(f"\n{asked.question}", file=sys.stderr)
    if asked.options:
        print("  e.g. " + ", ".join(asked.options[:10]), file=sys.stderr)
    line = await read_line("> ")
    return None if line is None else line.strip()


async def read_line(shown: str) -> str | None:
    """`input()` on a daemon thread of its own. On the loop's default executor a pending
    `input()` holds `asyncio.run`'s shutdown, so Ctrl-C at the prompt hung until Enter; a
    daemon thread is simply left behind when the process ends."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[str | None] = loop.create_future()

    def settle(value: str | None) -> None:
        if not answered.done():
            answered.set_result(value)

    def read() -> None:
        try:
            value: str | None = input(shown)
        except (EOFError, OSError, ValueError):  # end of input, or stdin closed under us
            value = None
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle, value)

    threading.Thread(target=read, name="prompt", daemon=True).start()
    return await answered


def how_to_answer(asked: InputRequest, thread: str, as_json: bool, *, command: str = "ask") -> None:
    # `ask` resumes in-process (`--input`); `submit`'s next message on the thread answers it.
    flag = "--input " if command == "ask" else ""
    line = (
        f"{asked.question}\n  answer with: python -m app {command} --thread {thread} {flag}"
        f"'<{asked.field}>'"
    )
    # On --json the events (needs_input among them) are stdout's; the hint goes to stderr.
    print(line if not as_json else f"thread: {thread}", file=sys.stderr)
