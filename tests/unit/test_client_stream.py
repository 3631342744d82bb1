"""The eco2 client's stream view as a function of a job's events: every resume point gives the
rest of the frames exactly, a re-run restarts the text, a late subscriber gets a snapshot."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError

from app.domain.events import ProgressEvent
from app.entrypoints.gateway.client_stream import ClientView, Frame, opening

JOB = "a" * 32


def stream(*updates: tuple[str, dict[str, Any]]) -> list[ProgressEvent]:
    events = []
    for seq, (kind, fields) in enumerate(updates, start=1):
        events.append(
            ProgressEvent(seq=seq, job_id=JOB, id=f"1000-{seq}", type=kind, **fields)  # type: ignore[arg-type]
        )
    return events


def stage(name: str, status: str, **data: Any) -> tuple[str, dict[str, Any]]:
    return "stage", {"stage": name, "status": status, "data": data}


def delta(text: str, attempt: int = 1) -> tuple[str, dict[str, Any]]:
    return "delta", {"stage": "answer", "data": {"text": text}, "attempt": attempt}


TURN = stream(
    ("queued", {"data": {"ahead": 0}}),
    stage("intent", "started"),
    stage("intent", "completed", intents=["waste"]),
    stage("router", "started"),
    stage("router", "completed"),
    stage("waste_rag", "started"),
    stage("waste_rag", "completed"),
    stage("answer", "started"),
    delta("페트병은 "),
    delta("라벨을 떼고 "),
    delta("버리세요."),
    stage("answer", "completed"),
    ("answer", {"data": {"text": "페트병은 라벨을 떼고 버리세요.", "sources": []}}),
    ("done", {"data": {"intents": ["waste"], "model": "offline", "persistence": {"x": 1}}}),
)


def all_frames(events: list[ProgressEvent]) -> list[Frame]:
    view = ClientView(JOB)
    return [frame for event in events for frame in view.feed(event)]


def test_a_turn_in_the_client_s_names() -> None:
    frames = all_frames(TURN)
    names = [f.name for f in frames]
    assert names[0] == "queued" and names[-1] == "done" and "router" not in names
    progress = [f.data["progress"] for f in frames if "progress" in f.data]
    assert progress == sorted(progress) and progress[-1] == 100
    assert frames[-1].data["result"]["answer"] == "페트병은 라벨을 떼고 버리세요."
    assert frames[-1].data["result"]["intent"] == "waste"


@pytest.mark.parametrize("cut", range(len(TURN)))
def test_every_frame_id_resumes_exactly_after_itself(cut: int) -> None:
    frames = all_frames(TURN)
    backlog = TURN[: cut + 1]  # what the stream held when the client came back
    for i, frame in enumerate(frames):
        if str(frame.id).split(".")[0] not in _ids(backlog):
            continue  # not issued yet at that point
        start = opening(JOB, backlog, frame.id)
        rest = start.first + [f for e in start.rest for f in start.view.feed(e)]
        # What the live stream would add after the backlog:
        rest += [f for e in TURN[cut + 1 :] for f in start.view.feed(e)]
        assert rest == frames[i + 1 :]


def batched(events: list[ProgressEvent], sizes: list[int]) -> list[ProgressEvent]:
    """The same events as the publisher's batches write them: `sizes` events per entry, the
    k-th further event of entry E with the id `E.k` (lua/publish.lua)."""
    out, at = [], 0
    for n, size in enumerate(sizes):
        entry = f"2000-{n}"
        for k, event in enumerate(events[at : at + size]):
            out.append(event.model_copy(update={"id": entry if k == 0 else f"{entry}.{k}"}))
        at += size
    assert at == len(events)
    return out


BATCHED = batched(TURN, [1, 4, 4, 4, 1])


@pytest.mark.parametrize("entries", range(1, 6))
def test_frames_of_a_batch_entry_are_numbered_in_it_and_each_resumes_exactly(
    entries: int,
) -> None:
    """A frame id is its entry's id and its place among that entry's frames, whatever event
    gave it; the client sees the same frames as for one event per entry."""
    frames = all_frames(BATCHED)
    assert [(f.name, f.data) for f in frames] == [(f.name, f.data) for f in all_frames(TURN)]
    ids = [f.id for f in frames]
    assert len(set(ids)) == len(ids) and "2000-1.1" in ids and "2000-4.1" not in ids
    held = {f"2000-{n}" for n in range(entries)}  # the stream holds whole entries
    backlog = [e for e in BATCHED if str(e.id).split(".")[0] in held]
    for i, frame in enumerate(frames):
        if str(frame.id).split(".")[0] not in held:
            continue
        start = opening(JOB, backlog, frame.id)
        rest = start.first + [f for e in start.rest for f in start.view.feed(e)]
        rest += [f for e in BATCHED[len(backlog) :] for f in start.view.feed(e)]
        assert rest == frames[i + 1 :], frame.id
    with pytest.raises(RequestValidationError):
        opening(JOB, BATCHED, "2000-1.9")  # entry 1 gave fewer frames


def _ids(events: list[ProgressEvent]) -> set[str]:
    return {str(e.id) for e in events}


def test_a_late_subscriber_gets_the_text_so_far_once() -> None:
    start = opening(JOB, TURN[:10], None)  # two tokens out
    assert [f.name for f in start.first] == ["token_recovery"]
    snapshot = start.first[0].data
    assert snapshot["accumulated"] == "페트병은 라벨을 떼고 " and snapshot["completed"] is False
    later = [f for e in TURN[10:] for f in start.view.feed(e)]
    assert later[0].name == "token" and later[-1].name == "done"
    assert later[0].data["seq"] > snapshot["last_seq"]


def test_a_re_run_restarts_the_text() -> None:
    rerun = stream(
        ("queued", {}),
        stage("answer", "started"),
        delta("반쯤 "),
        ("stage", {"stage": "attempt", "status": "started", "attempt": 2}),
        ("stage", {"stage": "answer", "status": "started", "attempt": 2}),
        delta("새 답", attempt=2),
    )
    frames = all_frames(rerun)
    assert [f.name for f in frames] == [
        "queued",
        "answer",
        "token",
        "token_recovery",
        "answer",
        "token",
    ]
    assert frames[3].data["accumulated"] == "" and frames[3].id == "1000-4"


def test_a_question_back_is_needs_input_then_done_and_nothing_after() -> None:
    asked = stream(
        ("queued", {}),
        stage("bulk_waste", "started"),
        stage("bulk_waste", "waiting"),
        ("needs_input", {"data": {"field": "district", "question": "어느 구?",
                                   "options": ["마포구"], "expires_at": 1.0,
                                   "persistence": {"x": 1}}}),
        ("resumed", {"data": {"job_id": "b" * 32}}),
    )  # fmt: skip
    frames = all_frames(asked)
    assert [f.name for f in frames][-2:] == ["needs_input", "done"]
    assert [f.id for f in frames][-2:] == ["1000-4", "1000-4.1"]
    done = frames[-1].data["result"]
    assert done["answer"] == "어느 구?\n(마포구)" and done["intent"] == "bulk_waste"
    assert opening(JOB, asked, "1000-4.1").first == []
    with pytest.raises(RequestValidationError):
        opening(JOB, asked, "1000-4.2")
    with pytest.raises(RequestValidationError):
        opening(JOB, asked, "1000-9")
