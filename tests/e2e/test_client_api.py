"""The eco2 client's contract (../shared/CLIENT_API.md) through the gateway and a real worker,
with a client that behaves as the web client does in a browser (tests/support/eco2_client.py):
conversations, a turn's stream with the client's event names, resume, guests, CORS, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import serve_gateway
from tests.e2e.test_access import keys_cli
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.eco2_client import (
    PAGE_ORIGIN,
    Browser,
    CorsRefused,
    EventSource,
    Frame,
    StreamRefused,
    read_all,
)
from tests.support.openai_wire import OpenAIWire, openai_env
from tests.support.services import Deployment, worker_process
from tests.support.wire_script import Script

CLIENT_STAGES = {
    "queued", "intent", "vision", "waste_rag", "character", "location", "bulk_waste", "weather",
    "collection_point", "recyclable_price", "web_search", "image_generation", "general",
    "aggregator", "summarize", "answer",
}  # fmt: skip
OTHER = "http://evil.example:8080"
FEES = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "FIXTURE_bulky_waste_fees.csv"
BULKY = {"APP_SERVICES__BULK_WASTE__ENABLED": "true", "APP_SERVICES__BULK_WASTE__PATH": str(FEES)}
CORS = {"cors_origins": [PAGE_ORIGIN]}


@pytest.fixture
def gateway(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    with serve_gateway(deployment, monkeypatch, gateway=CORS) as server:
        yield server


async def new_chat(browser: Browser) -> str:
    created = await browser.request("POST", "/api/v1/chat")  # no body, no Content-Type
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def send(browser: Browser, chat_id: str, message: str) -> dict[str, Any]:
    sent = await browser.request(
        "POST", f"/api/v1/chat/{chat_id}/messages", json_body={"message": message}
    )
    assert sent.status_code in (200, 202), sent.text
    return dict(sent.json())


# Only tells a hung stream from a slow one (a chat takes seconds; a busy machine makes it more).
TURN_SECONDS = 300


async def whole_turn(browser: Browser, job_id: str) -> list[Frame]:
    source = browser.event_source(f"/api/v1/chat/{job_id}/events")
    return await asyncio.wait_for(read_all(source), TURN_SECONDS)


def derived(frames: list[Frame]) -> list[Frame]:
    """The frames the stream's entries give, less the `queued` a connection repeats on its own
    timer while it hears nothing (under load, also after the chat has started): those depend
    on when a connection waited, not on the stream, and carry the id of the frame before."""
    kept: list[Frame] = []
    for frame in frames:
        repeated = kept and (kept[-1].event, kept[-1].id) == ("queued", frame.id)
        if not (frame.event == "queued" and repeated):
            kept.append(frame)
    return kept


def assert_well_formed(frames: list[Frame], job_id: str) -> None:
    """Every frame as the contract words it."""
    progress = -1
    for frame in frames:
        assert frame.id, frame  # every frame but a keepalive has an id
        if frame.event in CLIENT_STAGES:
            data = frame.data
            assert data["job_id"] == job_id and data["stage"] == frame.event
            assert data["status"] in ("started", "completed", "failed")
            assert 0 <= data["progress"] <= 100 and data["progress"] >= progress
            progress = data["progress"]
        elif frame.event == "token":
            assert set(frame.data) == {"content", "seq", "node"} and frame.data["node"] == "answer"
        else:
            assert frame.event in ("token_recovery", "needs_input", "done", "error"), frame
    assert frames[-1].event in ("done", "error")


async def test_a_conversation_from_create_to_delete(
    gateway: RunningServer, deployment: Deployment, logs: Path
) -> None:
    async with Browser(gateway.url) as browser:
        with worker_process(deployment, logs):
            chat_id = await new_chat(browser)
            assert browser.cookies.get("eco2_guest")  # the guest's identity, set on first contact
            queued = await send(browser, chat_id, "건전지랑 페트병은 어떻게 버려?")
            frames = await whole_turn(browser, queued["job_id"])
        detail = (await browser.request("GET", f"/api/v1/chat/{chat_id}")).json()
        renamed = await browser.request(
            "PATCH", f"/api/v1/chat/{chat_id}", json_body={"title": "분리배출"}
        )
        listed = (await browser.request("GET", "/api/v1/chat", params={"limit": 20})).json()
        deleted = await browser.request("DELETE", f"/api/v1/chat/{chat_id}")
        gone = await browser.request("GET", f"/api/v1/chat/{chat_id}")
        twice = await browser.request("DELETE", f"/api/v1/chat/{chat_id}")
        after = await browser.request(
            "POST", f"/api/v1/chat/{chat_id}/messages", json_body={"message": "또?"}
        )
        empty = (await browser.request("GET", "/api/v1/chat")).json()
    job_id = queued["job_id"]
    assert queued["stream_url"] == f"/api/v1/chat/{job_id}/events"
    assert queued["status"] == "queued"
    assert_well_formed(frames, job_id)
    names = [f.event for f in frames]
    assert names[0] == "queued" and names[-1] == "done"
    assert {"intent", "answer", "token"} <= set(names)
    assert set(names) <= CLIENT_STAGES | {"token", "done"}  # no `router`, no `attempt`
    done = frames[-1].data
    assert done["stage"] == "done" and done["status"] == "completed" and done["progress"] == 100
    tokens = "".join(f.data["content"] for f in frames if f.event == "token")
    assert tokens == done["result"]["answer"] and "폐건전지" in tokens
    assert done["result"]["intent"] in {"waste", "collection_point"}
    persisted = done["result"]["persistence"]
    assert persisted["conversation_id"] == chat_id
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert [m["id"] for m in detail["messages"]] == [
        persisted["user_message"],
        persisted["assistant_message"],
    ]
    assert detail["messages"][1]["content"] == tokens
    assert renamed.status_code == 204
    assert listed["chats"][0]["id"] == chat_id and listed["chats"][0]["title"] == "분리배출"
    assert listed["chats"][0]["message_count"] == 2
    assert deleted.status_code == 204 and gone.status_code == 404 and twice.status_code == 404
    assert after.status_code == 404 and empty["chats"] == []


@pytest.fixture
def slow_llm() -> Iterator[RunningServer]:
    """An OpenAI-compatible model whose answer comes a few characters at a time, slowly."""
    script = Script(chunk_delay=0.15, reply_text="천천히 쓰는 답입니다. " * 6)
    with serve_in_thread(OpenAIWire(script)) as server:
        yield server


def on_slow_llm(deployment: Deployment, server: RunningServer) -> None:
    deployment.env.update(
        {
            **openai_env(server.url),
        }
    )


async def until_tokens(source: EventSource, count: int) -> list[Frame]:
    """One connection's frames up to the `count`-th token; then the connection drops."""
    seen: list[Frame] = []
    async for frame in source.frames():
        if frame.event == "keepalive":
            continue
        seen.append(frame)
        if sum(f.event == "token" for f in seen) >= count or frame.event in ("done", "error"):
            break
    return seen


