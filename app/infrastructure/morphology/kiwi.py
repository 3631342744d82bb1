"""Kiwi (kiwipiepy) as the morphology: a statistical analyser whose model ships in the
kiwipiepy-model package, so nothing is downloaded at run time."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from app.infrastructure.korean_text import is_hangul_word, stem_english
from app.infrastructure.morphology.base import Morphology, Word

if TYPE_CHECKING:
    from kiwipiepy import Token

# Tags that make up a noun stem: nouns, numbers, foreign words, roots, noun prefixes/suffixes.
NOUN_TAGS = frozenset("NNG NNP NNB NR NP SL SN SH XR XPN XSN".split())
PART_TAGS = frozenset("NNG NNP SL".split())
# What turns a stem into a predicate: verbs, adjectives, and 하다/되다 suffixes ('분리해요').
PREDICATE_TAGS = ("VV", "VA", "VX", "VCN", "XSV", "XSA")
# Endings no name ends in: a name Kiwi reads with one ('휴지심' as 휴지+이+시+ㅁ, '유산지' as
# 유사+이+ㄴ지) is one it does not know, and is taught as a noun.
MISREAD_TAGS = frozenset("EF EP ETN".split())
# A verb reading this close (in log-probability) to a noun reading is no sure verb: '베게' is
# 베+게 by a hair over the noun, and is in fact 베개 misspelt.
AMBIGUITY_MARGIN = 2.0
CACHE_SIZE = 65536


class KiwiMorphology(Morphology):
    """Each word analysed by Kiwi on its own (words repeat across the knowledge base and the
    questions, so a bounded cache serves most of them). Loading the model takes about a second
    of CPU: the container builds this once per process, at start-up.

    `taught`: nouns added to Kiwi's dictionary before its first analysis, so its model is built
    once (`taught_from` finds them, at the price of a second build; the keyword index ships
    the list it found)."""

    name = "kiwi"

    def __init__(self, taught: Iterable[str] = ()) -> None:
        from kiwipiepy import Kiwi  # imported here: the import alone loads a native library

        # Without the multi-word and typo dictionaries: a third of the load time, and neither
        # helps here (names are taught below; the speller corrects misspellings). No thread
        # pool (num_workers=0; the default starts one thread per core): one word at a time
        # needs none, and a process may fork after loading Kiwi (`worker.processes`), where
        # a pool's threads would not follow. (kiwipiepy warns that 0 meant "all cores" before
        # 0.21; it is pinned above that.)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "behavior of `num_workers=0`", DeprecationWarning)
            self._kiwi = Kiwi(num_workers=0, load_multi_dict=False, load_typo_dict=False)
        self.taught: tuple[str, ...] = ()
        self._teach(taught)
        self._kiwi.tokenize("")  # Kiwi builds its model on the first analysis: here, not in a chat
        self._word = lru_cache(maxsize=CACHE_SIZE)(self._analyse)

    @classmethod
    def taught_from(cls, known: Iterable[str]) -> KiwiMorphology:
        """Kiwi taught the nouns of `known` it misreads. All are found before any is added:
        each addition makes the next analysis rebuild the model."""
        kiwi = cls()
        kiwi._teach(
            word
            for word in sorted({w for w in known if is_hangul_word(w)})
            if _misread(kiwi._kiwi.tokenize(word))
        )
        kiwi._kiwi.tokenize("")  # the model again, with them
        return kiwi

    def _teach(self, words: Iterable[str]) -> None:
        added = tuple(words)
        for word in added:
            self._kiwi.add_user_word(word, "NNG")
        self.taught += added

    def word(self, word: str) -> Word:
        return self._word(word)

    def _analyse(self, word: str) -> Word:
        if not is_hangul_word(word):
            return Word(word, stem_english(word))
        found = analysed(word, self._kiwi.tokenize(word))
        if found.verb and self._could_be_noun(word):
            return Word(word, word, bare=True)
        return found

    def _could_be_noun(self, word: str) -> bool:
        """Whether a reading as a noun (with particles) comes close to the best one."""
        readings = self._kiwi.analyze(word, top_n=3)
        best = readings[0][1]
        return any(
            best - score <= AMBIGUITY_MARGIN
            and all(t.tag in NOUN_TAGS or t.tag.startswith("J") for t in tokens)
            for tokens, score, *_ in readings[1:]
        )


def _misread(tokens: Sequence[Token]) -> bool:
    """A noun with an ending no name has: '휴지심' read as 휴지+이+시+ㅁ."""
    tags = {t.tag for t in tokens}
    return bool(tags & NOUN_TAGS) and bool(tags & MISREAD_TAGS)


def analysed(word: str, tokens: Sequence[Token]) -> Word:
    """A word from Kiwi's morphemes. The stem runs up to the last noun, sliced from the word as
    written ('병은' -> '병', '빈병' -> '빈병' though 빈 is a verb form); its nouns are the parts.
    A word with no noun is a verb when it starts with a predicate, kept by its dictionary form
    ('헹궈야' -> '헹구') so that every ending of it meets the others, and by its written form
    as a part."""
    last = max((i for i, t in enumerate(tokens) if t.tag in NOUN_TAGS), default=-1)
    if last < 0:
        if tokens and tokens[0].tag.startswith(PREDICATE_TAGS):
            # The form as written stays a token too: '깨진' in '깨진 유리병' names an item.
            written = (word,) if word != tokens[0].form else ()
            return Word(word, tokens[0].form, written, verb=True, modifier=tokens[-1].tag == "ETM")
        return Word(word, word)
    stem = word[: tokens[last].end]
    rest = tokens[last + 1 :]
    parts = tuple(t.form for t in tokens[: last + 1] if t.tag in PART_TAGS)
    return Word(
        word,
        stem,
        parts if parts != (stem,) else (),
        verb=bool(rest) and rest[0].tag.startswith(PREDICATE_TAGS),  # '분리해요'
        bare=not rest,
    )
