"""Index and query tokens: words, particle-free stems, Hangul bigrams, Latin trigrams."""

from __future__ import annotations

from app.infrastructure.korean_text import (
    bigrams,
    is_hangul_word,
    stem_english,
    strip_particle,
    words,
)

# Words every disposal question has; they say nothing about which item.
QUESTION_WORDS = frozenset(
    (
        "어떻게 어디 어디에 어디로 무엇 뭐 왜 언제 방법 버려 버려요 버리 버리는 버릴 버리나요"
        " 버리면 버려야 배출 배출해 배출하나요 처리 처리해 처리하나요 분리수거 분리배출 해요"
        " 하나요 돼요 되나요 되요 할까요 알려줘 알려주세요 궁금해요 있나요 주세요 좀 이거 이건"
        " how do does what where when which can should i you my me the a an to of in on for"
        " and or it is are throw away dispose disposal get rid put recycle recycling trash bin"
        " garbage into with this that these those"
    ).split()
)


def tokens(text: str) -> list[str]:
    """Tokens with repeats (term frequency matters to BM25)."""
    found: list[str] = []
    for word in words(text):
        if word in QUESTION_WORDS:
            continue
        if is_hangul_word(word):
            stem = strip_particle(word)
            if stem in QUESTION_WORDS:
                continue
            found.append(stem)
            found.extend(f"#{gram}" for gram in bigrams(stem))
        else:
            stem = stem_english(word)
            found.append(stem)
            if len(stem) >= 5:  # typo tolerance for longer Latin words
                found.extend(f"~{stem[i : i + 3]}" for i in range(len(stem) - 2))
    return found