async def test_a_reconnect_resumes_exactly_and_a_late_subscriber_gets_the_text_so_far(
    gateway: RunningServer, deployment: Deployment, logs: Path, slow_llm: RunningServer
) -> None:
    on_slow_llm(deployment, slow_llm)
    async with Browser(gateway.url) as browser:
        with worker_process(deployment, logs):
            chat_id = await new_chat(browser)
            job_id = (await send(browser, chat_id, "답을 천천히 써 주세요"))["job_id"]
            url = f"/api/v1/chat/{job_id}/events"
            whole = asyncio.create_task(read_all(browser.event_source(url)))
            dropping = browser.event_source(url)
            before = await asyncio.wait_for(until_tokens(dropping, 3), TURN_SECONDS)
            late = browser.event_source(url)  # a new tab: no Last-Event-ID
            late_frames = await asyncio.wait_for(read_all(late), TURN_SECONDS)
            # Sends Last-Event-ID; then once more after the terminal frame (it ends at once).
            resumed = await asyncio.wait_for(read_all(dropping), TURN_SECONDS)
            reference = await asyncio.wait_for(whole, TURN_SECONDS)
            again = await asyncio.wait_for(read_all(dropping), TURN_SECONDS)
    assert_well_formed(reference, job_id)
    # Dropped and resumed: exactly the uninterrupted connection's frames, ids and all.
    assert dropping.connections == 3
    assert [(f.event, f.id, f.data) for f in derived(before + resumed)] == [
        (f.event, f.id, f.data) for f in derived(reference)
    ]
    assert again == []
    # Late: the text so far first, then the rest of the tokens, none repeated.
    recovery = late_frames[0]
    assert recovery.event == "token_recovery", [f.event for f in late_frames]
    assert recovery.data["stage"] == "token_recovery" and recovery.data["status"] == "snapshot"
    assert recovery.data["accumulated"]  # it came after three tokens were out
    later = [f for f in late_frames if f.event == "token"]
    assert all(f.data["seq"] > recovery.data["last_seq"] for f in later)
    answer = reference[-1].data["result"]["answer"]
    assert recovery.data["accumulated"] + "".join(f.data["content"] for f in later) == answer
    assert late_frames[-1].event == "done" and late_frames[-1].data == reference[-1].data


