"""Deterministic text tools for the offline provider: tokens, scoring, extraction."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from app.infrastructure.korean_text import (
    HANGUL,
    bigrams,
    is_hangul_word,
    stem_english,
    strip_particle,
    words,
)

STOPWORDS = frozenset(
    (
        "a an the is are do does how what where when can i you to of in on for and or it my me"
        " throw away dispose put go get rid should will with this that"
        " 어떻게 어디 무엇 뭐 왜 언제 어디에 있나요 있어요 해요 하나요 돼요 되나요 버려요 버리나요"
    ).split()
)


def is_korean(text: str) -> bool:
    hangul = len(HANGUL.findall(text))
    return hangul > 0 and hangul * 3 >= len(re.sub(r"\s", "", text))


@lru_cache(maxsize=16384)
def terms(text: str) -> frozenset[str]:
    """Lower-cased words, plus Hangul bigrams so '페트병은' still matches '페트병'. Cached:
    the same knowledge-base lines are scored chat after chat."""
    found: set[str] = set()
    for word in words(text):
        if word in STOPWORDS:
            continue
        found.add(stem_english(word))
        if is_hangul_word(word):
            stem = strip_particle(word)
            found.add(stem)
            found.update(bigrams(stem))
    return frozenset(found)


def overlap(query: frozenset[str] | set[str], text: str) -> int:
    return len(query & terms(text))


LIST_ITEM = re.compile(r"^([-*•]|\d+[.)])\s")


@dataclass(frozen=True)
class Passage:
    """A line of reference text; list items remember the heading line above them."""

    index: int
    text: str
    heading: str = ""

    def score(self, query: frozenset[str] | set[str]) -> int:
        # Words in the topic (the heading, or the part before a colon) count double.
        topic = self.heading or self.text.partition(":")[0]
        return overlap(query, self.text) + overlap(query, topic)


def passages(context: Iterable[str]) -> list[Passage]:
    found: list[Passage] = []
    heading = ""
    for line in (raw.strip() for raw in context):
        if not line:
            continue
        if LIST_ITEM.match(line):
            found.append(Passage(len(found), line, heading))
            continue
        heading = line if line.endswith(":") else ""
        found.append(Passage(len(found), line))
    return found


def best_passages(question: str, context: Sequence[str], limit: int = 8) -> list[str]:
    """The best-matching of the context's lines in their original order, each list item
    under its heading."""
    query = terms(question)
    candidates = passages(context)
    scores = {p.index: p.score(query) for p in candidates}
    best = max(scores.values(), default=0)
    if best == 0:
        return []
    strong = {p.index for p in candidates if scores[p.index] * 4 >= best * 3}
    headings = {p.heading for p in candidates if p.heading and p.index in strong}
    headings |= {p.text for p in candidates if p.index in strong and p.text.endswith(":")}
    chosen = [p for p in candidates if p.index in strong or p.heading in headings][:limit]
    lines: list[str] = []
    for passage in chosen:
        if passage.heading and passage.heading not in lines:
            lines.append(passage.heading)
        if passage.text not in lines:
            lines.append(passage.text)
    return lines
