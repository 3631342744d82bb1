"""The terminal views draw a turn from its events alone: live on a TTY, lines off one, JSON."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from app.domain.events import ProgressEvent
from app.infrastructure.progress.live import LiveTerminalView
from app.infrastructure.progress.terminal import TerminalView, terminal_view


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def event(seq: int, type_: str, **fields: Any) -> ProgressEvent:
    return ProgressEvent(seq=seq, job_id="job-1", type=type_, **fields)  # type: ignore[arg-type]


def turn(answer_attempts: tuple[int, ...] = (1,)) -> list[ProgressEvent]:
    events = [
        event(1, "stage", stage="intent", status="started"),
        event(2, "stage", stage="intent", status="completed", data={"intents": ["waste"]}),
        event(3, "stage", stage="weather", status="started"),
        event(4, "stage", stage="weather", status="failed", data={"error": "timeout"}),
    ]
    for attempt in answer_attempts:
        events.append(
            event(len(events) + 1, "delta", attempt=attempt, data={"text": f"try{attempt} "})
        )
    events += [
        event(len(events) + 1, "answer", data={"text": "final", "sources": [{"title": "캔"}]}),
        event(len(events) + 2, "done", data={}),
    ]
    return events


def screen(raw: str) -> str:
    """What a terminal shows at the end: escapes dropped, each line's last carriage-return part."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw).replace("\r\n", "\n")
    return "\n".join(line.split("\r")[-1] for line in plain.split("\n"))


def test_live_view_marks_stages_and_leaves_the_answer_and_closing_line() -> None:
    out = Tty()
    view = LiveTerminalView(out)
    with view.session("cli-t1"):
        for e in turn(answer_attempts=(1, 2)):
            view.show(e)
    shown = screen(out.getvalue())
    assert "✓ ready" in shown and "✓ intent  intents=['waste']" in shown
    assert "✗ weather  error=timeout" in shown
    assert "(attempt 2: the answer starts again)" in shown
    assert "final" in shown.split("✗ weather")[-1]
    assert shown.rstrip().endswith("sources: 캔 · thread: cli-t1 (continue with --thread cli-t1)")


def test_live_view_marks_unfinished_stages_failed_when_the_command_fails() -> None:
    out = Tty()
    view = LiveTerminalView(out)
    with pytest.raises(RuntimeError), view.session("cli-t2"):
        view.show(event(1, "stage", stage="intent", status="started"))
        raise RuntimeError("provider down")
    assert "✗ intent" in screen(out.getvalue())


def test_plain_and_json_views_off_a_terminal() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert isinstance(terminal_view(out=out, err=err), TerminalView)  # not a TTY: lines
    plain = TerminalView(out=out, err=err)
    with plain.session("cli-t3"):
        for e in turn():
            plain.show(e)
    assert out.getvalue() == "try1 \n"
    assert err.getvalue().splitlines() == [
        "  ✓ intent  intents=['waste']",
        "  ✗ weather  error=timeout",
        "  sources: 캔 · thread: cli-t3 (continue with --thread cli-t3)",
    ]
    lines = io.StringIO()
    as_json = TerminalView(json_lines=True, out=lines, err=err)
    with as_json.session("cli-t4"):
        for e in turn():
            as_json.show(e)
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert len(records) == len(turn()) and {r["thread_id"] for r in records} == {"cli-t4"}


def test_live_only_when_both_streams_are_the_terminal() -> None:
    assert isinstance(terminal_view(out=Tty(), err=Tty()), LiveTerminalView)
    assert isinstance(terminal_view(out=Tty(), err=io.StringIO()), TerminalView)
    assert isinstance(terminal_view(json_lines=True, out=Tty(), err=Tty()), TerminalView)
