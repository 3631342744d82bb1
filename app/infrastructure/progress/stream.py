"""Progress to a terminal: live stage lines and the answer text, or JSON lines."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import TextIO

from app.application.ports.progress import ProgressNotifierPort
from app.domain.events import ProgressEvent, ProgressUpdate

MARKS = {"started": "…", "completed": "✓", "failed": "✗"}


class StreamProgressNotifier(ProgressNotifierPort):
    """For `python -m app ask`: stages on stderr and answer deltas on stdout (a TTY view),
    or every event as one JSON line on stdout (`--json`)."""

    def __init__(
        self, *, json_lines: bool = False, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self._json = json_lines
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._seq: defaultdict[str, int] = defaultdict(int)
        self._mid_line = False  # answer text printed without its newline yet

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent:
        self._seq[job_id] += 1
        event = ProgressEvent(seq=self._seq[job_id], job_id=job_id, **update.model_dump())
        if self._json:
            print(
                json.dumps(event.model_dump(mode="json"), ensure_ascii=False),
                file=self._out,
                flush=True,
            )
        elif event.type == "stage" and event.status != "started":
            if self._mid_line:  # keep stage lines off the end of the answer on a terminal
                print(file=self._out, flush=True)
                self._mid_line = False
            detail = " ".join(
                f"{k}={v}"
                for k, v in event.data.items()
                if k not in ("slot",) and v not in ("", None)
            )
            print(
                f"  {MARKS.get(event.status or '', '·')} {event.data.get('slot') or event.stage}"
                f"  {detail}",
                file=self._err,
                flush=True,
            )
        elif event.type == "delta":
            print(event.data.get("text", ""), end="", file=self._out, flush=True)
            self._mid_line = True
        elif event.type == "done" and self._mid_line:
            print(file=self._out, flush=True)
            self._mid_line = False
        return event
