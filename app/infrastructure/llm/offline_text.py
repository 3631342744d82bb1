"""Deterministic text tools for the offline provider: tokens, scoring, extraction."""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD = re.compile(r"[0-9A-Za-z]+|[\uac00-\ud7a3]+")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
STOPWORDS = frozenset(
    (
        "a an the is are do does how what where when can i you to of in on for and or it my me"
        " throw away dispose put go get rid should will with this that"
        " 어떻게 어디 무엇 뭐 왜 언제 어디에 있나요 있어요 해요 하나요 돼요 되나요 버려요 버리나요"
    ).split()
)


PARTICLES = sorted(
    (
        "은 는 이 가 을 를 에 에서 으로 로 도 요 의 와 과 랑 이랑 하고 까지 부터 만 은요 는요 이요"
    ).split(),
    key=len,
    reverse=True,
)


def is_korean(text: str) -> bool:
    hangul = len(HANGUL.findall(text))
    return hangul > 0 and hangul * 3 >= len(re.sub(r"\s", "", text))


def terms(text: str) -> set[str]:
    """Lower-cased words, plus Hangul bigrams so '페트병은' still matches '페트병'."""
    found: set[str] = set()
    for word in WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        found.add(_stem(word))
        if HANGUL.match(word):
            stem = _strip_particle(word)
            found.add(stem)
            found.update(stem[i : i + 2] for i in range(len(stem) - 1))
    return found


def _strip_particle(word: str) -> str:
    """'페트병은' -> '페트병': Korean attaches particles and endings to the noun."""
    for particle in PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            return word[: -len(particle)]
    return word


def _stem(word: str) -> str:
    """Plural and verb endings off English words, so 'umbrellas' meets 'umbrella'."""
    if not word.isascii() or len(word) <= 3:
        return word
    for suffix, keep in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("ing", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + keep
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def overlap(query: set[str], text: str) -> int:
    return len(query & terms(text))


LIST_ITEM = re.compile(r"^([-*•]|\d+[.)])\s")


@dataclass(frozen=True)
class Passage:
    """A line of reference text; list items remember the heading line above them."""

    index: int
    text: str
    heading: str = ""

    def score(self, query: set[str]) -> int:
        # Words in the topic (the heading, or the part before a colon) count double.
        topic = self.heading or self.text.partition(":")[0]
        return overlap(query, self.text) + overlap(query, topic)


def passages(context: str) -> list[Passage]:
    found: list[Passage] = []
    heading = ""
    for line in (raw.strip() for raw in context.splitlines()):
        if not line:
            continue
        if LIST_ITEM.match(line):
            found.append(Passage(len(found), line, heading))
            continue
        heading = line if line.endswith(":") else ""
        found.append(Passage(len(found), line))
    return found


def best_passages(question: str, context: str, limit: int = 8) -> list[str]:
    """The best-matching lines in their original order, each list under its heading."""
    query = terms(question)
    candidates = passages(context)
    scores = {p.index: p.score(query) for p in candidates}
    best = max(scores.values(), default=0)
    if best == 0:
        return []
    strong = {p.index for p in candidates if scores[p.index] * 4 >= best * 3}
    headings = {p.heading for p in candidates if p.heading and p.index in strong}
    chosen = [p for p in candidates if p.index in strong or p.heading in headings][:limit]
    lines: list[str] = []
    for passage in chosen:
        if passage.heading and passage.heading not in lines:
            lines.append(passage.heading)
        if passage.text not in lines:
            lines.append(passage.text)
    return lines
