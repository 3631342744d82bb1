"""The offline provider: deterministic, labelled, answers only from what it is given."""

from __future__ import annotations

from pydantic import BaseModel

from app.application.context_window import ContextBudget
from app.application.prompts import ASSISTANT_ROLE, disposal_guide
from app.application.usage import metered
from app.domain.llm import ChatMessage, ContextBlock, ContextEntry, ToolSpec
from app.infrastructure.llm.offline_llm import OfflineLLMClient

GUIDE_ENTRY = ContextEntry(lines=tuple(disposal_guide().splitlines()), role="reference")
BUDGET = ContextBudget(window=32768, reserved_output=1024)
PLACES = ToolSpec(
    name="search_places",
    description="find recycling centers and collection bins on the map near a place",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}},
)
WEATHER = ToolSpec(
    name="get_weather",
    description="weather forecast rain temperature",
    parameters={
        "type": "object",
        "properties": {"place": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    },
)


PET = ContextEntry(
    title="투명 페트병 (clear PET bottle)",
    steps=("내용물을 비우고 헹굽니다.", "라벨을 떼어 냅니다."),
    lines=("자주 하는 실수: 뚜껑을 버림",),
)


def block(*entries: ContextEntry, slot: str = "waste_rag") -> ContextBlock:
    return ContextBlock(slot=slot, kind="waste_rag", query="q", language="ko", entries=entries)


class Sorting(BaseModel):
    category: str
    confidence: float


class Verdict(BaseModel):
    kind: str
    recyclable: bool = True


GUIDE = [block(GUIDE_ENTRY, slot="general")]


def offline(**kwargs: object) -> OfflineLLMClient:
    return OfflineLLMClient(model="offline-extractive", budget=BUDGET, **kwargs)  # type: ignore[arg-type]


async def test_answers_korean_question_from_the_reference_steps() -> None:
    answer = await offline().generate("페트병 어떻게 버려요?", context=GUIDE)
    assert not answer.startswith("[")  # that no model wrote it is metadata, not text
    assert "라벨" in answer and "헹굽니다" in answer and "뚜껑" in answer


async def test_answers_english_question() -> None:
    answer = await offline().generate("how do I throw away a broken umbrella?", context=GUIDE)
    assert "fabric" in answer and "metal frame" in answer
    assert "glass" not in answer


async def test_tool_results_are_context_too() -> None:
    messages = [
        ChatMessage.user("비 와요?"),
        ChatMessage(role="tool", content="서울 오늘 밤 비 예보: 강수확률 80%", name="weather"),
        ChatMessage.user("오늘 밤 비 와요?"),
    ]
    assert "강수확률 80%" in await offline().generate(messages)


async def test_without_matching_context_it_says_so_rather_than_inventing() -> None:
    cans = ContextEntry(lines=("Cans: crush them.",), role="reference")
    answer = await offline().generate("what is the capital of France?", context=[block(cans)])
    assert answer.startswith("The reference material holds nothing that matches")
    assert "Paris" not in answer


async def test_context_blocks_are_the_answer_and_the_reference_text_is_not() -> None:
    system = f"{ASSISTANT_ROLE}\n\n{disposal_guide()}"
    answer = await offline().generate("페트병 어떻게 버려요?", system=system, context=[block(PET)])
    assert answer.splitlines() == [
        "투명 페트병 (clear PET bottle):",
        "- 내용물을 비우고 헹굽니다.",
        "- 라벨을 떼어 냅니다.",
        "자주 하는 실수: 뚜껑을 버림",
    ]


async def test_a_reference_gives_only_its_passages_and_found_items_are_whole() -> None:
    guide = ContextEntry(
        lines=(*(f"항목 {i}: 방법 {i}" for i in range(8)), "우산: 천은 일반 쓰레기로."),
        role="reference",
    )
    answer = await offline().generate("우산 어떻게 버려요?", context=[block(guide)])
    assert "천은 일반 쓰레기로" in answer and "방법 3" not in answer
    steps = tuple(f"단계 {i}" for i in range(14))  # a long item is never cut short
    long_item = ContextEntry(title="우산 (umbrella)", steps=steps)
    whole = await offline().generate("우산 어떻게 버려요?", context=[block(long_item)])
    assert all(step in whole for step in steps)


async def test_a_lead_opens_the_answer() -> None:
    lead = ContextEntry(lines=("아니요, 도자기는 유리병이 아닙니다.",), role="lead")
    answer = await offline().generate(
        "도자기 유리병으로 버려도 돼?", context=[block(PET), block(lead)]
    )
    assert answer.splitlines()[0] == "아니요, 도자기는 유리병이 아닙니다."


async def test_empty_blocks_leave_the_reference_text_to_answer_from() -> None:
    llm = offline()
    with_empty = await llm.generate("페트병 어떻게 버려요?", context=[*GUIDE, block()])
    assert with_empty == await llm.generate("페트병 어떻게 버려요?", context=GUIDE)


async def test_the_system_prompt_is_an_instruction_and_never_quoted() -> None:
    system = f"{ASSISTANT_ROLE}\n\nAnswer from the context blocks below; do not invent fees."
    answer = await offline().generate("Can I pour ice pack gel down the drain?", system=system)
    assert answer.startswith("The reference material holds nothing that matches")
    assert "context blocks" not in answer and "invent" not in answer


async def test_stream_concatenates_to_generate() -> None:
    llm = offline()
    full = await llm.generate("우유팩 버리는 법", context=GUIDE)
    chunks = [c async for c in llm.generate_stream("우유팩 버리는 법", context=GUIDE)]
    assert len(chunks) == full.count("\n") + 1 and "".join(chunks) == full  # a line each
    with_context = await llm.generate("페트병", context=[block(PET)])
    assert "".join([c async for c in llm.generate_stream("페트병", context=[block(PET)])]) == (
        with_context
    )


async def test_structured_output_uses_a_registered_responder() -> None:
    llm = offline(
        responders={Sorting: lambda messages, schema: Sorting(category="plastic", confidence=0.9)}
    )
    assert await llm.generate_structured("페트병", Sorting) == Sorting(
        category="plastic", confidence=0.9
    )


async def test_structured_output_for_unregistered_schemas_is_valid_and_deterministic() -> None:
    llm = offline()
    first = await llm.generate_structured("batteries", Verdict)
    assert first == Verdict(kind="batteries", recyclable=True)
    assert await llm.generate_structured("batteries", Verdict) == first


async def test_tool_choice_follows_the_question() -> None:
    llm = offline()
    call = await llm.generate_function_call("recycling center near Hongdae", [WEATHER, PLACES])
    assert call is not None and call.name == "search_places"
    assert call.arguments == {"query": "recycling center near Hongdae"}
    weather = await llm.generate_function_call("rain tomorrow?", [WEATHER, PLACES])
    assert weather is not None and weather.arguments == {"place": "rain tomorrow?", "days": 1}
    assert await llm.generate_function_call("tell me a joke", [WEATHER, PLACES]) is None
    forced = await llm.generate_function_call(
        "tell me a joke", [WEATHER, PLACES], function_name="get_weather"
    )
    assert forced is not None and forced.name == "get_weather"


async def test_usage_is_counted_per_client_and_per_scope() -> None:
    llm = offline()
    with metered() as scope:
        await llm.generate("캔", context=GUIDE)
        await llm.generate_structured("캔", Verdict)
    await llm.generate("캔")
    assert scope.total.calls == 2 and scope.total.prompt_tokens > 0
    assert llm.usage().calls == 3
