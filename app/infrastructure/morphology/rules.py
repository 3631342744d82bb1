"""The hand-written morphology: particle and ending rules, no model, no dictionary download."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from app.infrastructure.korean_text import PARTICLES, is_hangul_word, stem_english
from app.infrastructure.morphology.base import Morphology, Word

# Endings only verbs take (a noun may end in 고 or 아: 냉장고, 복숭아).
VERB_FORM = re.compile(
    r"(야|어요|아요|워요|해요|니다|나요|까요|돼요|돼|되나|죠"
    r"|려요|져요|쳐요|세요|어도|아도|워도|려도|어서|아서|워서|려서|궈서)$"
)
# Particles that may leave a one-syllable stem ('병은', '캔도'), each with the final consonant
# it needs: 은/을/이/과 follow a consonant, 는/를/가/와 a vowel ('종이' is 종 + 이 by the rule
# and a name in fact, so the known words are checked first).
AFTER_CONSONANT = frozenset("은 을 이 과 이랑 으로 은요 이나 이에요 인가요".split())
AFTER_VOWEL = frozenset("는 를 가 와 랑 로 는요 나 예요".split())
AFTER_EITHER = frozenset("도 만 에 에서 에는 에도 의 까지 부터 하고 요".split())
CACHE_SIZE = 65536


def has_final(syllable: str) -> bool:
    return (ord(syllable) - 0xAC00) % 28 != 0


def _fits(stem: str, particle: str) -> bool:
    if len(stem) >= 2:
        return True
    if particle in AFTER_EITHER:
        return True
    if particle in AFTER_CONSONANT:
        return has_final(stem)
    if particle in AFTER_VOWEL:
        return not has_final(stem) or (particle == "로" and (ord(stem) - 0xAC00) % 28 == 8)
    return False


class RuleMorphology(Morphology):
    """Particles off by rule, verbs by their endings, compounds split where both halves are
    known words. `known` are the knowledge base's own words: a name is never cut ('종이')."""

    name = "rules"

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._known = frozenset(w for w in known if is_hangul_word(w))
        self._word = lru_cache(maxsize=CACHE_SIZE)(self._analyse)

    def word(self, word: str) -> Word:
        return self._word(word)

    def strip_particle(self, word: str) -> str:
        """'페트병은' -> '페트병', '병은' -> '병'; a known word stays whole."""
        if word in self._known:
            return word
        for particle in PARTICLES:
            if word.endswith(particle) and len(word) > len(particle):
                stem = word[: -len(particle)]
                if _fits(stem, particle):
                    return stem
        return word

    def _analyse(self, word: str) -> Word:
        if not is_hangul_word(word):
            return Word(word, stem_english(word))
        stem = self.strip_particle(word)
        verb = bool(VERB_FORM.search(word)) and word not in self._known
        return Word(word, stem, self._parts(stem), verb=verb, bare=stem == word and not verb)

    def _parts(self, stem: str) -> tuple[str, ...]:
        """'우유팩' -> ('우유', '팩') when both are known words; the longest head wins."""
        for cut in range(len(stem) - 1, 0, -1):
            head, tail = stem[:cut], stem[cut:]
            if head in self._known and tail in self._known:
                return (head, tail)
        return ()
