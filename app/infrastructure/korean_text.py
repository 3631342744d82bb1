"""Korean-aware word handling shared by the offline provider and the retriever.

Korean glues particles and endings to nouns ('페트병은', '건전지랑') and writes compounds
without spaces ('폐건전지'); English pluralises. These helpers undo just enough of that for
keyword matching, with no model or dictionary download.
"""

from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"[0-9A-Za-z]+|[\uac00-\ud7a3]+")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
PARTICLES = sorted(
    (
        "은 는 이 가 을 를 에 에서 으로 로 도 요 의 와 과 랑 이랑 하고 까지 부터 만 은요 는요 이요"
        " 에는 에도 이나 나 이에요 예요 인가요 인데 같은"
    ).split(),
    key=len,
    reverse=True,
)


def is_hangul_word(word: str) -> bool:
    return bool(HANGUL.match(word))


@lru_cache(maxsize=65536)
def strip_particle(word: str) -> str:
    """'페트병은' -> '페트병' (keeps at least two syllables)."""
    for particle in PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            return word[: -len(particle)]
    return word


def stem_english(word: str) -> str:
    """Plural and -ing endings off English words, so 'umbrellas' meets 'umbrella'."""
    if not word.isascii() or len(word) <= 3:
        return word
    for suffix, keep in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("ing", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + keep
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def bigrams(word: str) -> list[str]:
    return [word[i : i + 2] for i in range(len(word) - 1)]


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


# Hangul syllable = 0xAC00 + (initial * 21 + medial) * 28 + final
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
FINALS = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
# Vowels people swap when typing (ㅐ/ㅔ, ㅒ/ㅖ, ㅙ/ㅚ/ㅞ) fold to one letter.
FOLD = str.maketrans({"ㅐ": "ㅔ", "ㅒ": "ㅖ", "ㅙ": "ㅞ", "ㅚ": "ㅞ"})


def jamo(word: str) -> str:
    """'샴푸' -> 'ㅅㅑㅁㅍㅜ': letters, so one wrong vowel changes one letter, not a syllable."""
    letters = []
    for ch in word:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            letters.append(INITIALS[code // 588])
            letters.append(MEDIALS[(code % 588) // 28])
            if code % 28:
                letters.append(FINALS[code % 28])
        else:
            letters.append(ch)
    return "".join(letters).translate(FOLD)
