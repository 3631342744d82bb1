"""Index and query tokens, each with a weight: whole words count most; Hangul bigrams, jamo
trigrams (Korean typos: 샴프통 for 샴푸통) and Latin trigrams (umbrela) catch near misses."""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache

from app.infrastructure.korean_text import (
    bigrams,
    is_hangul_word,
    jamo,
    stem_english,
    strip_particle,
    words,
)

# Endings only verbs take (a noun may end in 고 or 아: 냉장고, 복숭아).
VERB_FORM = re.compile(r"(야|어요|아요|워요|해요|니다|나요|까요|돼요|돼|되나|죠)$")
WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
FUZZY_WEIGHT = 0.5  # one trigram is a weak hint; a word gives several of them

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


def weighted_tokens(text: str) -> defaultdict[str, float]:
    """Token -> summed weight (term frequency matters to BM25, so repeats add up)."""
    found: defaultdict[str, float] = defaultdict(float)
    for word in words(text):
        for token, weight in word_tokens(word):
            found[token] += weight
    return found


@lru_cache(maxsize=65536)
def word_tokens(word: str) -> tuple[tuple[str, float], ...]:
    """One word's tokens; cached, since the knowledge base and questions repeat words."""
    if word in QUESTION_WORDS:
        return ()
    found: list[tuple[str, float]] = []
    if is_hangul_word(word):
        stem = strip_particle(word)
        if stem in QUESTION_WORDS:
            return ()
        found.append((stem, WORD_WEIGHT))
        found.extend((f"#{gram}", BIGRAM_WEIGHT) for gram in bigrams(stem))
        if VERB_FORM.search(word):
            return tuple(found)  # a verb is no misspelt name: '헹궈야' must not meet '행거'
        letters = jamo(stem)
        found.extend((f"~{letters[i : i + 3]}", FUZZY_WEIGHT) for i in range(len(letters) - 2))
    else:
        stem = stem_english(word)
        found.append((stem, WORD_WEIGHT))
        if len(stem) >= 5:
            found.extend((f"~{stem[i : i + 3]}", FUZZY_WEIGHT) for i in range(len(stem) - 2))
    return tuple(found)
