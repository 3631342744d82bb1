"""The eco2 client's view of a job's events (`/api/v1/chat/{job_id}/events`): the same stream
as `/v1`, with the client's event names and fields (CLIENT_API.md, "The stream").

The view is a pure function of the job's stream read from its start (`ClientView`), so every
connection, first or resumed, derives the same frames with the same ids and the same progress:
a resume is "replay silently up to the frame named, then speak". One of our events may become
several frames (a question back is `needs_input` then `done`), and one stream entry may hold
several events (a batch): the first frame of an entry carries the entry's stream id, the k-th
further one `<stream id>.<k>`, and `Last-Event-ID` may name any of them.

Our events → the client's frames:
- `queued` → `queued` (re-sent while the chat waits, since the client gives up on a silent
  stream after 60 s; keepalives do not count for it);
- a stage event → the frame named after the stage, for the client's stage names only. `router`
  has no name there: the original folds routing into `intent`, so it only moves `progress`.
  `attempt` (a re-run began) has none either: it restarts the answer's text, which the view
  says with a `token_recovery` holding the empty text. A registered tool of another name is
  left out (the client would not know what to show). Our `waiting` (the stage asked the
  person) is `completed`: the stage ended, by asking. There is no `aggregator` stage of ours:
  the `answer` stage gathers the lookups itself;
- `delta` → `token`; `answer` (the final text) → nothing, unless it differs from the tokens
  (a re-run of a turn recorded before answers what history shows): then a `token_recovery`;
- `done` → `done` with `result` {intent, answer, persistence, model, …};
- `needs_input` → `needs_input` and a `done` whose answer is the question: the turn ends there
  for this client (its next message answers). The paused job's later `resumed` is never shown;
- `error` → `error` ({job_id, message, kind, …}); keepalives are named `keepalive` frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.application.ports.jobs import ChatJobsPort, QueueUnavailable
from app.domain.chat import InputRequest
from app.domain.events import ProgressEvent

# A frame id: our stream entry id, and for the further frames of one entry `.k`.
FRAME_ID = re.compile(r"^([0-9]{1,20}-[0-9]{1,20})(?:\.([1-9][0-9]{0,2}))?$")
TOOL_STAGES = frozenset(
    {
        "vision", "waste_rag", "character", "location", "bulk_waste", "weather",
        "collection_point", "recyclable_price", "web_search", "image_generation", "general",
    }
)  # fmt: skip
CLIENT_STAGES = TOOL_STAGES | {"intent", "aggregator", "summarize", "answer"}
# Progress at a stage's start and end: an estimate, kept monotone (the highest seen so far).
# Lookups run side by side, so all of them share one span.
PROGRESS = {
    "intent": (5, 15),
    "vision": (10, 20),
    "router": (20, 25),
    "answer": (60, 90),
    "summarize": (90, 95),
}
LOOKUPS = (25, 55)
# While a chat waits in the queue its `queued` frame is said again this often (at most): the
# client reconnects after 30 s without a frame it knows.
REQUEUE_MAX_SECONDS = 15.0


@dataclass(frozen=True)
class Frame:
    name: str
    data: dict[str, Any]
    id: str | None


class ClientView:
    """Folds a job's events, oldest first, into the client's frames, keeping what a client
    that saw every frame holds: the answer's text so far, the progress, whether it ended."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.text = ""  # the answer so far, as the client has it from its frames
        self.completed = False  # no more tokens will come
        self.ended = False  # the client's terminal frame went out: nothing follows
        self.position: str | None = None  # the id a client holding every frame so far has
        self.last_seq = 0
        self.queued: ProgressEvent | None = None  # while the chat still waits in the queue
        self._attempt = 1
        self._progress = 0
        self._answer: str | None = None  # our `answer` event's text
        self._sources: list[Any] = []
        self._asker = "general"  # the stage that asked back, the turn's intent then
        self._entry: str | None = None  # the stream entry of the last event fed
        self._issued = 0  # frames that entry gave so far

    @property
    def answer(self) -> str | None:
        return self._answer

    def feed(self, event: ProgressEvent) -> list[Frame]:
        """The frames for the next event; none once the view ended."""
        if self.ended:
            return []
        named = self._restart(event) + self._frames(event)
        entry = _entry(event.id)
        if entry != self._entry:
            self._entry, self._issued = entry, 0
            self.position = entry
        frames = [
            Frame(name, data, _frame_id(entry, self._issued + i))
            for i, (name, data) in enumerate(named)
        ]
        self._issued += len(frames)
        self.last_seq = event.seq
        if frames:
            self.position = frames[-1].id
        return frames

    def recovery(self) -> Frame:
        """`token_recovery`: the whole text so far, for a client that has none of it."""
        return Frame("token_recovery", self._snapshot(), self.position)

    def queued_again(self, place_in_line: int | None) -> Frame | None:
        """The `queued` frame again (the chat still waits), with its place in the queue."""
        if self.queued is None or self.ended:
            return None
        name, data = self._queued(self.queued)
        data["result"] = {**data["result"], "place_in_line": place_in_line}
        return Frame(name, data, self.position)

    def _restart(self, event: ProgressEvent) -> list[tuple[str, dict[str, Any]]]:
        """A later attempt restarts the answer: the client drops the text it has."""
        if event.attempt <= self._attempt:
            return []
        self._attempt = event.attempt
        had = self.text
        self.text, self.completed = "", False
        return [("token_recovery", self._snapshot(event.seq))] if had else []

    def _frames(self, event: ProgressEvent) -> list[tuple[str, dict[str, Any]]]:
        if event.type != "queued":
            self.queued = None
        if event.type == "queued":
            self.queued = event
            return [self._queued(event)]
        if event.type == "stage" and event.stage:
            return self._stage(event, event.stage)
        if event.type == "delta":
            content = str(event.data.get("text", ""))
            self.text += content
            return [("token", {"content": content, "seq": event.seq, "node": "answer"})]
        if event.type == "answer":
            return self._final_text(event)
        if event.type == "done":
            return [self._done(event)]
        if event.type == "needs_input":
            return self._asked(event)
        if event.type == "error":
            self.ended = True
            data = {"job_id": self.job_id, "seq": event.seq, **event.data}
            data.setdefault("message", "the chat failed")
            return [("error", data)]
        if event.type == "resumed":
            # Only a paused job ends `resumed`, and its `needs_input` ended this view already.
            self.ended = True
        return []

    def _queued(self, event: ProgressEvent) -> tuple[str, dict[str, Any]]:
        ahead = {"turns_ahead": int(event.data.get("ahead", 0))}  # this conversation's own
        return ("queued", self._staged(event, "queued", "started", result=ahead))

    def _stage(self, event: ProgressEvent, stage: str) -> list[tuple[str, dict[str, Any]]]:
        if stage == "attempt":  # a re-run began: `_restart` said what the client must drop
            return []
        status = "completed" if event.status == "waiting" else (event.status or "started")
        span = PROGRESS.get(stage, LOOKUPS)
        self._advance(span[0] if status == "started" else span[1])
        if event.status == "waiting":
            self._asker = stage
        if stage not in CLIENT_STAGES:
            return []
        if stage == "answer" and status != "started":
            self.completed = True
        if status == "failed":
            reason = event.data.get("error") or event.data.get("status") or "failed"
            return [(stage, self._staged(event, stage, status, message=f"{stage}: {reason}"))]
        result = dict(event.data) if status == "completed" else None
        return [(stage, self._staged(event, stage, status, result=result))]

    def _final_text(self, event: ProgressEvent) -> list[tuple[str, dict[str, Any]]]:
        self._answer = str(event.data.get("text", ""))
        self._sources = list(event.data.get("sources") or [])
        self.completed = True
        if self._answer == self.text:
            return []
        self.text = self._answer
        return [("token_recovery", self._snapshot(event.seq))]

    def _done(self, event: ProgressEvent) -> tuple[str, dict[str, Any]]:
        self.ended = True
        intents = [str(i) for i in event.data.get("intents") or []]
        result = {
            "intent": intents[0] if intents else "general",
            "intents": intents,
            "answer": self._answer,  # None when the stream no longer holds it: see `_filled`
            "sources": self._sources,
            "model": event.data.get("model"),
            "provider": event.data.get("provider"),
            "grade": event.data.get("grade"),
            "usage": event.data.get("usage"),
            "persistence": event.data.get("persistence"),
        }
        data = self._staged(event, "done", "completed", result=result, progress=100)
        if event.data.get("failed_stages"):
            data["message"] = "some lookups failed: " + ", ".join(event.data["failed_stages"])
        return ("done", data)

    def _asked(self, event: ProgressEvent) -> list[tuple[str, dict[str, Any]]]:
        self.ended = True
        asked = {k: event.data.get(k) for k in ("field", "question", "options", "expires_at")}
        question = InputRequest.model_validate(
            {k: v for k, v in asked.items() if k != "expires_at"}
        ).said
        result = {
            "intent": self._asker,
            "intents": [self._asker],
            "answer": question,
            "needs_input": asked,
            "persistence": event.data.get("persistence"),
        }
        done = self._staged(
            event,
            "done",
            "completed",
            result=result,
            progress=100,
            message="waiting for an answer: the next message answers it",
        )
        return [("needs_input", asked), ("done", done)]

    def _staged(
        self,
        event: ProgressEvent,
        stage: str,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        message: str | None = None,
        progress: int | None = None,
    ) -> dict[str, Any]:
        if progress is not None:
            self._advance(progress)
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "stage": stage,
            "status": status,
            "seq": event.seq,
            "progress": self._progress,
        }
        if result is not None:
            data["result"] = result
        if message is not None:
            data["message"] = message
        return data

    def _advance(self, progress: int) -> None:
        self._progress = max(self._progress, progress)

    def _snapshot(self, seq: int | None = None) -> dict[str, Any]:
        return {
            "stage": "token_recovery",
            "status": "snapshot",
            "accumulated": self.text,
            "last_seq": self.last_seq if seq is None else seq,
            "completed": self.completed,
        }


