"""BM25 over the knowledge base, two fields: names (with aliases) weigh more than the steps.
The tokens come from a keyword index (`index.py`), shipped or built at start-up."""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from app.application.ports.tools import RetrieverPort
from app.domain.tools import RetrievedItem
from app.domain.waste import WasteItem
from app.infrastructure.korean_text import stem_english, words
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.retrieval.index import FieldTokens, KeywordIndex, build_index
from app.infrastructure.retrieval.spelling import Speller
from app.infrastructure.retrieval.tokens import Tokenizer

NAME_WEIGHT = 2.0
BODY_WEIGHT = 0.3
PHRASE_WEIGHT = 1.0  # per character of the longest name or alias the question contains
CORRECTION_WEIGHT = 0.8  # a corrected word counts a little less than one typed right
# Points at which a hit is confident without an exact name: a distinctive word of the item's
# name in the question ('큰 건' → 대용량 페트병 scores ~16, a stray step word under 10).
CONFIDENT_SCORE = 12.0
# The phrase index skips one-syllable names ('병', '캔' would match inside other words), so a
# question that is such a name and nothing else ('병은 어떻게 버려?') is matched here, strongly
# enough to outweigh items that merely repeat the word in many aliases ('맥주 병', '카스 병').
# Longer names are the phrase index's; a bonus for them too would outweigh the subject of a
# follow-up ('뚜껑은요?' after a glass bottle is its metal cap, not the item named 뚜껑).
WHOLE_NAME_BONUS = 20.0


@dataclass
class _Field:
    """One field's BM25 index: per term, the documents that hold it with the term's BM25 weight
    in each (computed once here, not per query), so a query touches only those documents."""

    postings: dict[str, list[tuple[int, float]]]

    @classmethod
    def of(cls, tokens: FieldTokens, k1: float = 1.2, b: float = 0.75) -> _Field:
        lengths = tokens.lengths
        average = sum(lengths) / max(len(lengths), 1) or 1
        n = len(lengths)
        norms = [k1 * (1 - b + b * length / average) for length in lengths]
        weighted = {}
        for term, found in tokens.postings.items():
            idf = math.log(1 + (n - len(found) + 0.5) / (len(found) + 0.5))
            weighted[term] = [
                (index, idf * tf * (k1 + 1) / (tf + norms[index])) for index, tf in found
            ]
        return cls(weighted)

    def scores(self, query: dict[str, float]) -> dict[int, float]:
        """BM25 with weighted terms: a query term's weight scales its contribution."""
        results: dict[int, float] = defaultdict(float)
        for term, count in query.items():
            for index, weight in self.postings.get(term, ()):
                results[index] += weight * count
        return results


class BM25Retriever(RetrieverPort):
    """Korean-aware keyword retrieval over a morphology (Kiwi or the rules); no download,
    well under a millisecond per query."""

    def __init__(
        self,
        items: Sequence[WasteItem],
        morphology: Morphology,
        index: KeywordIndex | None = None,
    ) -> None:
        """`index`: built ahead (`index.shipped_index`) from these items with this morphology;
        without it, the index is built here (seconds of CPU with Kiwi)."""
        self._items = list(items)
        self._tokenizer = Tokenizer(morphology)
        if index is None:
            index = build_index(self._items, morphology)
        self._names = _Field.of(index.names)
        self._bodies = _Field.of(index.bodies)
        self._phrases = _PhraseIndex(self._items)
        self._whole_names = index.whole_names
        self._speller = Speller(index.spelt, index.known, morphology)

    async def search(self, query: str, k: int = 3) -> list[RetrievedItem]:
        return self.rank(query, k)

    def rank(self, query: str, k: int = 3) -> list[RetrievedItem]:
        fixes = self._speller.corrections(words(query))
        terms = self._tokenizer.weighted(query)
        for term, weight in self._tokenizer.weighted(" ".join(fixes)).items():
            terms[term] += weight * CORRECTION_WEIGHT
        if not terms:
            return []
        query = f"{query} {' '.join(fixes)}" if fixes else query
        names = self._names.scores(terms)
        bodies = self._bodies.scores(terms)
        bonuses = self._phrases.bonuses(query)
        for index in self._whole_names.get(self._tokenizer.content_key(query), ()):
            bonuses[index] = bonuses.get(index, 0.0) + WHOLE_NAME_BONUS
        # Summed in the order NAME + BODY + bonus, as the scores were always added up.
        totals = {i: NAME_WEIGHT * score for i, score in names.items()}
        for i, score in bodies.items():
            totals[i] = totals.get(i, 0.0) + BODY_WEIGHT * score
        for i, bonus in bonuses.items():
            totals[i] = totals.get(i, 0.0) + bonus
        best = heapq.nsmallest(k, ((-score, i) for i, score in totals.items() if score > 0))
        scored = [(-negated, i) for negated, i in best]
        return [
            RetrievedItem(
                item=self._items[i],
                score=round(score, 4),
                exact=bonuses.get(i, 0) > 0,
                confident=bonuses.get(i, 0) > 0 or score >= CONFIDENT_SCORE,
            )
            for score, i in scored
        ]


class _PhraseIndex:
    """Whole names in the question are the strongest signal there is ('투명 페트병'). The
    question's substrings are looked up, rather than every name searched for in it."""

    def __init__(self, items: Sequence[WasteItem]) -> None:
        self._hangul: dict[str, set[int]] = defaultdict(set)
        self._latin: dict[str, set[int]] = defaultdict(set)
        for index, item in enumerate(items):
            for phrase, latin in _phrases(item):
                (self._latin if latin else self._hangul)[phrase].add(index)
        self._longest_hangul = max(map(len, self._hangul), default=0)
        self._longest_latin = max((len(p.split()) for p in self._latin), default=0)

    def bonuses(self, query: str) -> dict[int, float]:
        compact, spaced = _normalise(query)
        longest: dict[int, int] = {}
        for phrase in self._substrings(compact):
            for index in self._hangul.get(phrase, ()):
                longest[index] = max(longest.get(index, 0), len(phrase))
        latin = spaced.split()
        for size in range(1, self._longest_latin + 1):
            for start in range(len(latin) - size + 1):
                phrase = " ".join(latin[start : start + size])
                for index in self._latin.get(phrase, ()):
                    longest[index] = max(longest.get(index, 0), len(phrase))
        return {index: PHRASE_WEIGHT * length for index, length in longest.items()}

    def _substrings(self, text: str) -> set[str]:
        return {
            text[start : start + size]
            for size in range(2, min(self._longest_hangul, len(text)) + 1)
            for start in range(len(text) - size + 1)
        }


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