async def test_a_last_event_id_the_stream_never_issued_is_422(
    gateway: RunningServer, deployment: Deployment, logs: Path
) -> None:
    async with Browser(gateway.url) as browser:
        with worker_process(deployment, logs):
            chat_id = await new_chat(browser)
            job_id = (await send(browser, chat_id, "페트병 어떻게 버려요?"))["job_id"]
            url = f"/api/v1/chat/{job_id}/events"
            frames = derived(await whole_turn(browser, job_id))
            refused = {}
            for bad in ("1-1", "99999999999999-0", "garbage", f"{frames[0].id}.5"):
                source = browser.event_source(url)
                source.last_event_id = bad
                with pytest.raises(StreamRefused) as caught:
                    await read_all(source)
                refused[bad] = caught.value.status
            resumed_at: dict[str, list[str]] = {}
            for frame in frames:
                source = browser.event_source(url)
                source.last_event_id = str(frame.id)
                resumed_at[str(frame.id)] = [f.event for f in derived(await read_all(source))]
    assert set(refused.values()) == {422}
    names = [f.event for f in frames]
    for i, frame in enumerate(frames):  # every frame id resumes exactly after itself
        assert resumed_at[str(frame.id)] == names[i + 1 :]


async def test_a_question_back_ends_the_turn_as_done_and_the_next_message_answers_it(
    gateway: RunningServer, deployment: Deployment, logs: Path
) -> None:
    deployment.env.update(BULKY)
    async with Browser(gateway.url) as browser:
        with worker_process(deployment, logs):
            chat_id = await new_chat(browser)
            first = (await send(browser, chat_id, "소파 버리는 비용 얼마야?"))["job_id"]
            asked = await whole_turn(browser, first)
            second = (await send(browser, chat_id, "마포구"))["job_id"]
            answered = await whole_turn(browser, second)
            first_again = await whole_turn(browser, first)  # after the paused job ended
            resumed_between = browser.event_source(f"/api/v1/chat/{first}/events")
            resumed_between.last_event_id = str(asked[-2].id)  # after needs_input, before done
            between = await read_all(resumed_between)
        detail = (await browser.request("GET", f"/api/v1/chat/{chat_id}")).json()
    assert [f.event for f in asked][-2:] == ["needs_input", "done"]
    question, done = asked[-2].data, asked[-1].data
    assert question["field"] == "district" and "마포구" in question["options"]
    assert set(question) == {"field", "question", "options", "expires_at"}
    assert done["result"]["answer"].startswith(question["question"])
    assert "마포구" in done["result"]["answer"]  # the options are in the answer's text
    assert done["result"]["persistence"]["conversation_id"] == chat_id
    assert asked[-2].id != asked[-1].id
    assert [f.event for f in between] == ["done"] and between[0].data == done
    assert "resumed" not in [f.event for f in first_again]
    assert [f.event for f in first_again][-2:] == ["needs_input", "done"]
    assert "11,111원" in answered[-1].data["result"]["answer"]
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "user", "assistant"]
    assert detail["messages"][1]["content"] == done["result"]["answer"]


