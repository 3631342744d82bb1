"""Deterministic text tools for the offline provider: tokens, scoring, extraction."""

from __future__ import annotations

import re

WORD = re.compile(r"[0-9A-Za-z]+|[\uac00-\ud7a3]+")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SENTENCE = re.compile(r"(?<=[.!?。])\s+|\n+")
STOPWORDS = frozenset(
    "a an the is are do does how what where when can i you to of in on for and or it my me"
    " 어떻게 어디 무엇 뭐 왜 언제 어디에 있나요 있어요 해요 하나요 돼요 되나요 버려요 버리나요".split()
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
        found.add(word)
        if HANGUL.match(word) and len(word) > 1:
            found.update(word[i : i + 2] for i in range(len(word) - 1))
    return found


def overlap(query: set[str], text: str) -> int:
    return len(query & terms(text))


def passages(context: str) -> list[str]:
    """Lines (list items stay whole) split further into sentences."""
    pieces: list[str] = []
    for line in context.splitlines():
        line = line.strip()
        if not line:
            continue
        if re.match(r"^([-*•]|\d+[.)])\s", line):
            pieces.append(line)
        else:
            pieces.extend(p.strip() for p in SENTENCE.split(line) if p.strip())
    return pieces


def best_passages(question: str, context: str, limit: int = 8) -> list[str]:
    """The passages sharing terms with the question, in their original order."""
    query = terms(question)
    scored = [(overlap(query, p), i, p) for i, p in enumerate(passages(context))]
    relevant = [item for item in scored if item[0] > 0]
    if not relevant:
        return []
    best = max(score for score, _, _ in relevant)
    # Keep the strongest passages and what directly follows them (steps after a heading).
    keep = {i for score, i, _ in relevant if score * 2 >= best}
    keep |= {i + 1 for i in keep if i + 1 < len(scored) and scored[i + 1][2][:1] in "-*•0123456789"}
    chosen = sorted(keep)[:limit]
    return [scored[i][2] for i in chosen]
