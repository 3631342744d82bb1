"""What the retriever asks of a morphology: each word's stem, its nouns, whether it is a verb;
and, across words, noun phrases with their spacing normalised ('우유 팩' and '우유팩' alike)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from app.infrastructure.korean_text import is_hangul_word, words

MAX_PHRASE_WORDS = 4  # the longest name in the knowledge base is four words


@dataclass(frozen=True, slots=True)
class Word:
    """One word (a run of Hangul, or of Latin letters and digits) as analysed."""

    text: str  # as written, lower-cased: '우유팩은'
    stem: str  # particles and endings off: '우유팩'; a verb's dictionary stem: '헹궈야' -> '헹구'
    # More forms worth a token: a compound's nouns ('우유', '팩'); a verb's written form.
    parts: tuple[str, ...] = ()
    verb: bool = False  # a predicate is no misspelt name: '헹궈야' must not meet '행거'
    bare: bool = False  # a noun with nothing glued on, so the next word's noun may extend it
    modifier: bool = False  # a verb form that modifies the next noun: '깨진' in '깨진 유리병'

    @property
    def noun(self) -> bool:
        return not self.verb and is_hangul_word(self.text)


class Morphology(ABC):
    """A Korean analyser; implementations differ only in how one word is analysed."""

    name: str

    @abstractmethod
    def word(self, word: str) -> Word:
        """Analyse one lower-cased word (no spaces)."""

    def words(self, text: str) -> list[Word]:
        return [self.word(w) for w in words(text)]

    def nouns(self, text: str) -> list[str]:
        """Noun stems and the nouns inside compounds, in order ('우유팩은' -> 우유팩 우유 팩)."""
        found: list[str] = []
        for word in self.words(text):
            if word.noun:
                found.append(word.stem)
                found.extend(word.parts)
        return found

    def noun_phrases(self, text: str) -> list[str]:
        """Runs of two or more nouns written apart, compacted: '투명 페트병은' -> '투명페트병'."""
        return joined_phrases(self.words(text))


def joined_phrases(analysed: Sequence[Word]) -> list[str]:
    """The spacing-normalised form of every noun run: each word but the last is a bare noun
    ('우유' in '우유 팩은'), the last one is a noun with or without its particle. Every run
    ending at a word counts, so '큰 투명 페트병' yields '투명페트병' as well as the whole. A
    verb form that modifies a noun ('깨진 유리병', '기름 묻은') joins a run as it is written."""
    found: list[str] = []
    run: list[str] = []
    for word in analysed:
        if not (word.modifier or word.noun):
            run = []
            continue
        run = [*run[-(MAX_PHRASE_WORDS - 1) :], word.text if word.modifier else word.stem]
        found.extend("".join(run[start:]) for start in range(len(run) - 1))
        if word.noun and not word.bare:
            run = []
    return found
