"""Routing, intent refinement, the context merge and the lexicon, without a graph."""

from __future__ import annotations

import pytest

from app.application.chat.built_in import BUILT_IN, LEXICON
from app.application.chat.compound import companions
from app.application.chat.intents import make_intent_classifier, refine
from app.application.chat.lexicon import classify_with_lexicon, looks_like_follow_up, sub_queries
from app.application.chat.routing import plan_routes
from app.application.chat.state import (
    RESET,
    ChatState,
    ChatUpdate,
    LookupStatus,
    NodeResult,
    ReplaceHistory,
    extend_history,
    merge_contexts,
)
from app.domain.chat import (
    ChatRequest,
    Intent,
    IntentClassification,
    IntentScore,
    Location,
    Subject,
)
from app.domain.llm import ChatMessage, ContextEntry
from app.infrastructure.redis import ResilientCache
from tests.fakes import FakeCache, FakeLLM

ALL_NODES = {
    "waste_rag",
    "general",
    "weather",
    "collection_point",
    "location",
    "web_search",
    "bulk_waste",
    "character",
    "recyclable_price",
    "image_generation",
}


def scores(*pairs: tuple[Intent, float, str]) -> IntentClassification:
    return IntentClassification(
        intents=[IntentScore(intent=i, confidence=c, query=q) for i, c, q in pairs]
    )


def request(message: str = "q", **extra: object) -> ChatRequest:
    return ChatRequest(message=message, thread_id="t", **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("건전지랑 페트병은 어떻게 버려?", ["건전지 어떻게 버려", "페트병은 어떻게 버려"]),
        (
            "how do I throw away batteries and PET bottles?",
            ["how do I throw away batteries", "how do I throw away PET bottles"],
        ),
        ("오늘 날씨 어때? 그리고 캔 어떻게 버려?", ["오늘 날씨 어때", "캔 어떻게 버려"]),
        ("사과 껍질 어떻게 버려?", ["사과 껍질 어떻게 버려"]),
        ("세탁기와 매트리스 버리는 방법", ["세탁기 버리는 방법", "매트리스 버리는 방법"]),
        ("책과 신문 어떻게 버려", ["책 어떻게 버려", "신문 어떻게 버려"]),
        ("종이랑 캔 어떻게 버려", ["종이 어떻게 버려", "캔 어떻게 버려"]),  # 종이 + 랑
        ("건전지 및 형광등 버리는 곳", ["건전지 버리는 곳", "형광등 버리는 곳"]),
        (
            "택배 상자, 뽁뽁이, 아이스팩은 어디에 버려요?",
            ["택배 상자 어디에 버려요", "뽁뽁이 어디에 버려요", "아이스팩은 어디에 버려요"],
        ),
        ("컵라면 비닐 포장이랑 남은 면", ["컵라면 비닐 포장", "남은 면"]),  # 남은: a modifier
        ("where do batteries and bulbs go?", ["where do batteries go", "where do bulbs go"]),
        (
            "what about a sofa, a desk and a chair",
            ["what about a sofa", "what about a desk", "what about a chair"],
        ),
        # Not lists: two things together, or a topic with its companion
        (
            "우유팩을 신문지랑 같이 종이류로 버려도 돼?",
            ["우유팩을 신문지랑 같이 종이류로 버려도 돼"],
        ),
        ("병은 종이랑 버려?", ["병은 종이랑 버려"]),
        ("can I put glass and cans together?", ["can I put glass and cans together"]),
        ("정리하고 버려도 돼?", ["정리하고 버려도 돼"]),
    ],
)
def test_compound_questions_split_into_sub_queries(message: str, expected: list[str]) -> None:
    assert sub_queries(message) == expected


def test_what_a_question_puts_beside_its_item() -> None:
    assert companions("우유팩을 신문지랑 같이 종이류로 버려도 돼?") == {"신문지"}
    assert companions("페트병이랑 캔 어떻게 버려?") == set()


def test_english_lexicon_words_match_where_a_word_starts() -> None:
    drain = classify_with_lexicon("Can I pour the gel from an ice pack down the drain?", LEXICON)
    assert Intent.WEATHER not in {s.intent for s in drain.intents}  # 'drain' is not 'rain'
    rain = classify_with_lexicon("will it rain tomorrow?", LEXICON)
    assert rain.primary.intent is Intent.WEATHER


def test_lexicon_intents() -> None:
    found = classify_with_lexicon(
        "where can I throw away batteries near Gangnam station, and will it rain tonight?", LEXICON
    )
    assert [s.intent for s in found.intents] == [Intent.COLLECTION_POINT, Intent.WEATHER]
    assert (
        classify_with_lexicon("소파 버리는데 수수료 얼마야?", LEXICON).primary.intent
        is Intent.BULK_WASTE
    )
    assert (
        classify_with_lexicon("고철 시세 알려줘", LEXICON).primary.intent is Intent.RECYCLABLE_PRICE
    )
    assert classify_with_lexicon("안녕", LEXICON).primary.intent is Intent.GENERAL


