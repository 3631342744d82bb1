"""Yes or no first, decided from the item the knowledge base holds (the real one)."""

from __future__ import annotations

import pytest

from app.application.chat.verdicts import as_asked, is_yes_no, verdict
from app.domain.waste import WasteItem
from app.infrastructure.retrieval.knowledge_base import load_items


@pytest.fixture(scope="module")
def items() -> dict[str, WasteItem]:
    return {item.name_ko: item for item in load_items()}


@pytest.mark.parametrize(
    ("question", "item", "opening"),
    [
        ("도자기 그릇은 유리병류로 버려도 돼?", "도자기", "아니요, 도자기는"),
        ("우유팩을 종이류로 버려도 돼?", "우유팩", "아니요, 우유팩은 종이류로"),
        ("신문지는 종이류 맞지?", "신문지", "네, 신문지는 종이류로"),
        ("택배 상자 테이프 떼야 돼?", "택배 상자", "네"),  # the step says 떼어 냅니다
        ("냉장고 같은 큰 가전은 무료로 수거해 가?", "냉장고", "네"),
        ("Can I put a milk carton in with paper?", "우유팩", "No, the milk carton"),
        (
            "치킨 뼈도 음식물 쓰레기로 버려?",
            "닭뼈",
            "아니요, 닭뼈는 음식물 쓰레기",
        ),  # no 'yes' ending
        ("뽁뽁이 비닐로 ㄱㄴ?", "뽁뽁이", "네"),  # slang
        ("기름 묻은 비닐봉지 안 씻고 그대로 비닐류에 넣어도 돼?", "비닐봉지", "아니요"),  # as-is
        ("아이스팩 안에 든 젤은 하수구에 버려도 돼?", "아이스팩", "아니요, 아이스팩은 하수구"),
        ("생수병을 다른 플라스틱이랑 섞어서 버려도 돼?", "생수병", "아니요, 생수병은 플라스틱"),
        ("에어컨 무상방문수거 신청할 수 있어?", "폐가전 무상방문수거", "네"),
        ("냉장고 버릴 때 수거비 내야 돼?", "냉장고", "아니요"),
        ("Can I get a deposit back for empty beer bottles?", "맥주병", "Yes"),
        ("Can I put an old laptop in the general trash?", "노트북", "No, the laptop"),
        ("우유팩 헹궈야 돼?", "우유팩", "네, 내용물을 비우고 물로 헹굽니다"),  # with its step
    ],
)
def test_the_opening_follows_the_item(
    items: dict[str, WasteItem], question: str, item: str, opening: str
) -> None:
    language = "en" if question.isascii() else "ko"
    lead = verdict(question, items[item], language)
    assert lead is not None and lead.role == "lead"
    assert lead.lines[0].startswith(opening), lead.lines[0]


def test_no_verdict_for_an_open_question_or_an_undecided_one(
    items: dict[str, WasteItem],
) -> None:
    assert verdict("우유팩 어떻게 버려요?", items["우유팩"], "ko") is None
    assert verdict("우유팩은 어디에 버려?", items["우유팩"], "ko") is None  # a wh-question
    assert verdict("캔은?", items["음료수 캔"], "ko") is None  # what about it, not yes or no
    assert not is_yes_no("수거해 가")  # without its question mark it is no question
    assert is_yes_no(as_asked("수거해 가", "냉장고 같은 큰 가전은 무료로 수거해 가?"))
    assert as_asked("수거해 가.", "…수거해 가?") == "수거해 가."
