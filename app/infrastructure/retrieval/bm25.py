"""BM25 over the knowledge base, two fields: names (with aliases) weigh more than the steps."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from app.application.ports.retriever import RetrieverPort
from app.domain.tools import RetrievedItem
from app.domain.waste import WasteItem
from app.infrastructure.korean_text import stem_english, words
from app.infrastructure.retrieval.spelling import Speller
from app.infrastructure.retrieval.tokens import weighted_tokens

NAME_WEIGHT = 2.0
BODY_WEIGHT = 0.3
PHRASE_WEIGHT = 1.0  # per character of the longest name or alias the question contains
CORRECTION_WEIGHT = 0.8  # a corrected word counts a little less than one typed right


@dataclass
class _Field:
    docs: list[dict[str, float]]
    lengths: list[float]
    average: float
    document_frequency: Counter[str]

    @classmethod
    def build(cls, texts: Sequence[str]) -> _Field:
        docs: list[dict[str, float]] = [dict(weighted_tokens(text)) for text in texts]
        lengths = [sum(doc.values()) for doc in docs]
        frequency: Counter[str] = Counter()
        for doc in docs:
            frequency.update(doc.keys())
        return cls(docs, lengths, sum(lengths) / max(len(lengths), 1), frequency)

    def scores(self, query: dict[str, float], k1: float = 1.2, b: float = 0.75) -> list[float]:
        """BM25 with weighted terms: a query term's weight scales its contribution."""
        n = len(self.docs)
        idf = {
            term: math.log(
                1
                + (n - self.document_frequency[term] + 0.5) / (self.document_frequency[term] + 0.5)
            )
            for term in query
        }
        results = []
        for doc, length in zip(self.docs, self.lengths, strict=True):
            score = 0.0
            norm = k1 * (1 - b + b * length / (self.average or 1))
            for term, count in query.items():
                tf = doc.get(term, 0)
                if tf:
                    score += idf[term] * tf * (k1 + 1) / (tf + norm) * count
            results.append(score)
        return results


def name_text(item: WasteItem) -> str:
    return " ".join([item.name_ko, item.name_en, *item.aliases_ko, *item.aliases_en])


def body_text(item: WasteItem) -> str:
    return " ".join(
        [
            item.category.value.replace("_", " "),
            *item.steps_ko,
            *item.steps_en,
            item.notes_ko,
            item.notes_en,
        ]
    )


class BM25Retriever(RetrieverPort):
    """Korean-aware keyword retrieval; no model download, microseconds per query."""

    def __init__(self, items: Sequence[WasteItem]) -> None:
        self._items = list(items)
        self._names = _Field.build([name_text(i) for i in self._items])
        self._bodies = _Field.build([body_text(i) for i in self._items])
        self._phrases = [_phrases(item) for item in self._items]
        self._speller = Speller(w for item in self._items for w in words(name_text(item)))

    async def search(self, query: str, k: int = 3) -> list[RetrievedItem]:
        return self.rank(query, k)

    def rank(self, query: str, k: int = 3) -> list[RetrievedItem]:
        fixes = self._speller.corrections(words(query))
        terms = weighted_tokens(query)
        for term, weight in weighted_tokens(" ".join(fixes)).items():
            terms[term] += weight * CORRECTION_WEIGHT
        if not terms:
            return []
        query = f"{query} {' '.join(fixes)}" if fixes else query
        names = self._names.scores(terms)
        bodies = self._bodies.scores(terms)
        compact, spaced = _normalise(query)
        bonuses = [self._phrase_bonus(i, compact, spaced) for i in range(len(self._items))]
        scored = [
            (NAME_WEIGHT * n + BODY_WEIGHT * b + bonuses[i], i)
            for i, (n, b) in enumerate(zip(names, bodies, strict=True))
        ]
        scored = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))[:k]
        return [
            RetrievedItem(item=self._items[i], score=round(score, 4), exact=bonuses[i] > 0)
            for score, i in scored
        ]

    def _phrase_bonus(self, index: int, compact: str, spaced: str) -> float:
        """The whole name in the question is the strongest signal there is ('투명 페트병')."""
        longest = 0
        for phrase, latin in self._phrases[index]:
            if (f" {phrase} " in spaced) if latin else (phrase in compact):
                longest = max(longest, len(phrase))
        return PHRASE_WEIGHT * longest


def _normalise(text: str) -> tuple[str, str]:
    """(Hangul without spaces, Latin words padded with spaces) for phrase matching."""
    lowered = text.lower()
    compact = "".join(lowered.split())
    found = re.findall(r"[0-9a-z]+|[\uac00-\ud7a3]+", lowered)
    spaced = " " + " ".join(stem_english(w) for w in found) + " "
    return compact, spaced


def _phrases(item: WasteItem) -> list[tuple[str, bool]]:
    """Names and aliases worth a phrase match: Latin ones as whole words, Hangul ones of two
    syllables or more (a lone '캔' or '병' would match inside other words)."""
    found = []
    for name in (item.name_ko, item.name_en, *item.aliases_ko, *item.aliases_en):
        lowered = name.lower()
        if lowered.isascii():
            words = [stem_english(w) for w in re.findall(r"[0-9a-z]+", lowered)]
            if words:
                found.append((" ".join(words), True))
        else:
            compact = "".join(lowered.split())
            if len(compact) >= 2:
                found.append((compact, False))
    return found
