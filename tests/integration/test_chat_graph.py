"""The chat graph with the offline LLM and fake tool ports, swapped in through the container."""

from __future__ import annotations

from typing import Any

from app.application.chat import built_in
from app.application.ports.llm import ProviderUnavailable
from app.containers_core import resolve
from app.domain.chat import ChatRequest, Intent, IntentClassification, IntentScore, Location
from app.domain.llm import Role
from app.domain.tools import CollectionPoint, VisionResult, WeatherReport
from app.domain.waste import WasteCategory
from app.infrastructure.orchestration.langgraph.graph import GraphOptions, create_chat_graph
from tests.fakes import (
    FakeCollectionPoints,
    FakeLLM,
    FakeRetriever,
    FakeVision,
    FakeWeather,
    FakeWebSearch,
)
from tests.support.graph_kit import ITEMS, PET, chat_kit

GANGNAM = Location(latitude=37.4979, longitude=127.0276, address="강남역")
RAIN = WeatherReport(
    summary="비 예보 (rain tonight)",
    temperature_c=12,
    precipitation_probability=80,
    source="test-weather",
)
BINS = [
    CollectionPoint(
        name="역삼1동 주민센터 폐건전지함",
        kind="battery",
        address="서울 강남구 역삼동",
        distance_m=450,
    )
]


def ask(message: str, thread: str = "t1", **extra: object) -> ChatRequest:
    return ChatRequest(message=message, thread_id=thread, **extra)  # type: ignore[arg-type]


async def test_korean_question_is_answered_from_the_knowledge_base() -> None:
    async with chat_kit() as (chat, _, _c):
        result = await chat.run(ask("페트병 어떻게 버려요?"), job_id="j1")
    assert result.intents == [Intent.WASTE]
    assert result.provider == "offline" and not result.answer.startswith("[")
    for step in ("헹굽니다", "라벨", "뚜껑"):
        assert step in result.answer
    assert result.sources[0].title == "투명 페트병"


async def test_the_answer_node_hands_the_lookups_to_the_model_as_blocks() -> None:
    waste = IntentScore(intent=Intent.WASTE, confidence=0.9, query="페트병 어떻게 버려요?")
    llm = FakeLLM(["답"], structured={IntentClassification: IntentClassification(intents=[waste])})
    async with chat_kit(llm=llm) as (chat, _, _c):
        await chat.run(ask("페트병 어떻게 버려요?"))
    (block,) = llm.contexts[-1]
    assert (block.slot, block.kind, block.query, block.language) == (
        "waste_rag",
        "waste_rag",
        "페트병 어떻게 버려요?",
        "ko",
    )
    assert block.entries[0].steps == PET.steps_ko  # the steps, apart from mistakes and notes
    assert "###" not in llm.prompts[-1][0].content  # presenting them is the provider's business


async def test_compound_question_answers_both_items() -> None:
    async with chat_kit() as (chat, notifier, _):
        result = await chat.run(ask("건전지랑 페트병은 어떻게 버려?"), job_id="j1")
    stages = [
        e.data.get("slot")
        for e in notifier.events["j1"]
        if e.type == "stage" and e.status == "completed" and e.stage == "waste_rag"
    ]
    assert sorted(stages) == ["waste_rag", "waste_rag#2"]
    assert "폐건전지 수거함" in result.answer and "라벨을 떼어" in result.answer


async def test_independent_nodes_run_concurrently() -> None:
    weather = FakeWeather(RAIN, latency=0.3)
    bins = FakeCollectionPoints(BINS, latency=0.3)
    async with chat_kit(weather_client=weather, collection_point_client=bins) as (chat, _, _c):
        result = await chat.run(
            ask("where can I throw away batteries near Gangnam station, and will it rain tonight?")
        )
    assert weather.calls and bins.calls
    # Concurrent, however busy the machine: each lookup was entered before the other left.
    (w_in, w_out), (b_in, b_out) = weather.windows[-1], bins.windows[-1]
    assert w_in < b_out and b_in < w_out, "the two lookups ran one after the other"
    assert "폐건전지함" in result.answer and "80%" in result.answer
    assert {Intent.COLLECTION_POINT, Intent.WEATHER} <= set(result.intents)


async def test_a_failing_service_degrades_and_the_answer_says_so() -> None:
    weather = FakeWeather(RAIN, error=ProviderUnavailable("down", provider="kma", status=503))
    async with chat_kit(weather_client=weather) as (chat, notifier, _):
        result = await chat.run(ask("오늘 밤 비 와? 그리고 페트병 어떻게 버려?"), job_id="j1")
    assert "날씨 정보를 지금 가져오지 못했습니다" in result.answer
    assert "라벨" in result.answer
    assert result.failed_stages == ["weather"]
    failed = [e for e in notifier.events["j1"] if e.status == "failed"]
    assert [e.stage for e in failed] == ["weather"]
    assert notifier.events["j1"][-1].type == "done"


