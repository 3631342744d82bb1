"""Follow-ups over the real knowledge base: the joined query, the turn's own item, and the
thread remembering what it was about."""

from __future__ import annotations

import pytest

from app.application.chat.follow_ups import follow_up_hits, mentions, rewrite
from app.application.chat.knowledge_base import as_the_question_has_it
from app.application.chat.verdicts import is_yes_no
from app.domain.chat import ChatRequest, Intent, Subject
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.retrieval.bm25 import BM25Retriever
from app.infrastructure.retrieval.knowledge_base import load_items
from tests.support.graph_kit import chat_kit

GLASS = Subject(name_ko="음료 유리병", name_en="glass drink bottle")
PET = Subject(name_ko="투명 페트병", name_en="clear PET bottle")
SOFA = Subject(name_ko="소파", name_en="sofa")


def ask(message: str, thread: str) -> ChatRequest:
    return ChatRequest(message=message, thread_id=thread)


@pytest.fixture(scope="module")
def retriever(morphology: Morphology) -> BM25Retriever:
    return BM25Retriever(load_items(), morphology)


@pytest.mark.parametrize(
    ("subject", "turn", "expected"),
    [
        (GLASS, "뚜껑은요?", "can-metal-bottle-cap"),  # a glass bottle's cap is metal
        (PET, "뚜껑은요?", "plastic-bottle-cap"),  # a PET bottle's is plastic
        (GLASS, "what about the cap?", "can-metal-bottle-cap"),
        (GLASS, "그럼 깨진 건?", "general-broken-glass"),
        (PET, "라벨은?", "vinyl-pet-label"),
        (PET, "우유팩은요?", "paper-pack-milk-carton"),  # the turn names its own item
        (PET, "큰 건요?", "pet-bottle-large"),
        (PET, "그럼 어디에 버려?", "pet-bottle-clear"),  # names nothing: stays on the item
        (SOFA, "침대는?", "bulky-bed-frame"),
        (Subject(name_ko="우유팩", name_en="milk carton"), "헹궈야 돼?", "paper-pack-milk-carton"),
    ],
)
async def test_a_follow_up_lands_on_the_right_item(
    retriever: BM25Retriever, subject: Subject, turn: str, expected: str
) -> None:
    # The hits, then the item in the state the turn names ('깨진 건' → broken glass).
    hits = as_the_question_has_it(await follow_up_hits(retriever, turn, subject, 3), turn)
    assert hits[0].item.id == expected, [h.item.id for h in hits]


def test_the_rewrite_puts_the_item_where_the_turn_leaves_it_out() -> None:
    assert rewrite("뚜껑은요?", GLASS) == "음료 유리병 뚜껑은요?"
    assert rewrite("그럼 깨진 건?", GLASS) == "깨진 음료 유리병은?"
    assert not is_yes_no(rewrite("그럼 깨진 건?", GLASS))  # "what about", as the message asked
    assert rewrite("and the label?", PET) == "clear PET bottle label?"
    assert rewrite("Is it free?", Subject(name_ko="TV", name_en="television")) == (
        "Is television free?"
    )
    newspaper = Subject(name_ko="신문지", name_en="newspaper", asked="신문지는 종이로 버리면 되지?")
    assert rewrite("그럼 영수증도?", newspaper) == "영수증은 종이로 버리면 되지?"  # borrowed
    assert rewrite("그럼 캔도?", newspaper) == "캔은 종이로 버리면 되지?"
    assert mentions("유리병 뚜껑은 어떻게 버려요?", GLASS)
    assert not mentions("뚜껑은요?", GLASS)


async def test_the_thread_remembers_its_item_across_turns() -> None:
    async with chat_kit() as (chat, _, _container):
        first = await chat.run(ask("페트병 어떻게 버려요?", thread="t-fu"))
        second = await chat.run(ask("뚜껑은요?", thread="t-fu"))
        third = await chat.run(ask("날씨는?", thread="t-fu"))
    assert first.intents == [Intent.WASTE] and second.intents == [Intent.WASTE]
    assert "페트병에 닫아서" in second.answer  # the cap of the bottle asked about
    assert third.answer
