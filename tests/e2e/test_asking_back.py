"""Asking back through the gateway and a real worker: `needs_input`, `waiting_input`, the
answer as POST …/input or as the next message, and a question that expires."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ask
from tests.support.services import Deployment, worker_process
from tests.support.sse import SSEEvent, sse_events

FEES = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "FIXTURE_bulky_waste_fees.csv"
BULKY = {"APP_SERVICES__BULK_WASTE__ENABLED": "true", "APP_SERVICES__BULK_WASTE__PATH": str(FEES)}


@pytest.fixture
def deployment() -> Deployment:
    return Deployment(env=BULKY)


async def until(http: httpx.AsyncClient, url: str, kind: str) -> list[SSEEvent]:
    """The job's events up to and including the first of `kind`."""
    seen: list[SSEEvent] = []
    async for event in sse_events(http, url):
        seen.append(event)
        if event.event == kind:
            return seen
    raise AssertionError(f"the stream ended without {kind}: {[e.event for e in seen]}")


async def collect(http: httpx.AsyncClient, url: str) -> list[SSEEvent]:
    return [event async for event in sse_events(http, url)]


async def test_ask_answer_and_resume_through_the_gateway(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs):
        first = await ask(http, "소파 버리는 비용 얼마야?")
        paused = await asyncio.wait_for(until(http, first["events_url"], "needs_input"), 60)
        waiting = (await http.get(first["result_url"])).json()
        token = first["token"]
        answered = await http.post(
            f"/v1/chat/{first['job_id']}/input?token={token}", json={"value": "마포구"}
        )
        assert answered.status_code == 202, answered.text
        second = answered.json()
        resumed = await asyncio.wait_for(collect(http, second["events_url"]), 60)
        first_events = await asyncio.wait_for(collect(http, first["events_url"]), 30)
        first_status = (await http.get(first["result_url"])).json()
        again = await http.post(
            f"/v1/chat/{first['job_id']}/input?token={token}", json={"value": "강남구"}
        )
    asked = paused[-1].data["data"]
    assert asked["field"] == "district" and "마포구" in asked["options"]
    assert asked["input_url"] == f"/v1/chat/{first['job_id']}/input"
    assert not any(e.event in ("done", "error") for e in paused)
    assert waiting["state"] == "waiting_input" and waiting["terminal"] is None
    assert waiting["needs_input"]["question"] == asked["question"]
    assert second["thread_id"] == first["thread_id"]
    assert [e.event for e in resumed][-2:] == ["answer", "done"]
    assert "11,111원" in resumed[-2].data["data"]["text"]  # 마포구's fee from the fixture
    # The paused job ended once, with `resumed` naming the job that took the answer.
    assert [e.event for e in first_events][-1] == "resumed"
    assert first_events[-1].data["data"]["job_id"] == second["job_id"]
    assert first_status["state"] == "resumed" and first_status["resumed_by"] == second["job_id"]
    assert sum(e.event in ("done", "error", "resumed") for e in first_events) == 1
    assert again.status_code == 409 and again.json()["error"] == "not_waiting_for_input"


async def test_the_next_message_on_the_thread_answers_the_question(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs):
        first = await ask(http, "소파 버리는 비용 얼마야?")
        await asyncio.wait_for(until(http, first["events_url"], "needs_input"), 60)
        reply = await ask(http, "강남구요", thread_id=first["thread_id"])
        answer = await asyncio.wait_for(collect(http, reply["events_url"]), 60)
        first_events = await asyncio.wait_for(collect(http, first["events_url"]), 30)
        later = await ask(http, "매트리스는 얼마야?", thread_id=first["thread_id"])
        remembered = await asyncio.wait_for(collect(http, later["events_url"]), 60)
    assert "33,333원" in answer[-2].data["data"]["text"]  # 강남구's sofa
    assert first_events[-1].event == "resumed"
    assert [e.event for e in remembered][-1] == "done"  # 강남구 remembered: no second question
    assert not any(e.event == "needs_input" for e in remembered)


async def test_an_unanswered_question_expires_and_the_thread_goes_on(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    deployment.env["APP_GRAPH__INPUT_WAIT_SECONDS"] = "1"
    with worker_process(deployment, logs):
        first = await ask(http, "소파 버리는 비용 얼마야?")
        events = await asyncio.wait_for(collect(http, first["events_url"]), 60)
        late = await http.post(
            f"/v1/chat/{first['job_id']}/input?token={first['token']}", json={"value": "마포구"}
        )
        status = (await http.get(first["result_url"])).json()
        nxt = await ask(http, "페트병 어떻게 버려요?", thread_id=first["thread_id"])
        after = await asyncio.wait_for(collect(http, nxt["events_url"]), 60)
    kinds = [e.event for e in events]
    assert kinds[-2:] == ["needs_input", "error"]
    assert events[-1].data["data"]["kind"] == "input_expired"
    assert late.status_code == 410 and late.json()["error"] == "input_expired"
    assert status["state"] == "failed" and status["error"]["kind"] == "input_expired"
    assert [e.event for e in after][-1] == "done"  # the thread's turn was released


async def test_an_answer_for_a_chat_that_is_not_waiting_is_refused(
    http: httpx.AsyncClient, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs):
        job = await ask(http, "페트병 어떻게 버려요?")
        await asyncio.wait_for(collect(http, job["events_url"]), 60)
        refused = await http.post(
            f"/v1/chat/{job['job_id']}/input?token={job['token']}", json={"value": "마포구"}
        )
        forged = await http.post(
            f"/v1/chat/{job['job_id']}/input?token=forged", json={"value": "마포구"}
        )
        blank = await http.post(
            f"/v1/chat/{job['job_id']}/input?token={job['token']}", json={"value": "  "}
        )
    assert refused.status_code == 409 and "ended: done" in refused.json()["message"]
    assert forged.status_code == 403
    assert blank.status_code == 422
