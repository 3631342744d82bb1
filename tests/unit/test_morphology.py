"""Both morphologies: particles off (one-syllable stems too), names kept whole, verbs seen as
verbs, nouns written apart joined ('우유 팩' = '우유팩')."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.infrastructure.korean_text import is_hangul_word, words
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.morphology.rules import RuleMorphology
from app.infrastructure.retrieval.index import name_text
from app.infrastructure.retrieval.knowledge_base import load_items
from tests.support.deadlines import PROCESS_SECONDS


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("병은", "병"),
        ("캔은", "캔"),
        ("캔도", "캔"),
        ("병이", "병"),
        ("차는", "차"),
        ("페트병은", "페트병"),
        ("건전지랑", "건전지"),
        ("우유팩을", "우유팩"),
        ("종이", "종이"),
        ("종이는", "종이"),
        ("유리는", "유리"),
        ("옷걸이", "옷걸이"),
        ("휴지심은", "휴지심"),
    ],
)
def test_particles_come_off_and_names_stay_whole(
    morphology: Morphology, word: str, stem: str
) -> None:
    analysed = morphology.word(word)
    assert analysed.stem == stem
    assert not analysed.verb


@pytest.mark.parametrize("word", ["헹궈야", "버려요", "돼요", "분리해요", "버려도"])
def test_verb_forms_are_verbs_not_nouns(morphology: Morphology, word: str) -> None:
    assert morphology.word(word).verb
    assert morphology.nouns(word) == []


def test_a_question_s_nouns_leave_its_verbs_out(morphology: Morphology) -> None:
    assert morphology.nouns("병은 헹궈야 돼요?") == ["병"]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [("우유 팩은 어떻게", "우유팩"), ("두유 팩", "두유팩"), ("큰 투명 페트병", "투명페트병")],
)
def test_nouns_written_apart_are_joined(morphology: Morphology, text: str, phrase: str) -> None:
    assert phrase in morphology.noun_phrases(text)


def test_a_compound_carries_its_nouns(morphology: Morphology) -> None:
    assert morphology.nouns("우유팩은") == ["우유팩", "우유", "팩"]


def test_no_phrase_across_a_particle_or_a_verb(morphology: Morphology) -> None:
    assert morphology.noun_phrases("우유는 팩에") == []
    assert morphology.noun_phrases("우유 버려요 팩") == []


def test_latin_words_are_stemmed_like_english(morphology: Morphology) -> None:
    assert morphology.word("bottles").stem == "bottle"


def test_the_rules_keep_every_knowledge_base_word_whole() -> None:
    known = [w for item in load_items() for w in words(name_text(item)) if is_hangul_word(w)]
    rules = RuleMorphology(known)
    assert [w for w in known if rules.word(w).stem != w] == []


def test_the_rules_cut_one_syllable_stems_only_where_the_particle_fits() -> None:
    rules = RuleMorphology()
    assert rules.word("병은").stem == "병"  # 은 after a consonant
    assert rules.word("차는").stem == "차"  # 는 after a vowel
    assert rules.word("나이").stem == "나이"  # 이 wants a consonant before it: a word, not 나+이
    assert rules.word("길로").stem == "길"  # 로 after ㄹ
    assert RuleMorphology(["종이"]).word("종이").stem == "종이"  # 종+이 fits, but it is a name


def test_kiwi_is_taught_the_names_it_misreads(kiwi: Morphology) -> None:
    taught = getattr(kiwi, "taught", ())
    assert "휴지심" in taught  # else 휴지+이+시+ㅁ
    assert "우유팩" not in taught  # read right as 우유 + 팩: left to Kiwi
    assert kiwi.word("휴지심은").stem == "휴지심"


def test_a_near_noun_verb_reading_stays_a_noun(morphology: Morphology) -> None:
    # '베게' (베개 misspelt) reads as 베+게 by a hair; it must stay open to spelling correction.
    assert not morphology.word("베게").verb


def test_nothing_loads_kiwi_at_import_time() -> None:
    statement = (
        "import sys, app.containers, app.containers, app.infrastructure.retrieval.bm25,"
        " app.infrastructure.morphology.kiwi; print('kiwipiepy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", statement],
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
        check=True,
    )
    assert result.stdout.strip() == "False"