def _entry(event_id: str | None) -> str | None:
    """The stream entry an event sits in (its id up to `.k`)."""
    return None if event_id is None else event_id.partition(".")[0]


def _frame_id(entry: str | None, index: int) -> str | None:
    if entry is None:
        return None
    return entry if index == 0 else f"{entry}.{index}"


@dataclass
class Opening:
    """Where a connection starts: the view caught up, the frames it says first, and the
    events still to fold (the rest of the backlog; then the live stream after `after`)."""

    view: ClientView
    first: list[Frame]
    rest: list[ProgressEvent]
    after: str | None


def opening(job_id: str, backlog: list[ProgressEvent], last_event_id: str | None) -> Opening:
    """Resume exactly after the frame `last_event_id` names, or (without one) from the start,
    a late subscriber getting the text so far as one `token_recovery` instead of its tokens.

    An id is valid when it names an entry of the job's stream (and, with `.k`, a further frame
    that entry gave): any entry may anchor a frame (a snapshot, a re-sent `queued`), and an id
    the stream does not hold was never issued: 422 (RequestValidationError)."""
    view = ClientView(job_id)
    after = backlog[-1].id if backlog else None
    if last_event_id is not None:
        at, end, further = _resume_point(last_event_id, backlog)
        for event in backlog[:at]:
            view.feed(event)
        frames = [frame for event in backlog[at:end] for frame in view.feed(event)]
        if further >= max(len(frames), 1):
            raise _never_issued("Last-Event-ID names a frame this stream never sent")
        return Opening(view, frames[further + 1 :], backlog[end:], after)
    # Up to the first event that ends the turn for the client: what a late subscriber missed.
    cut = next(
        (i for i, e in enumerate(backlog) if e.terminal or e.type == "needs_input"), len(backlog)
    )
    missed = [frame for event in backlog[:cut] for frame in view.feed(event)]
    first = [view.recovery()] if view.text else missed
    return Opening(view, first, backlog[cut:], after)