async def test_two_guest_browsers_never_see_each_other(
    gateway: RunningServer, deployment: Deployment, logs: Path
) -> None:
    async with Browser(gateway.url) as alice, Browser(gateway.url) as bob:
        with worker_process(deployment, logs):
            chat_id = await new_chat(alice)
            job_id = (await send(alice, chat_id, "캔 어떻게 버려요?"))["job_id"]
            await whole_turn(alice, job_id)
            await new_chat(bob)
            seen = {
                "detail": await bob.request("GET", f"/api/v1/chat/{chat_id}"),
                "rename": await bob.request(
                    "PATCH", f"/api/v1/chat/{chat_id}", json_body={"title": "mine"}
                ),
                "delete": await bob.request("DELETE", f"/api/v1/chat/{chat_id}"),
                "send": await bob.request(
                    "POST", f"/api/v1/chat/{chat_id}/messages", json_body={"message": "hi"}
                ),
            }
            with pytest.raises(StreamRefused) as stream:
                await read_all(bob.event_source(f"/api/v1/chat/{job_id}/events"))
            bobs = (await bob.request("GET", "/api/v1/chat")).json()
            alices = (await alice.request("GET", "/api/v1/chat")).json()
    assert alice.cookies["eco2_guest"] != bob.cookies["eco2_guest"]
    assert {name: r.status_code for name, r in seen.items()} == dict.fromkeys(seen, 404)
    assert stream.value.status == 404
    assert chat_id not in [c["id"] for c in bobs["chats"]] and len(bobs["chats"]) == 1
    assert [c["id"] for c in alices["chats"]] == [chat_id]


async def test_cors_answers_the_named_origin_with_credentials_and_no_other(
    gateway: RunningServer,
) -> None:
    async with Browser(gateway.url) as page, Browser(gateway.url, origin=OTHER) as elsewhere:
        chat_id = await new_chat(page)
        allowed = {
            method: await page.preflight(method, f"/api/v1/chat/{chat_id}", ["content-type"])
            for method in ("POST", "PATCH", "DELETE")
        }
        for method in ("POST", "PATCH", "DELETE"):
            with pytest.raises(CorsRefused):
                await elsewhere.preflight(method, f"/api/v1/chat/{chat_id}", ["content-type"])
        with pytest.raises(CorsRefused):  # a simple request goes out, but the page cannot read it
            await elsewhere.request("GET", "/api/v1/chat")
    for response in allowed.values():
        assert response.headers["access-control-allow-origin"] == PAGE_ORIGIN  # never "*"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "content-type" in response.headers["access-control-allow-headers"].lower()


