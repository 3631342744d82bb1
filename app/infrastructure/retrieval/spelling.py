"""Spelling correction against the knowledge base's own vocabulary (no dictionary download).

A word the base does not know is compared, letter by letter (jamo for Hangul), with the names
and aliases it does know; the closest within one or two edits stands in for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from app.infrastructure.korean_text import is_hangul_word, jamo
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.retrieval.tokens import QUESTION_WORDS

MIN_LETTERS = 4  # shorter words have too many neighbours to correct safely


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning limit + 1) once it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _letters(word: str) -> str:
    return jamo(word) if is_hangul_word(word) else word


def speller_words(vocabulary: Iterable[str], morphology: Morphology) -> tuple[set[str], set[str]]:
    """(the words corrections may give, the words that need none): the first as the knowledge
    base writes them, for a correction is tokenized again and a stem may be no word at all
    (Kiwi's '깨지' for '깨진'); the second adds their stems."""

    def written(word: str) -> str:
        return word if is_hangul_word(word) else morphology.word(word).stem

    spelt = {written(w) for w in vocabulary if w}
    return spelt, spelt | {morphology.word(w).stem for w in spelt}


class Speller:
    """Corrections among `spelt` (see `speller_words`, which the keyword index holds)."""

    def __init__(self, spelt: Iterable[str], known: Iterable[str], morphology: Morphology) -> None:
        self._morphology = morphology
        self._known = frozenset(known)
        self._by_trigram: defaultdict[str, set[str]] = defaultdict(set)
        for word in spelt:
            letters = _letters(word)
            for i in range(len(letters) - 2):
                self._by_trigram[letters[i : i + 3]].add(word)

    def corrections(self, words: Iterable[str]) -> list[str]:
        """The known word closest to each unknown one, when one is close enough."""
        found = []
        for raw in words:
            analysed = self._morphology.word(raw)
            word = analysed.stem
            if word in self._known or word in QUESTION_WORDS or analysed.verb:  # 헹궈야 ≠ 행거
                continue
            best = self.closest(word)
            if best is not None:
                found.append(best)
        return found

    def closest(self, word: str) -> str | None:
        letters = _letters(word)
        if len(letters) < MIN_LETTERS:
            return None
        limit = 1 if len(letters) < 7 else 2
        candidates: set[str] = set()
        for i in range(len(letters) - 2):
            candidates |= self._by_trigram.get(letters[i : i + 3], set())
        scored = sorted((edit_distance(letters, _letters(c), limit), len(c), c) for c in candidates)
        return scored[0][2] if scored and scored[0][0] <= limit else None
