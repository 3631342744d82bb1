"""Deterministic intent detection from keywords: the offline provider's classifier, and the
splitter that turns a compound question into sub-questions."""

from __future__ import annotations

import re

from app.application.chat.compound import split_items
from app.domain.chat import Intent, IntentClassification, IntentScore
from app.domain.llm import ChatMessage, Role

# Checked in this order: the first intent whose words appear wins the clause.
# fmt: off
LEXICON: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    (Intent.IMAGE_GENERATION, (
        "그려", "그림 만들", "이미지 만들", "이미지 생성", "draw", "generate an image",
        "make an image", "picture of")),
    (Intent.CHARACTER, ("캐릭터", "character")),
    (Intent.BULK_WASTE, (
        "대형", "소파", "쇼파", "매트리스", "장롱", "침대", "책상", "냉장고", "세탁기", "가구",
        "수수료", "스티커", "수거 신청", "bulky", "sofa", "couch", "mattress", "furniture",
        "wardrobe", "pickup")),
    (Intent.RECYCLABLE_PRICE, (
        "시세", "가격", "얼마에 팔", "고철값", "kg당", "킬로당", "price", "sell for",
        "how much do", "scrap value")),
    (Intent.WEATHER, (
        "날씨", "비 와", "비와", "비가", "비 오", "눈 와", "기온", "우산 챙", "weather", "rain",
        "snow", "forecast", "temperature")),
    (Intent.LOCATION, (
        "근처", "가까운", "주변", "어디 있", "위치", "지도", "찾아줘", "near", "nearest",
        "nearby", "around", "where is", "map")),
    (Intent.WEB_SEARCH, (
        "뉴스", "최근", "최신", "검색해", "정책 바뀌", "news", "latest", "recent",
        "search the web", "look up online")),
    (Intent.WASTE, (
        "버려", "버리", "버릴", "배출", "분리수거", "분리 수거", "재활용", "처리", "수거",
        "쓰레기", "throw", "dispose", "recycl", "trash", "garbage", "discard", "get rid",
        "where do", "where does", "which bin", "go in the", "put out")),
)
# Things collected in dedicated bins: "battery bin near me" is a collection-point question.
COLLECTIBLES = (
    "건전지", "배터리", "형광등", "의약품", "약 ", "알약", "헌옷", "의류", "옷", "폐가전",
    "battery", "batteries", "lamp", "medicine", "pill", "clothes", "clothing", "수거함",
    "collection bin",
)
# fmt: on
FOLLOW_UP = re.compile(
    r"^(그럼|그러면|그리고|또|and|what about|how about|also)\b"
    r"|(은요|는요|이요|요\?|도\?|는\?|은\?)\s*$",
    re.I,
)
EN_PRONOUN = re.compile(r"\b(it|they|them|this|that|these|those|one)\b", re.I)
# Between sentences, and before an English clause that asks something else.
CLAUSE_BREAK = re.compile(
    r"(?<=[?!])\s*|[.]\s+|,?\s+(?:and|but)\s+(?=(?:will|is|are|what|where|how|can|do|does|"
    r"should|when|who)\b)|\s*\b(?:and also)\b\s*",
    re.I,
)
LEADING_JOINER = re.compile(r"^(?:그리고|또한|또|그럼|and|also)\s+", re.I)


def matched(text: str) -> tuple[Intent, str] | None:
    lowered = f" {text.lower()} "
    hits = [(intent, word) for intent, words in LEXICON for word in words if _has(lowered, word)]
    if not hits:
        return None
    intents = {intent for intent, _ in hits}
    if Intent.LOCATION in intents and any(word in lowered for word in COLLECTIBLES):
        return Intent.COLLECTION_POINT, next(w for w in COLLECTIBLES if w in lowered)
    return hits[0]


def _has(text: str, word: str) -> bool:
    """Korean words match anywhere (particles attach to them); an English one only where a
    word starts ('drain' is not 'rain', 'recycl' still matches 'recycling')."""
    if not word[:1].isascii():
        return word in text
    return re.search(rf"(?<![a-z]){re.escape(word)}", text) is not None


def looks_like_follow_up(message: str) -> bool:
    """ "And the cap?", "우유팩은요?", "Is it free?": short questions that lean on the
    previous turn."""
    stripped = message.strip()
    if FOLLOW_UP.search(stripped) or (len(stripped.split()) <= 2 and len(stripped) <= 12):
        return True
    return len(stripped.split()) <= 5 and bool(EN_PRONOUN.search(stripped))


def split_clauses(message: str) -> list[str]:
    clauses = [LEADING_JOINER.sub("", c.strip(" ?.!,")) for c in CLAUSE_BREAK.split(message) if c]
    return [c for c in clauses if c] or [message.strip()]


def sub_queries(message: str) -> list[str]:
    """One query per clause, and per item where a clause lists several."""
    queries = [q for clause in split_clauses(message) for q in split_items(clause)]
    return queries[:5]


def classify_with_lexicon(message: str) -> IntentClassification:
    scores: list[IntentScore] = []
    queries = sub_queries(message)
    # Items listed together share the question: one without a keyword of its own ("소주병이랑
    # 병뚜껑") takes the others' intent, or is a disposal question.
    shared = next((hit for q in queries if (hit := matched(q)) is not None), None)
    if shared is None and len(queries) > 1:
        shared = (Intent.WASTE, "listed items")
    for query in queries:
        hit = matched(query) or (shared if len(queries) > 1 else None)
        if hit is None:
            scores.append(
                IntentScore(
                    intent=Intent.GENERAL,
                    confidence=0.3,
                    query=query,
                    reasoning="no keyword matched",
                )
            )
        else:
            intent, word = hit
            scores.append(
                IntentScore(
                    intent=intent,
                    confidence=0.9,
                    query=query,
                    reasoning=f"lexicon: '{word.strip()}'",
                )
            )
    if len(scores) > 1 and all(s.intent is Intent.GENERAL for s in scores):
        scores = [
            IntentScore(
                intent=Intent.GENERAL,
                confidence=0.3,
                query=message.strip(),
                reasoning="no keyword matched",
            )
        ]
    return IntentClassification(intents=scores)


def lexicon_responder(messages: list[ChatMessage]) -> IntentClassification:
    """The offline LLM's structured answer for IntentClassification: the last user message."""
    message = next((m.content for m in reversed(messages) if m.role is Role.USER), "")
    return classify_with_lexicon(message)