async def test_bad_input_is_refused_as_the_contract_says(gateway: RunningServer) -> None:
    async with Browser(gateway.url) as browser:
        chat_id = await new_chat(browser)
        path = f"/api/v1/chat/{chat_id}"
        replies = {
            "unknown chat": await browser.request("GET", "/api/v1/chat/no-such-chat"),
            "title too long": await browser.request("PATCH", path, json_body={"title": "x" * 201}),
            "empty title": await browser.request("PATCH", path, json_body={"title": ""}),
            "new chat titled too long": await browser.request(
                "POST", "/api/v1/chat", json_body={"title": "x" * 201}
            ),
            "list cursor": await browser.request("GET", "/api/v1/chat", params={"cursor": "nope"}),
            "history cursor": await browser.request("GET", path, params={"cursor": "nope"}),
            "limit": await browser.request("GET", "/api/v1/chat", params={"limit": 101}),
            "unknown job": await browser.request("GET", f"/api/v1/chat/{'0' * 32}/events"),
        }
    expected = {
        "unknown chat": 404,
        "title too long": 422,
        "empty title": 422,
        "new chat titled too long": 422,
        "list cursor": 422,
        "history cursor": 422,
        "limit": 422,
        "unknown job": 404,
    }
    assert {name: r.status_code for name, r in replies.items()} == expected


async def test_rate_limit_and_queue_cap_behave_as_on_v1(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = {"requests_per_minute": 2, "max_queue_depth": 1}
    gateway = {**CORS, "require_worker": False}
    with serve_gateway(deployment, monkeypatch, limits=limits, gateway=gateway) as server:
        async with Browser(server.url) as browser:
            chat_id = await new_chat(browser)
            message = {"message": "캔?"}
            path = f"/api/v1/chat/{chat_id}/messages"
            first = await browser.request("POST", path, json_body=message)
            other_chat = await new_chat(browser)
            full = await browser.request(
                "POST", f"/api/v1/chat/{other_chat}/messages", json_body=message
            )
            limited = [await browser.request("POST", path, json_body=message) for _ in range(3)]
    assert first.status_code == 202
    assert full.status_code == 503 and full.json()["error"] == "queue_full"
    assert int(full.headers["retry-after"]) >= 1
    refused = [r for r in limited if r.status_code == 429]
    assert refused and refused[0].json()["error"] == "rate_limited"
    assert 1 <= int(refused[0].headers["retry-after"]) <= 60


async def test_without_anonymous_use_the_endpoints_take_an_api_key(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, logs: Path
) -> None:
    deployment.env["APP_AUTH__KEYS_FILE"] = str(tmp_path / "keys.json")
    key = keys_cli("create", "alice", env=deployment.settings_env(), cwd=tmp_path)
    with serve_gateway(deployment, monkeypatch, gateway=CORS) as open_gateway:
        async with Browser(open_gateway.url) as guest:
            await new_chat(guest)  # a guest cookie, signed with the deployment's secret
            cookie = guest.cookies["eco2_guest"]
    with (
        serve_gateway(
            deployment, monkeypatch, auth={"allow_anonymous": False}, gateway=CORS
        ) as gateway,
        worker_process(deployment, logs),
    ):
        async with (
            Browser(gateway.url) as nobody,
            Browser(gateway.url, headers={"Authorization": f"Bearer {key}"}) as keyed,
        ):
            refused = {
                "list": await nobody.request("GET", "/api/v1/chat"),
                "create": await nobody.request("POST", "/api/v1/chat"),
            }
            nobody.cookies.set("eco2_guest", cookie)
            with_cookie = await nobody.request("GET", "/api/v1/chat")
            chat_id = await new_chat(keyed)
            job_id = (await send(keyed, chat_id, "페트병 어떻게 버려요?"))["job_id"]
            frames = await whole_turn(keyed, job_id)
            listed = (await keyed.request("GET", "/api/v1/chat")).json()
            with pytest.raises(StreamRefused) as stream:
                await read_all(nobody.event_source(f"/api/v1/chat/{job_id}/events"))
    assert {name: r.status_code for name, r in refused.items()} == {"list": 401, "create": 401}
    assert "eco2_guest" not in refused["create"].headers.get("set-cookie", "")
    assert with_cookie.status_code == 401
    assert frames[-1].event == "done" and [c["id"] for c in listed["chats"]] == [chat_id]
    assert stream.value.status == 401