def _resume_point(last_event_id: str, backlog: list[ProgressEvent]) -> tuple[int, int, int]:
    """The backlog's events of the entry the id names ([at, end)) and the frame's place among
    that entry's frames."""
    found = FRAME_ID.match(last_event_id.strip())
    if found is None:
        raise _never_issued("Last-Event-ID is not a frame id of this stream ('<ms>-<n>[.<k>]')")
    entry, further = found.group(1), int(found.group(2) or 0)
    at = next((i for i, e in enumerate(backlog) if _entry(e.id) == entry), None)
    if at is None:
        raise _never_issued("Last-Event-ID names a frame this stream never sent")
    end = next((i for i in range(at, len(backlog)) if _entry(backlog[i].id) != entry), len(backlog))
    return at, end, further


def _never_issued(message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("header", "Last-Event-ID"), "msg": message, "type": "value_error"}]
    )


async def response(
    request: Request, jobs: ChatJobsPort, job_id: str, last_event_id: str | None
) -> EventSourceResponse:
    start = opening(job_id, await jobs.events(job_id), last_event_id)
    heartbeat: float = request.app.state.settings.gateway.heartbeat_seconds
    return EventSourceResponse(
        frames(jobs, start, stop=request.is_disconnected, requeue_every=heartbeat),
        ping=heartbeat,
        ping_message_factory=keepalive,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def keepalive() -> ServerSentEvent:
    """A named keepalive, no id (the client ignores it; proxies see traffic)."""
    return ServerSentEvent(event="keepalive", data=json.dumps({"timestamp": _now()}))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


async def frames(
    jobs: ChatJobsPort,
    start: Opening,
    *,
    stop: Callable[[], Awaitable[bool]] | None = None,
    requeue_every: float = REQUEUE_MAX_SECONDS,
) -> AsyncIterator[ServerSentEvent]:
    """The opening's frames, the backlog's rest, then the live stream until the view ends;
    while the chat is still queued its `queued` frame again every `requeue_every` (≤ 15) s."""
    view = start.view
    for frame in start.first:
        yield await _sse(jobs, view, frame)
    for event in start.rest:
        for frame in view.feed(event):
            yield await _sse(jobs, view, frame)
    if view.ended:
        return
    every = min(requeue_every, REQUEUE_MAX_SECONDS)
    async for frame in _live(jobs, view, start.after, stop, every):
        yield await _sse(jobs, view, frame)


async def _live(
    jobs: ChatJobsPort,
    view: ClientView,
    after: str | None,
    stop: Callable[[], Awaitable[bool]] | None,
    every: float,
) -> AsyncIterator[Frame]:
    followed = jobs.follow(view.job_id, after, stop=stop)
    # One pending read, kept across the queued timer's rounds (cancelling a read midway would
    # close the follower).
    waiting: asyncio.Task[ProgressEvent] | None = None
    try:
        while not view.ended:
            waiting = waiting or asyncio.ensure_future(anext(followed))
            done, _ = await asyncio.wait({waiting}, timeout=every if view.queued else None)
            if not done:  # still queued: say so again, with its place in the queue
                again = view.queued_again(await _place(jobs, view.job_id))
                if again is not None:
                    yield again
                continue
            try:
                event = waiting.result()
            except StopAsyncIteration:
                return  # the reader went away (the follower stopped)
            waiting = None
            for frame in view.feed(event):
                yield frame
    finally:
        if waiting is not None:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await waiting
        closing = getattr(followed, "aclose", None)  # the follower leaves the hub
        if closing is not None:
            await closing()


async def _place(jobs: ChatJobsPort, job_id: str) -> int | None:
    with contextlib.suppress(QueueUnavailable):
        return await jobs.place_in_line(job_id)
    return None


async def _sse(jobs: ChatJobsPort, view: ClientView, frame: Frame) -> ServerSentEvent:
    data = frame.data
    if frame.name == "done" and data["result"].get("answer") is None:
        data = {**data, "result": {**data["result"], "answer": await _answer(jobs, view.job_id)}}
    return ServerSentEvent(data=json.dumps(data, ensure_ascii=False), event=frame.name, id=frame.id)


async def _answer(jobs: ChatJobsPort, job_id: str) -> str:
    """The answer when the stream no longer holds its `answer` event (trimmed): the status's."""
    with contextlib.suppress(QueueUnavailable):
        status = await jobs.status(job_id)
        if status is not None:
            return status.answer
    return ""
