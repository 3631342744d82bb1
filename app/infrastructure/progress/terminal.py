"""Progress on a terminal: live stage lines and the answer text, or one JSON line per event.

`ask` (the graph in this process) and `submit` (a worker elsewhere) show the same view.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import TextIO

from app.application.ports.progress import ProgressNotifierPort
from app.domain.events import ProgressEvent, ProgressUpdate

MARKS = {"started": "…", "completed": "✓", "failed": "✗", "waiting": "?"}


class TerminalView:
    """Stages on `err`, answer deltas on `out` (a TTY view), or JSON lines on `out`."""

    def __init__(
        self, *, json_lines: bool = False, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.json_lines = json_lines
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._mid_line = False  # answer text printed without its newline yet
        self._attempt = 1

    def show(self, event: ProgressEvent) -> None:
        if self.json_lines:
            print(json.dumps(event.wire(), ensure_ascii=False), file=self._out, flush=True)
        elif event.type == "stage" and event.status != "started":
            self._stage(event)
        elif event.type == "delta":
            self._delta(event)
        elif event.type in ("done", "error", "needs_input"):
            self._end_line()
            if event.type == "error":
                kind, message = event.data.get("kind"), event.data.get("message", "")
                print(f"error: {kind}: {message}", file=self._err, flush=True)

    def note(self, text: str) -> None:
        """A line of our own (the job id, a hint), kept off the answer's line."""
        self._end_line()
        print(text, file=self._err, flush=True)

    def _stage(self, event: ProgressEvent) -> None:
        self._end_line()  # keep stage lines off the end of the answer on a terminal
        detail = " ".join(
            f"{k}={v}" for k, v in event.data.items() if k != "slot" and v not in ("", None)
        )
        name = event.data.get("slot") or event.stage
        mark = MARKS.get(event.status or "", "·")
        print(f"  {mark} {name}  {detail}", file=self._err, flush=True)

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

    def __init__(self, view: TerminalView) -> None:
        self._view = view
        self._seq: defaultdict[str, int] = defaultdict(int)

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent:
        self._seq[job_id] += 1
        event = ProgressEvent(seq=self._seq[job_id], job_id=job_id, **update.model_dump())
        self._view.show(event)
        return event