def test_follow_ups_are_recognised() -> None:
    assert looks_like_follow_up("뚜껑은요?") and looks_like_follow_up("and the cap?")
    assert not looks_like_follow_up("how do I throw away a broken umbrella?")


def test_below_the_floor_becomes_general() -> None:
    refined = refine(scores((Intent.WEATHER, 0.2, "x")), "x", [], {})
    assert refined.primary.intent is Intent.GENERAL
    kept = refine(scores((Intent.WEATHER, 0.2, "x"), (Intent.WASTE, 0.8, "y")), "x y", [], {})
    assert [s.intent for s in kept.intents] == [Intent.WASTE]


def test_a_follow_up_inherits_the_last_intent() -> None:
    refined = refine(scores((Intent.GENERAL, 0.3, "뚜껑은요?")), "뚜껑은요?", ["waste"], {})
    assert refined.primary.intent is Intent.WASTE


def test_character_names_add_the_character_intent() -> None:
    refined = refine(
        scores((Intent.WASTE, 0.9, "q")), "페트리랑 캔 버리기", [], {Intent.CHARACTER: ["페트리"]}
    )
    assert [s.intent for s in refined.intents] == [Intent.CHARACTER, Intent.WASTE]


async def test_context_free_classifications_are_cached() -> None:
    llm = FakeLLM(structured={IntentClassification: scores((Intent.WASTE, 0.9, "페트병"))})
    cache = FakeCache()
    classify = make_intent_classifier(llm, cache=cache)
    await classify("페트병 어떻게 버려요?", [])
    await classify("페트병   어떻게 버려요?", [])  # same after normalising spaces
    assert len(llm.prompts) == 1
    assert list(cache.ttls.values()) == [86400]
    await classify("뚜껑은요?", ["waste"])  # depends on the conversation: never cached
    await classify("뚜껑은요?", ["waste"])
    assert len(llm.prompts) == 3


async def test_a_broken_cache_does_not_break_classification() -> None:
    class BrokenCache(FakeCache):
        async def get(self, key: str) -> str | None:
            self.gets = getattr(self, "gets", 0) + 1
            raise ConnectionError("redis down")

    broken = BrokenCache()
    llm = FakeLLM(structured={IntentClassification: scores((Intent.WASTE, 0.9, "x"))})
    classify = make_intent_classifier(llm, cache=ResilientCache(broken))
    assert (await classify("페트병", [])).primary.intent is Intent.WASTE
    assert (await classify("캔", [])).primary.intent is Intent.WASTE
    assert broken.gets == 1  # after one failure the cache steps aside instead of being retried


def test_routes_per_intent_with_slots() -> None:
    plan = plan_routes(
        scores((Intent.WASTE, 0.9, "건전지"), (Intent.WASTE, 0.9, "페트병")),
        request(),
        ALL_NODES,
        tools=BUILT_IN,
    )
    assert [(r.node, r.slot) for r in plan.routes] == [
        ("waste_rag", "waste_rag"),
        ("waste_rag", "waste_rag#2"),
    ]


def test_multi_intent_off_keeps_the_primary_only() -> None:
    classification = scores((Intent.WEATHER, 0.7, "비"), (Intent.WASTE, 0.9, "캔"))
    plan = plan_routes(classification, request(), ALL_NODES, tools=BUILT_IN, multi_intent=False)
    assert [r.node for r in plan.routes] == ["waste_rag"]


def test_dynamic_routing_off_is_one_fixed_path() -> None:
    plan = plan_routes(
        scores((Intent.WEATHER, 0.9, "비")),
        request("비 와?"),
        ALL_NODES,
        tools=BUILT_IN,
        dynamic=False,
    )
    assert [r.node for r in plan.routes] == ["waste_rag"]


def test_enrichment_adds_weather_and_bins_to_a_disposal_question_with_a_place() -> None:
    near = request(location=Location(latitude=37.5, longitude=127.0))
    plan = plan_routes(scores((Intent.WASTE, 0.9, "건전지")), near, ALL_NODES, tools=BUILT_IN)
    assert [r.node for r in plan.routes] == ["waste_rag", "weather", "collection_point"]
    assert (
        plan_routes(
            scores((Intent.WASTE, 0.9, "x")), near, ALL_NODES, tools=BUILT_IN, enrichment=False
        )
        .routes[0]
        .node
        == "waste_rag"
    )


