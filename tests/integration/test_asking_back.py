"""Asking back (human in the loop) through the real graph, with the real bulky-waste adapter on
its fixture CSV and the real Kakao collection-point adapter on a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.domain.chat import ChatRequest
from tests.support.asgi_server import serve_in_thread
from tests.support.graph_kit import chat_kit
from tests.support.service_wires import KakaoWire

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"


@pytest.fixture
def services() -> Iterator[dict[str, Any]]:
    kakao = KakaoWire()
    with serve_in_thread(kakao) as server:
        yield {
            "weather": {"enabled": False},
            "bulk_waste": {
                "enabled": True,
                "path": str(FIXTURES / "FIXTURE_bulky_waste_fees.csv"),
                "cache_ttl": 0,
            },
            "kakao": {
                "enabled": True,
                "api_key": kakao.key,
                "base_url": server.url,
                "cache_ttl": 0,
            },
            "collection_points": {"enabled": True},
        }


def turn(message: str, thread: str, **extra: Any) -> ChatRequest:
    return ChatRequest(message=message, thread_id=thread, **extra)


async def test_a_fee_question_without_a_district_asks_then_answers_with_its_fee(
    services: dict[str, Any],
) -> None:
    async with chat_kit(services=services) as (chat, notifier, _c):
        asked = await chat.run(turn("소파 버리는 비용 얼마야?", "hitl-fee"), job_id="a1")
        answered = await chat.run(turn("마포구", "hitl-fee"), job_id="a2")
        again = await chat.run(turn("매트리스는 얼마야?", "hitl-fee"), job_id="a3")
    assert asked.needs_input is not None and asked.needs_input.field == "district"
    assert "마포구" in asked.needs_input.options and asked.answer == ""
    paused = notifier.events["a1"]
    assert [e.type for e in paused][-1] == "needs_input"  # no done, no error
    assert not any(e.type in ("done", "error") for e in paused)
    assert paused[-1].data["question"] and paused[-1].data["expires_at"] > 0
    assert any(e.type == "stage" and e.status == "waiting" for e in paused)
    # The answer resumed the paused turn: the district's fee, in the second job's events.
    assert answered.needs_input is None and "11,111원" in answered.answer
    assert "33,333원" not in answered.answer  # 강남구's fee is not mine
    assert [e.type for e in notifier.events["a2"]][-1] == "done"
    assert all(e.job_id == "a2" for e in notifier.events["a2"])
    resumed = [(e.stage, e.status) for e in notifier.events["a2"] if e.type == "stage"]
    assert ("bulk_waste", "completed") in resumed  # the paused node's events, in the new job
    # The thread remembers the district: the next fee question does not ask again.
    assert again.needs_input is None and "4,444원" in again.answer


async def test_the_nearest_bin_needs_a_where_and_the_answer_is_one(
    services: dict[str, Any],
) -> None:
    async with chat_kit(services=services) as (chat, _n, _c):
        asked = await chat.run(turn("근처 폐건전지 수거함 어디야?", "hitl-bin"))
        # Answered through POST …/input (or `ask --input`): a landmark will do for a bin.
        answered = await chat.run(turn("강남역", "hitl-bin", answers_question=True))
    assert asked.needs_input is not None
    assert "강남역 폐건전지 수거함" in answered.answer


async def test_an_answer_that_is_no_district_asks_again_and_a_new_question_moves_on(
    services: dict[str, Any],
) -> None:
    async with chat_kit(services=services) as (chat, _n, _c):
        await chat.run(turn("소파 버리는 비용 얼마야?", "hitl-bad"))
        unclear = await chat.run(turn("잘 모르겠어요", "hitl-bad", answers_question=True))
        moved_on = await chat.run(turn("페트병 어떻게 버려요?", "hitl-bad"))
        waiting = await chat.waiting_for("hitl-bad")
    assert unclear.needs_input is not None  # asked again, nothing made up
    assert moved_on.needs_input is None and "라벨" in moved_on.answer
    assert waiting is None  # the new turn dropped the question


async def test_a_district_in_the_question_is_not_asked_for(services: dict[str, Any]) -> None:
    async with chat_kit(services=services) as (chat, _n, _c):
        result = await chat.run(turn("강남구 소파 버리는 비용 얼마야?", "hitl-named"))
    assert result.needs_input is None and "33,333원" in result.answer
