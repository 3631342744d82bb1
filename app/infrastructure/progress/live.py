"""The live terminal view (rich): a line per stage, its spinner turning into ✓ or ✗, and the
answer streamed below; log records print above it instead of tearing it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from app.domain.events import ProgressEvent
from app.infrastructure.progress.terminal import (
    MARKS,
    closing_line,
    error_line,
    stage_detail,
    stage_name,
)

STYLES = {"completed": "green", "failed": "red", "waiting": "yellow"}
STARTING = "starting"  # the first line, while the graph is imported and compiled


class _Stage:
    def __init__(self, name: str) -> None:
        self.name = name
        self.status = "started"
        self.detail = ""
        self.spinner = Spinner("dots", text=Text(name))  # kept: it animates from its start

    def render(self) -> RenderableType:
        if self.status == "started":
            return self.spinner
        mark, style = MARKS.get(self.status, "·"), STYLES.get(self.status, "")
        line = Text(f"{mark} ", style=style)
        line.append(self.name)
        line.append(f"  {self.detail}" if self.detail else "", style="dim")
        return line


class LiveTerminalView:
    """On a TTY. The live region holds the stages and the answer's last lines (what fits);
    when a turn ends it is drawn once more in full and left on the screen."""

    def __init__(self, out: TextIO) -> None:
        self._console = Console(file=out)
        self._live: Live | None = None
        self._stages: dict[str, _Stage] = {}
        self._answer = ""
        self._attempt = 1
        self._thread = ""
        self._sources: list[Any] = []
        self._started = time.monotonic()
        self._final = False

    @contextmanager
    def session(self, thread_id: str) -> Iterator[None]:
        self._thread = thread_id
        self._stages[STARTING] = _Stage(STARTING)
        self._resume()
        try:
            yield
        except BaseException:
            for stage in list(self._stages.values()):
                if stage.status == "started":  # what never finished did not succeed
                    stage.status = "failed"
            raise
        finally:
            self._pause()

    def show(self, event: ProgressEvent) -> None:
        self._leave_starting()
        if event.type == "stage":
            stage = self._stages.setdefault(stage_name(event), _Stage(stage_name(event)))
            stage.status, stage.detail = event.status or "started", stage_detail(event)
        elif event.type == "delta":
            if event.attempt > self._attempt:  # a re-run: what the dead attempt sent is void
                self._attempt, self._answer = event.attempt, ""
                self.note(f"  (attempt {event.attempt}: the answer starts again)")
            self._answer += str(event.data.get("text", ""))
        elif event.type == "answer":
            self._sources = list(event.data.get("sources") or [])
            self._answer = str(event.data.get("text", self._answer))
        elif event.type in ("done", "error", "needs_input"):
            self._pause()  # the turn is over (or waits for the person): leave it on screen
            if event.type == "error":
                self._console.print(Text(error_line(event), style="red"))
            if event.type == "done":
                closing = closing_line(self._sources, self._thread, event.data.get("provider"))
                self._console.print(Text(closing, style="dim"))
            return
        self._refresh()

    def note(self, text: str) -> None:
        self._console.print(Text(text, style="dim"))  # above the live region while it runs

    def __rich__(self) -> RenderableType:
        # list(): the refresh thread draws while the event loop adds stages.
        parts: list[RenderableType] = [stage.render() for stage in list(self._stages.values())]
        if self._answer:
            parts.append(self._answer_part())
        return Group(*parts)

    def _answer_part(self) -> RenderableType:
        text = Text(self._answer)
        if self._final:
            return text
        room = max(self._console.height - len(self._stages) - 2, 3)
        lines = text.wrap(self._console, max(self._console.width, 20))
        return Group(*lines[-room:]) if len(lines) > room else text

    def _leave_starting(self) -> None:
        starting = self._stages.get(STARTING)
        if starting is not None and starting.status == "started":
            starting.status = "completed"
            starting.name = "ready"
            starting.detail = f"s={time.monotonic() - self._started:.1f}"

    def _resume(self) -> None:
        """A new live region below what is on the screen (after a prompt, for instance)."""
        if self._live is None:
            self._final = False
            self._live = Live(
                self,
                console=self._console,
                refresh_per_second=12,
                vertical_overflow="visible",
                redirect_stdout=True,
                redirect_stderr=True,  # log lines (written to sys.stderr) print above it
            )
            self._live.start()

    def _pause(self) -> None:
        if self._live is not None:
            self._final = True
            self._live.refresh()
            self._live.stop()
            self._live = None
            self._stages, self._answer = {}, ""

    def _refresh(self) -> None:
        if self._live is None:
            self._resume()
        assert self._live is not None
        self._live.refresh()
