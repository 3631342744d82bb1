"""Kiwi (kiwipiepy) as the morphology: a statistical analyser whose model ships in the
kiwipiepy-model package, so nothing is downloaded at run time."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from app.infrastructure.korean_text import is_hangul_word, stem_english
from app.infrastructure.morphology.base import Morphology, Word

if TYPE_CHECKING:
    from kiwipiepy import Token

# Tags that make up a noun stem: nouns, numbers, foreign words, roots, noun prefixes/suffixes.
NOUN_TAGS = frozenset("NNG NNP NNB NR NP SL SN SH XR XPN XSN".split())
PART_TAGS = frozenset("NNG NNP SL".split())
# What turns a stem into a predicate: verbs, adjectives, and 하다/되다 suffixes ('분리해요').
PREDICATE_TAGS = ("VV", "VA", "VX", "VCN", "XSV", "XSA")
CACHE_SIZE = 65536


class KiwiMorphology(Morphology):
    """Each word analysed by Kiwi on its own (words repeat across the knowledge base and the
    questions, so a bounded cache serves most of them). Loading the model takes seconds: the
    container builds this once per process, at start-up."""

    name = "kiwi"

    def __init__(self, kiwi: Any = None) -> None:
        if kiwi is None:
            from kiwipiepy import Kiwi  # imported here: the import alone loads a native library

            # num_workers=0: one word at a time gains nothing from Kiwi's thread pool.
            kiwi = Kiwi(num_workers=0)
        self._kiwi = kiwi
        self._word = lru_cache(maxsize=CACHE_SIZE)(self._analyse)

    def word(self, word: str) -> Word:
        return self._word(word)

    def _analyse(self, word: str) -> Word:
        if not is_hangul_word(word):
            return Word(word, stem_english(word))
        return analysed(word, self._kiwi.tokenize(word))


def analysed(word: str, tokens: Sequence[Token]) -> Word:
    """A word from Kiwi's morphemes: the leading nouns are the stem (sliced from the word as
    written, so '병은' gives '병'); a word that starts with a predicate is a verb, kept by its
    dictionary form ('헹궈야' -> '헹구') so every ending of it meets the others."""
    lead = 0
    while lead < len(tokens) and tokens[lead].tag in NOUN_TAGS:
        lead += 1
    if lead == 0:
        first = tokens[0] if tokens else None
        if first is not None and first.tag.startswith(PREDICATE_TAGS):
            return Word(word, first.form, verb=True)
        return Word(word, word)
    nouns = tokens[:lead]
    rest = tokens[lead:]
    parts = tuple(t.form for t in nouns if t.tag in PART_TAGS)
    return Word(
        word,
        word[: nouns[-1].end],
        parts if len(parts) >= 2 else (),
        verb=bool(rest) and rest[0].tag.startswith(PREDICATE_TAGS),
        bare=not rest,
    )
