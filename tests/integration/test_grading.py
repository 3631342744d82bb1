"""The grading step over the real knowledge base: a model's yes or no against the item's rule
is written once more; one the rules cannot decide is graded by one model call; the rules'
checks on their own; the grade in `done`."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from app.application.chat.grading import ModelGrade, check
from app.application.chat.routing import Route
from app.application.chat.service import ChatService
from app.application.chat.state import ChatState, LookupStatus, NodeResult
from app.domain.chat import (
    ChatRequest,
    ChatResult,
    IntentClassification,
    IntentScore,
    Subject,
)
from app.domain.llm import ChatMessage, ContextEntry
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.orchestration.langgraph.graph import create_chat_graph
from app.infrastructure.orchestration.langgraph.turns import LangGraphTurns
from app.infrastructure.retrieval.bm25 import BM25Retriever
from app.infrastructure.retrieval.knowledge_base import load_items
from tests.fakes import FakeLLM, RecordingNotifier
from tests.support.graph_kit import chat_kit

WASTE = IntentClassification(intents=[IntentScore(intent="waste", confidence=0.9)])


@pytest.fixture(scope="module")
def retriever(morphology: Morphology) -> BM25Retriever:
    return BM25Retriever(load_items(), morphology)


def chat_over(llm: FakeLLM, retriever: BM25Retriever) -> ChatService:
    graph = create_chat_graph(llm, retriever, checkpointer=InMemorySaver())
    return ChatService(LangGraphTurns(graph))


async def test_a_model_yes_against_the_rule_is_written_once_more(
    retriever: BM25Retriever,
) -> None:
    llm = FakeLLM(
        [
            "",  # taken by the intent call (its reply is the structured one)
            "네, 유리병 수거함에 넣으면 됩니다.",  # the answer: against the broken-glass rule
            "아니요, 깨진 유리는 신문지에 싸서 종량제 봉투에 버립니다.",  # the second writing
        ],
        structured={IntentClassification: WASTE},
    )
    question = "유리병이 깨졌는데 유리병 수거함에 넣어도 돼?"
    result = await chat_over(llm, retriever).run(ChatRequest(message=question, thread_id="g1"))
    assert result.answer.startswith("아니요, 깨진 유리는")
    assert result.grade is not None and result.grade.passed and result.grade.revised
    assert len(llm.prompts) == 3  # intents, the answer, one revision: no more
    assert "contradicts" in llm.prompts[2][0].content  # told what the check found


async def undecided_yes(
    retriever: BM25Retriever, verdict: ModelGrade
) -> tuple[FakeLLM, ChatResult]:
    """A model's yes to a question the item's facts do not settle, graded as `verdict`."""
    llm = FakeLLM(
        ["Yes, a pizza box can go out on any collection day."],
        structured={IntentClassification: WASTE, ModelGrade: verdict},
    )
    question = "Can I put a pizza box out on a Tuesday?"
    return llm, await chat_over(llm, retriever).run(ChatRequest(message=question, thread_id="u"))


async def test_a_yes_the_rules_cannot_decide_costs_one_model_call(
    retriever: BM25Retriever,
) -> None:
    verdict = ModelGrade(answers_every_part=True, yes_no_agrees_with_context=True,
                         invents_nothing=True)  # fmt: skip
    llm, result = await undecided_yes(retriever, verdict)
    assert result.grade is not None and result.grade.by == "model" and result.grade.passed
    assert len(llm.prompts) == 3  # intents, the answer, the model grader
    assert not result.grade.revised


async def test_a_model_answer_the_rules_pass_costs_no_call(retriever: BM25Retriever) -> None:
    llm = FakeLLM(
        ["아니요, 깨진 유리는 신문지에 싸서 종량제 봉투에 버립니다."],
        structured={IntentClassification: WASTE},
    )
    question = "유리병이 깨졌는데 유리병 수거함에 넣어도 돼?"
    result = await chat_over(llm, retriever).run(ChatRequest(message=question, thread_id="g3"))
    assert result.grade is not None and result.grade.passed and result.grade.by == "rules"
    assert len(llm.prompts) == 2


def state_with(answer: str, question: str = "냉장고 버릴 때 돈 들어?") -> ChatState:
    route = Route("waste_rag", "waste", question, "intent", slot="waste_rag")
    found = NodeResult(
        node="waste_rag",
        slot="waste_rag",
        status=LookupStatus.OK,
        entries=(ContextEntry(title="냉장고", steps=("무상방문수거(1599-0903)로 예약합니다.",)),),
        subject=Subject(name_ko="냉장고", name_en="refrigerator"),
        verdict=False,
    )
    return {
        "request": ChatRequest(message=question, thread_id="t"),
        "routes": [route],
        "contexts": {"waste_rag": found},
        "answer": answer,
        "history": [ChatMessage.user(question), ChatMessage.assistant(answer)],
    }


async def test_the_model_graders_notes_cost_nothing_of_their_own(
    retriever: BM25Retriever,
) -> None:
    verdict = ModelGrade(answers_every_part=True, yes_no_agrees_with_context=False,
                         invents_nothing=True, problems=["a", "b", "c"])  # fmt: skip
    llm, result = await undecided_yes(retriever, verdict)
    assert result.grade is not None and result.grade.by == "model" and result.grade.revised
    # The contradiction alone decides (0.5), not the three notes that explain it.
    assert result.grade.score == 0.5 and len(result.grade.findings) == 4
    # Written once more, graded once more by the model, still failing: said to be uncertain.
    assert len(llm.prompts) == 5  # intents, answer, grade, second writing, second grade
    assert result.answer.endswith("please confirm with your district office.")


def test_the_rules_find_what_is_wrong() -> None:
    right, decided = check(state_with("아니요, 냉장고는 무상방문수거(1599-0903)로 무료입니다."))
    assert right == [] and decided
    wrong, _ = check(state_with("네, 냉장고는 수수료 15,000원을 냅니다. 1588-0000으로 전화하세요."))
    assert [f.split(":")[0] for f in wrong] == ["contradicts", "unsourced", "unsourced"]
    english, _ = check(state_with("No, the refrigerator is collected for free."))
    assert english == ["language: not in ko"]
    silent, _ = check(state_with("무상방문수거(1599-0903)로 예약하세요."))
    assert silent == ["no_verdict: waste_rag asks yes or no"]
    both = state_with(
        "냉장고는 무상방문수거(1599-0903)로 예약합니다.", "냉장고랑 소파 어떻게 버려?"
    )
    sofa = both["contexts"]["waste_rag"].model_copy(
        update={"slot": "waste_rag#2", "verdict": None,
                "subject": Subject(name_ko="소파", name_en="sofa")}
    )  # fmt: skip
    both["contexts"] = {"waste_rag": both["contexts"]["waste_rag"].model_copy(
        update={"verdict": None}), "waste_rag#2": sofa}  # fmt: skip
    both["routes"] = [*both["routes"], Route("waste_rag", "waste", "소파", "intent", "waste_rag#2")]
    left_out, _ = check(both)
    assert left_out == ["unanswered: waste_rag#2 (소파)"]  # a compound part left out


async def test_the_grade_goes_into_done(retriever: BM25Retriever) -> None:
    async with chat_kit(retriever=retriever) as (chat, notifier, _container):
        await chat.run(ChatRequest(message="우유팩 종이류로 버려도 돼?", thread_id="g5"))
    assert isinstance(notifier, RecordingNotifier)
    (events,) = notifier.events.values()
    done = events[-1]
    assert done.type == "done" and done.data["provider"] == "offline"
    assert done.data["grade"] == {
        "score": 1.0, "passed": True, "by": "rules", "findings": [], "revised": False,
    }  # fmt: skip
    assert any(e.type == "stage" and e.stage == "grade" for e in events)
