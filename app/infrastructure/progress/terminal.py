"""Progress on a terminal: a live view (a line per stage, a spinner turning into ✓/✗, the answer
streamed below) on a TTY, plain lines off one, or one JSON line per event with `--json`.

`ask` (the graph in this process) and `submit` (a worker elsewhere) show the same view: it is
drawn from the events alone, the closing line (sources, thread) included.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from app.application.ports.jobs import ProgressNotifierPort, ProgressViewPort
from app.domain.events import ProgressEvent, ProgressUpdate

MARKS = {"started": "…", "completed": "✓", "failed": "✗", "waiting": "?"}


def terminal_view(
    *, json_lines: bool = False, out: TextIO | None = None, err: TextIO | None = None
) -> ProgressViewPort:
    """Live when both streams are the terminal; plain lines when either goes to a file."""
    out, err = out or sys.stdout, err or sys.stderr
    if not json_lines and out.isatty() and err.isatty():
        from app.infrastructure.progress.live import LiveTerminalView

        return LiveTerminalView(out)
    return TerminalView(json_lines=json_lines, out=out, err=err)


def stage_detail(event: ProgressEvent) -> str:
    return " ".join(
        f"{k}={v}" for k, v in event.data.items() if k != "slot" and v not in ("", None)
    )


def stage_name(event: ProgressEvent) -> str:
    return str(event.data.get("slot") or event.stage)


OFFLINE_NOTE = "  [offline answer · 오프라인 답변: composed from the guidelines, no language model]"


def closing_line(sources: list[Any], thread_id: str, provider: Any = None) -> str:
    """The last line of a turn, the same for `ask` and `submit`; an offline answer says so
    here, beside the text rather than in it."""
    titles = ", ".join(str(s.get("title", "")) for s in sources if isinstance(s, dict))
    line = f"  sources: {titles or '-'} · thread: {thread_id} (continue with --thread {thread_id})"
    return f"{OFFLINE_NOTE}\n{line}" if provider == "offline" else line


def error_line(event: ProgressEvent) -> str:
    return f"error: {event.data.get('kind')}: {event.data.get('message', '')}"


class TerminalView:
    """Off a TTY: finished stages on `err`, answer deltas on `out`; or JSON lines on `out`,
    each with the thread it belongs to."""

    def __init__(
        self, *, json_lines: bool = False, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.json_lines = json_lines
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._mid_line = False  # answer text printed without its newline yet
        self._attempt = 1
        self._thread = ""
        self._sources: list[Any] = []

    @contextmanager
    def session(self, thread_id: str) -> Iterator[None]:
        self._thread = thread_id
        try:
            yield
        finally:
            self._end_line()

    def show(self, event: ProgressEvent) -> None:
        if self.json_lines:
            line = {**event.wire(), "thread_id": self._thread}
            print(json.dumps(line, ensure_ascii=False), file=self._out, flush=True)
        elif event.type == "stage" and event.status != "started":
            self._stage(event)
        elif event.type == "delta":
            self._delta(event)
        elif event.type == "answer":
            self._sources = list(event.data.get("sources") or [])
        elif event.type in ("done", "error", "needs_input"):
            self._end_line()
            if event.type == "error":
                print(error_line(event), file=self._err, flush=True)
            if event.type == "done":
                self.note(closing_line(self._sources, self._thread, event.data.get("provider")))

    def note(self, text: str) -> None:
        self._end_line()
        print(text, file=self._err, flush=True)

    def _stage(self, event: ProgressEvent) -> None:
        self._end_line()  # keep stage lines off the end of the answer
        mark = MARKS.get(event.status or "", "·")
        print(f"  {mark} {stage_name(event)}  {stage_detail(event)}", file=self._err, flush=True)

    def _delta(self, event: ProgressEvent) -> None:
        if event.attempt > self._attempt:  # a re-run: what the dead attempt printed is void
            self._attempt = event.attempt
            self.note(f"  (attempt {event.attempt}: the answer starts again)")
        print(event.data.get("text", ""), end="", file=self._out, flush=True)
        self._mid_line = True

    def _end_line(self) -> None:
        if self._mid_line:
            print(file=self._out, flush=True)
            self._mid_line = False


class TerminalProgressNotifier(ProgressNotifierPort):
    """For `ask`: numbers this process's events and shows each as it happens."""

    def __init__(self, view: ProgressViewPort) -> None:
        self._view = view
        self._seq: defaultdict[str, int] = defaultdict(int)

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent:
        self._seq[job_id] += 1
        event = ProgressEvent(seq=self._seq[job_id], job_id=job_id, **update.model_dump())
        self._view.show(event)
        return event
