"""Deterministic intent detection from the registered tools' keyword cues: the offline
provider's classifier, and the splitter that turns a compound question into sub-questions."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.application.chat.compound import split_items
from app.application.chat.conditions import part_asked
from app.application.chat.follow_ups import THE_LAST_ONE, asks_only_about_the_last
from app.application.chat.registry import Tool
from app.application.chat.verdicts import MUST
from app.domain.chat import Intent, IntentClassification, IntentScore, intent_named

FOLLOW_UP = re.compile(
    r"^(그럼|그러면|그리고|또|and|what about|how about|also)\b"
    r"|(은요|는요|이요|요\?|도\?|는\?|은\?|는데\?|인데\?|\s(?:건|거|것|거는|건요)\?)\s*$",
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


@dataclass(frozen=True)
class Lexicon:
    """Per intent, its words in the order they are checked; and the words that narrow one
    intent's match to another (intent, within, words)."""

    rows: tuple[tuple[str, tuple[str, ...]], ...]
    narrowing: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, tools: Iterable[Tool[Any]]) -> Lexicon:
        cued = sorted((t for t in tools if t.cues.words), key=lambda t: t.cues.order)
        return cls(
            rows=tuple((t.intents[0], t.cues.words) for t in cued if t.cues.within is None),
            narrowing=tuple(
                (t.intents[0], t.cues.within, t.cues.words) for t in cued if t.cues.within
            ),
        )

    def matched(self, text: str) -> tuple[str, str] | None:
        """The clause's intent and the word that gave it away."""
        lowered = f" {text.lower()} "
        hits = [(i, word) for i, words in self.rows for word in words if _has(lowered, word)]
        if not hits:
            return None
        intents = {intent for intent, _ in hits}
        for intent, within, words in self.narrowing:
            if within in intents and any(word in lowered for word in words):
                return intent, next(w for w in words if w in lowered)
        return hits[0]


def _has(text: str, word: str) -> bool:
    """Korean words match anywhere (particles attach to them); an English one only where a
    word starts ('drain' is not 'rain', 'recycl' still matches 'recycling')."""
    if word not in text:  # most words of most rows: no pattern to run
        return False
    return not word[:1].isascii() or _word_start(word).search(text) is not None


@functools.cache
def _word_start(word: str) -> re.Pattern[str]:
    """Compiled once per word (the lexicon is a fixed set of words; a chat checks ~200)."""
    return re.compile(rf"(?<![a-z]){re.escape(word)}")


def looks_like_follow_up(message: str) -> bool:
    """ "And the cap?", "우유팩은요?", "Is it free?": short questions that lean on the
    previous turn."""
    stripped = message.strip()
    if FOLLOW_UP.search(stripped) or (len(stripped.split()) <= 2 and len(stripped) <= 12):
        return True
    if asks_only_about_the_last(stripped):
        return True
    if len(stripped.split()) <= 4 and part_asked(stripped) is not None:
        return True  # '포장은 뜯어야 돼?': a part of the last item
    if len(stripped.split()) <= 4 and MUST.search(stripped):
        return True  # '구멍 꼭 뚫어야 돼?': a step for the last item
    if len(stripped.split()) <= 12 and THE_LAST_ONE.search(stripped):
        return True  # 'do they come pick it up from my apartment?'
    return len(stripped.split()) <= 5 and bool(EN_PRONOUN.search(stripped))


def split_clauses(message: str) -> list[str]:
    clauses = [LEADING_JOINER.sub("", c.strip(" ?.!,")) for c in CLAUSE_BREAK.split(message) if c]
    return [c for c in clauses if c] or [message.strip()]


def sub_queries(message: str) -> list[str]:
    """One query per clause, and per item where a clause lists several."""
    queries = [q for clause in split_clauses(message) for q in split_items(clause)]
    return queries[:5]


def classify_with_lexicon(message: str, lexicon: Lexicon) -> IntentClassification:
    scores: list[IntentScore] = []
    queries = sub_queries(message)
    # Items listed together share the question: one without a keyword of its own ("소주병이랑
    # 병뚜껑") takes the others' intent, or is a disposal question.
    shared = next((hit for q in queries if (hit := lexicon.matched(q)) is not None), None)
    if shared is None and len(queries) > 1:
        shared = (Intent.WASTE, "listed items")
    for query in queries:
        hit = lexicon.matched(query) or (shared if len(queries) > 1 else None)
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
                    intent=intent_named(intent),
                    confidence=0.9,
                    query=query,
                    reasoning=f"lexicon: '{word.strip()}'",
                )
            )
    if len(scores) > 1 and all(s.intent == Intent.GENERAL for s in scores):
        scores = [
            IntentScore(
                intent=Intent.GENERAL,
                confidence=0.3,
                query=message.strip(),
                reasoning="no keyword matched",
            )
        ]
    return IntentClassification(intents=scores)
