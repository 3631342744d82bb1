"""Each tool node with its fake port: arguments from function calling, text in the answer."""

from __future__ import annotations

import re

from app.application.chat.answer import SUMMARY_TRIGGER_TOKENS
from app.application.ports.llm import ProviderTimeout
from app.containers_core import resolve
from app.domain.chat import ChatRequest, Intent, Location
from app.domain.tools import BulkWasteInfo, Character, Place, PriceQuote, SearchResult
from app.domain.waste import WasteCategory
from tests.fakes import (
    FakeBulkWaste,
    FakeCharacters,
    FakeImages,
    FakeLocations,
    FakePrices,
    FakeWebSearch,
)
from tests.support.graph_kit import chat_kit

CENTRE = Place(
    name="강남구 재활용센터",
    address="서울 강남구 자곡동",
    distance_m=1200,
    location=Location(latitude=37.47, longitude=127.1),
)
SOFA = BulkWasteInfo(
    item="소파",
    district="마포구",
    size="3인용",
    fee_won=None,
    how_to="구청 누리집에서 대형폐기물 배출 신고 후 스티커를 붙여 배출",
    source="fixture: not real fees",
)
QUOTE = PriceQuote(
    material="고철",
    region="서울",
    won_per_kg=350,
    surveyed="fixture 2026-10",
    source="fixture survey",
)
PETRI = Character(
    name="페트리", category=WasteCategory.PET, description="투명 페트병을 지키는 요정"
)


def ask(message: str, thread: str = "tools") -> ChatRequest:
    return ChatRequest(message=message, thread_id=thread)


async def test_location_node_searches_the_map() -> None:
    places = FakeLocations([CENTRE])
    async with chat_kit(location_client=places) as (chat, _, _c):
        result = await chat.run(ask("근처 재활용센터 어디 있어?"))
    assert places.calls[0][0] == "근처 재활용센터 어디 있어"  # offline: the sub-question itself
    assert "강남구 재활용센터" in result.answer and "1200 m" in result.answer
    assert Intent.LOCATION in result.intents


async def test_bulk_waste_node_reports_rules_without_inventing_fees() -> None:
    bulk = FakeBulkWaste([SOFA])
    async with chat_kit(bulk_waste_client=bulk) as (chat, _, _c):
        result = await chat.run(ask("마포구 소파 버리는 수수료 얼마야?"))
    assert bulk.calls and "스티커" in result.answer
    assert not re.search(r"\d\s*원", result.answer)  # the source gave no fee; none is made up


async def test_price_node() -> None:
    prices = FakePrices([QUOTE])
    async with chat_kit(recyclable_price_client=prices) as (chat, _, _c):
        result = await chat.run(ask("고철 시세 얼마야?"))
    assert "350원/kg" in result.answer


async def test_web_search_results_become_sources() -> None:
    search = FakeWebSearch(
        [
            SearchResult(
                title="환경부 보도자료",
                url="https://me.go.kr/x",
                snippet="투명 페트병 별도 배출 확대",
            )
        ]
    )
    async with chat_kit(web_search_client=search) as (chat, _, _c):
        result = await chat.run(ask("최신 분리배출 뉴스 검색해줘"))
    assert any(s.url == "https://me.go.kr/x" for s in result.sources)
    assert "보도자료" in result.answer


async def test_image_generation_node() -> None:
    images = FakeImages()
    async with chat_kit(image_generator=images) as (chat, _, _c):
        result = await chat.run(ask("분리수거 하는 고양이 그려줘"))
    assert images.calls and "https://images.test/1.png" in result.answer


async def test_character_node_finds_a_named_character() -> None:
    characters = FakeCharacters([PETRI])
    async with chat_kit(character_client=characters) as (chat, _, _c):
        result = await chat.run(ask("페트리는 누구야?"))
    assert Intent.CHARACTER in result.intents
    assert "투명 페트병을 지키는 요정" in result.answer


async def test_a_slow_service_times_out_into_a_note() -> None:
    places = FakeLocations([CENTRE], error=ProviderTimeout("slow", provider="kakao"))
    async with chat_kit(location_client=places) as (chat, _, _c):
        result = await chat.run(ask("근처 재활용센터 어디 있어?"))
    assert "지도 검색 정보를 지금 가져오지 못했습니다" in result.answer


async def test_an_absent_service_is_named_not_faked() -> None:
    async with chat_kit() as (chat, _, _c):
        result = await chat.run(ask("고철 시세 얼마야?"))
    assert "재활용품 시세는 여기서 바로 찾아볼 수 없어" in result.answer


async def test_long_threads_are_summarised() -> None:
    long_question = "페트병 " + "아주 " * (SUMMARY_TRIGGER_TOKENS // 4)
    async with chat_kit(graph={"enable_summarization": True}) as (chat, notifier, container):
        for turn in range(3):
            await chat.run(ask(f"{long_question} {turn}", thread="long"), job_id=f"j{turn}")
        graph = await resolve(container.chat.graph)
        state = (await graph.aget_state({"configurable": {"thread_id": "long"}})).values
    assert state["summary"]
    assert len(state["history"]) == 4
    assert any(e.stage == "summarize" for e in notifier.events["j2"])