async def test_progress_events_are_ordered_with_one_terminal_event() -> None:
    async with chat_kit() as (chat, notifier, _):
        result = await chat.run(ask("우산 어떻게 버려요?"), job_id="j9")
    events = notifier.events["j9"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert (events[0].stage, events[0].status) == ("intent", "started")
    stages = [(e.stage, e.status) for e in events if e.type == "stage"]
    assert stages.index(("intent", "completed")) < stages.index(("router", "started"))
    assert stages.index(("waste_rag", "completed")) < stages.index(("answer", "started"))
    deltas = "".join(e.data["text"] for e in events if e.type == "delta")
    assert deltas == result.answer
    terminal = [e for e in events if e.type in ("done", "error")]
    assert len(terminal) == 1 and events[-1].type == "done"
    assert events[-2].type == "answer" and events[-2].data["text"] == result.answer


async def test_a_failing_graph_ends_with_one_error_event() -> None:
    async with chat_kit(retriever=FakeRetriever(ITEMS)) as (chat, notifier, container):
        llm = await resolve(container.chat.llm)
        llm._responders.clear()  # structured output now synthesised from the schema
        llm_error = RuntimeError("model exploded")

        async def explode(*args: object, **kwargs: object) -> None:
            raise llm_error

        llm.generate_structured = explode  # type: ignore[method-assign]
        try:
            await chat.run(ask("페트병"), job_id="jx")
        except RuntimeError as exc:
            assert exc is llm_error
    events = notifier.events["jx"]
    assert events[-1].type == "error" and events[-1].data["kind"] == "internal"
    assert "exploded" not in str(events[-1].data)  # our message, never the failure's text
    assert sum(e.type in ("done", "error") for e in events) == 1


async def test_follow_up_stays_on_the_same_thread_and_intent() -> None:
    async with chat_kit() as (chat, _, container):
        first = await chat.run(ask("페트병 어떻게 버려요?", thread="memory"))
        second = await chat.run(ask("뚜껑은요?", thread="memory"))
        graph = await resolve(container.chat.graph)
        state = (await graph.aget_state({"configurable": {"thread_id": "memory"}})).values
    assert first.intents == [Intent.WASTE] and second.intents == [Intent.WASTE]
    assert "페트병에 닫아서" in second.answer
    roles = [m.role for m in state["history"]]
    assert roles == [Role.USER, Role.ASSISTANT, Role.USER, Role.ASSISTANT]
    assert state["recent_intents"] == [Intent.WASTE, Intent.WASTE]


async def test_vision_runs_only_with_an_image() -> None:
    vision = FakeVision(
        VisionResult(item_name="페트병", category=WasteCategory.PET, confidence=0.9)
    )
    async with chat_kit(vision_model=vision) as (chat, notifier, _):
        await chat.run(ask("우산 어떻게 버려요?"), job_id="a")
        assert vision.calls == []
        result = await chat.run(
            ask("이거 어떻게 버려요?", image_url="https://img.test/x.jpg"), job_id="b"
        )
    assert vision.calls == [("https://img.test/x.jpg", "이거 어떻게 버려요?")]
    assert "vision" in [e.stage for e in notifier.events["b"]]
    assert "vision" not in [e.stage for e in notifier.events["a"]]
    assert "라벨" in result.answer  # the photo's item was looked up in the knowledge base


async def test_low_confidence_general_question_gets_web_search() -> None:
    search = FakeWebSearch([])
    async with chat_kit(web_search_client=search) as (chat, _, _c):
        await chat.run(ask("요즘 분리배출 정책 뉴스 알려줘"), job_id="n")
    assert search.calls


def test_topology_follows_the_ports() -> None:
    minimal = create_chat_graph(llm=object(), retriever=FakeRetriever(ITEMS))  # type: ignore[arg-type]
    assert set(minimal.get_graph().nodes) == {
        "__start__",
        "intent",
        "router",
        "waste_rag",
        "general",
        "answer",
        "grade",
        "__end__",
    }
    llm: Any = object()
    full = create_chat_graph(
        llm=llm,
        retriever=FakeRetriever(ITEMS),
        tools=[
            built_in.WEATHER.over(llm, FakeWeather(RAIN)),
            built_in.COLLECTION_POINT.over(llm, FakeCollectionPoints(BINS)),
            built_in.WEB_SEARCH.over(llm, FakeWebSearch([])),
            built_in.LOCATION.over(llm, None),  # registered, switched off: no node
        ],
        options=GraphOptions(vision=FakeVision(VisionResult(item_name="x")), summarization=True),
    )
    assert {"vision", "weather", "collection_point", "web_search", "summarize"} <= set(
        full.get_graph().nodes
    )
    assert "location" not in full.get_graph().nodes
