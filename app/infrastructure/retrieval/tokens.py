"""Index and query tokens, each with a weight: whole words count most; Hangul bigrams, jamo
trigrams (Korean typos: 샴프통 for 샴푸통) and Latin trigrams (umbrela) catch near misses.
Words come from a morphology (Kiwi or the rules), which also joins nouns written apart, so
'우유 팩' carries the token '우유팩' and '우유팩' the tokens '우유' and '팩'."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

from app.infrastructure.korean_text import bigrams, is_hangul_word, jamo
from app.infrastructure.morphology.base import Morphology, Word, joined_phrases

WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
FUZZY_WEIGHT = 0.5  # one trigram is a weak hint; a word gives several of them
PART_WEIGHT = 0.5  # a noun inside a compound: '팩' in '우유팩' says less than '우유팩'
PHRASE_WEIGHT = 1.0  # nouns written apart, joined: '우유 팩' -> '우유팩'
CACHE_SIZE = 65536

# Words every disposal question has; they say nothing about which item.
QUESTION_WORDS = frozenset(
    (
        "어떻게 어디 어디에 어디로 무엇 뭐 왜 언제 방법 버려 버려요 버리 버리는 버릴 버리나요"
        " 버리면 버려야 배출 배출해 배출하나요 처리 처리해 처리하나요 분리수거 분리배출 해요"
        " 하나요 돼요 되나요 되요 할까요 알려줘 알려주세요 궁금해요 있나요 주세요 좀 이거 이건"
        " 쓰레기 음쓰 버림 버려도 되나 맞지 맞아 어케 어떡해 치워요 버리려는데 버리고 싶어요"
        " 다 쓴 다쓴 안 거 것 그냥 같이 몇 개 좀 요즘 남은거 남은 못 쓰는 안쓰는 내놓으면"
        " 그럼 그러면 그리고 그건 그거 근데 그래서 혹시 아니면 또 건 건요 걸 게"
        " how do does what where when which can should i you my me the a an to of in on for"
        " and or it is are throw away dispose disposal get rid put recycle recycling trash bin"
        " garbage into with this that these those recyclable go out old used empty"
        " about also if so its they them one ones"
    ).split()
)
# Dictionary forms of the verbs every question has ('버려도' -> '버리'), for Kiwi's stems.
QUESTION_STEMS = frozenset("버리 하 되 있 없 어떻 알리 주 쓰 싶 궁금하 치우 내놓".split())


class Tokenizer:
    """Weighted tokens of a text under one morphology; each word's tokens are cached."""

    def __init__(self, morphology: Morphology) -> None:
        self.morphology = morphology
        self._word_tokens = lru_cache(maxsize=CACHE_SIZE)(self._tokens_of)

    def weighted(self, text: str) -> defaultdict[str, float]:
        """Token -> summed weight (term frequency matters to BM25, so repeats add up)."""
        found: defaultdict[str, float] = defaultdict(float)
        analysed = self._content_words(text)
        for word in analysed:
            for token, weight in self._word_tokens(word):
                found[token] += weight
            for part in word.parts:
                found[part] += PART_WEIGHT
        for phrase in joined_phrases(analysed):
            found[phrase] += PHRASE_WEIGHT
        return found

    def length(self, text: str) -> float:
        """A document's length for BM25: the words' own tokens, not the compound parts and
        joined phrases, which restate the words (counting them would make a name with many
        Korean compounds look long to an English query)."""
        return sum(w for word in self._content_words(text) for _, w in self._word_tokens(word))

    def _content_words(self, text: str) -> list[Word]:
        return [w for w in self.morphology.words(text) if w.text not in QUESTION_WORDS]

    def content_key(self, text: str) -> str:
        """The text's content words, stems joined without spaces: '병은 어떻게 버려?' -> '병',
        'Glass bottles' -> 'glassbottle'; a question whose key is a name asks about just that."""
        return "".join(w.stem for w in self._content_words(text) if self._word_tokens(w))

    def is_question_word(self, word: Word) -> bool:
        return (
            word.text in QUESTION_WORDS
            or word.stem in QUESTION_WORDS
            or (word.verb and word.stem in QUESTION_STEMS)
        )

    def _tokens_of(self, word: Word) -> tuple[tuple[str, float], ...]:
        if self.is_question_word(word):
            return ()
        stem = word.stem
        found: list[tuple[str, float]] = [(stem, WORD_WEIGHT)]
        if is_hangul_word(stem):
            found.extend((f"#{gram}", BIGRAM_WEIGHT) for gram in bigrams(stem))
            if word.verb:
                return tuple(found)  # a verb is no misspelt name: '헹궈야' must not meet '행거'
            letters = jamo(stem)
            found.extend((f"~{letters[i : i + 3]}", FUZZY_WEIGHT) for i in range(len(letters) - 2))
        elif len(stem) >= 5:
            found.extend((f"~{stem[i : i + 3]}", FUZZY_WEIGHT) for i in range(len(stem) - 2))
        return tuple(found)
