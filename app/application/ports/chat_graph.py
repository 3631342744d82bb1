"""The chat graph as the chat service runs it: a turn, a paused turn resumed, what it waits on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from app.domain.chat import InputRequest


@dataclass(frozen=True)
class Turn:
    """Where a turn got to: the thread's state, and the question it paused on, if it did."""

    state: dict[str, Any]
    needs_input: InputRequest | None = None


class ChatGraphPort(Protocol):
    """`job_id` is the run's own: its events are that job's, whichever job paused the turn."""

    async def run(self, update: dict[str, Any], thread_id: str, job_id: str) -> Turn:
        """A new turn from the thread's last checkpoint (a pending question is dropped)."""
        ...

    async def resume(self, value: str, thread_id: str, job_id: str) -> Turn:
        """The paused turn, with the person's answer to its question."""
        ...

    async def waiting_for(self, thread_id: str) -> InputRequest | None:
        """The question the thread's last turn paused on, or None."""
        ...
