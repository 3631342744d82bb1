"""Where a command shows a turn's progress as it happens: the terminal, live or in lines."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from app.domain.events import ProgressEvent


class ProgressViewPort(Protocol):
    """What `ask` and `submit` draw their progress with, from the events alone."""

    def session(self, thread_id: str) -> AbstractContextManager[None]:
        """Around one command's events: a live view runs inside it and is left on screen."""
        ...

    def show(self, event: ProgressEvent) -> None: ...

    def note(self, text: str) -> None:
        """A line of our own (a hint), kept off the answer's line."""
        ...