def test_a_part_whose_node_is_off_is_answered_from_the_knowledge_base_and_reported() -> None:
    plan = plan_routes(
        scores(
            (Intent.WASTE, 0.9, "페트병 어떻게 버려"),
            (Intent.BULK_WASTE, 0.9, "소파는 어떻게 버려"),
        ),
        request("페트병이랑 소파는 어떻게 버려?"),
        {"waste_rag", "general"},
        tools=BUILT_IN,
        enrichment=False,
    )
    assert [(r.node, r.query) for r in plan.routes] == [
        ("waste_rag", "페트병 어떻게 버려"),
        ("waste_rag", "소파는 어떻게 버려"),
    ]
    assert plan.routes[1].slot == "waste_rag#2" and "bulk_waste is off" in plan.routes[1].reason
    assert plan.unavailable == ("bulk_waste",)


def test_without_the_knowledge_base_an_unavailable_part_falls_to_general() -> None:
    plan = plan_routes(
        scores((Intent.LOCATION, 0.9, "근처 센터")),
        request(),
        {"general"},
        tools=BUILT_IN,
        enrichment=False,
    )
    assert [r.node for r in plan.routes] == ["general"]
    assert plan.unavailable == ("location",)


def test_a_part_no_item_can_answer_is_not_stood_in_for() -> None:
    plan = plan_routes(
        scores((Intent.WEATHER, 0.9, "내일 날씨")),
        request(),
        {"waste_rag"},
        tools=BUILT_IN,
        enrichment=False,
    )
    assert [r.node for r in plan.routes] == ["general"]  # the fallback, not the base
    assert plan.unavailable == ("weather",)


GLASS = Subject(name_ko="음료 유리병", name_en="glass drink bottle")


@pytest.mark.parametrize(
    ("message", "query"),
    [
        ("뚜껑은요?", "음료 유리병 뚜껑은요?"),
        ("그럼 깨진 건?", "깨진 음료 유리병은?"),
        ("what about the cap?", "glass drink bottle cap?"),
    ],
)
def test_a_follow_up_leans_on_the_last_item(message: str, query: str) -> None:
    plan = plan_routes(
        scores((Intent.WASTE, 0.7, message)),
        request(message),
        {"waste_rag"},
        tools=BUILT_IN,
        enrichment=False,
        subject=GLASS,
    )
    (route,) = plan.routes
    assert (route.query, route.original, route.subject) == (query, message, GLASS)


def test_a_new_question_or_a_rewritten_one_is_left_alone() -> None:
    for message, query in [
        ("우산은 어떻게 버려요? 손잡이까지 다 분리해야 하나요", "우산은 어떻게 버려요"),
        ("뚜껑은요?", "음료 유리병의 뚜껑은 어떻게 버려요?"),  # the model already named it
    ]:
        plan = plan_routes(
            scores((Intent.WASTE, 0.7, query)),
            request(message),
            {"waste_rag"},
            tools=BUILT_IN,
            enrichment=False,
            subject=GLASS,
        )
        assert plan.routes[0].query == query and plan.routes[0].subject is None


def test_a_photo_turns_a_vague_question_into_an_item_lookup() -> None:
    plan = plan_routes(
        scores((Intent.GENERAL, 0.5, "이거 어떻게 버려?")),
        request(),
        ALL_NODES,
        tools=BUILT_IN,
        enrichment=False,
        vision_item="페트병",
    )
    assert (plan.routes[0].node, plan.routes[0].query) == ("waste_rag", "페트병 이거 어떻게 버려?")


def result(slot: str, status: LookupStatus, line: str = "") -> NodeResult:
    entries = (ContextEntry(lines=(line,)),) if line else ()
    return NodeResult(node=slot, slot=slot, query="q", status=status, entries=entries)


def test_context_merge_is_order_independent_and_success_wins() -> None:
    ok = {"weather": result("weather", LookupStatus.OK, "sunny")}
    failed = {"weather": result("weather", LookupStatus.FAILED)}
    other = {"bins": result("bins", LookupStatus.OK, "x")}
    first = merge_contexts(merge_contexts(merge_contexts({}, ok), failed), other)
    second = merge_contexts(merge_contexts(merge_contexts({}, other), failed), ok)
    assert first == second and first["weather"].status is LookupStatus.OK
    assert list(first) == ["bins", "weather"]
    assert merge_contexts(first, RESET) == {}


def test_a_failure_may_replace_an_empty_result_and_a_later_success_replaces_a_failure() -> None:
    empty = merge_contexts({}, {"bins": result("bins", LookupStatus.EMPTY)})
    failed = merge_contexts(empty, {"bins": result("bins", LookupStatus.FAILED)})
    assert failed["bins"].failed
    assert merge_contexts(failed, {"bins": result("bins", LookupStatus.OK, "x")})["bins"].entries


def test_history_extends_and_a_summary_replaces_it() -> None:
    turn = [ChatMessage.user("q"), ChatMessage.assistant("a")]
    history = extend_history(extend_history([], turn), turn)
    assert len(history) == 4
    assert extend_history(history, ReplaceHistory(messages=tuple(turn[1:]))) == turn[1:]


def test_the_update_schema_has_the_state_fields() -> None:
    assert set(ChatUpdate.__annotations__) == set(ChatState.__annotations__)
