"""Retrieval with each morphology: one-syllable names with their particle, spacing variants of a
name, the setting that picks the morphology, and `ask` answering from it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.containers import CliContainer
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.retrieval.bm25 import BM25Retriever
from app.infrastructure.retrieval.knowledge_base import load_items
from app.settings import load_settings


@pytest.fixture(scope="module")
def retriever(morphology: Morphology) -> BM25Retriever:
    return BM25Retriever(load_items(), morphology)


@pytest.mark.parametrize(
    ("question", "item"),
    [
        ("병은 어떻게 버려?", "glass-beverage-bottle"),
        ("캔은 어떻게 버려?", "can-beverage"),
        ("캔 어디에 버려요", "can-beverage"),
        ("우유 팩은 어떻게 버려?", "paper-pack-milk-carton"),
        ("우유팩은 어떻게 버려?", "paper-pack-milk-carton"),
        ("두유 팩 어떻게 버려요?", "paper-pack-aseptic-carton"),
        ("두유팩 어떻게 버려요?", "paper-pack-aseptic-carton"),
    ],
)
def test_the_item_named_ranks_first(retriever: BM25Retriever, question: str, item: str) -> None:
    hits = retriever.rank(question, 3)
    assert hits, question
    assert hits[0].item.id == item, [h.item.id for h in hits]
    assert hits[0].exact


def test_a_name_inside_a_longer_question_is_not_taken_for_the_whole(
    retriever: BM25Retriever,
) -> None:
    # '병' alone is the glass bottle; '맥주병은' is still the beer bottle.
    assert retriever.rank("맥주병은 어떻게 버려?", 1)[0].item.id == "glass-beer-bottle"
    assert retriever.rank("깨진 병은 어떻게 버려?", 1)[0].item.id == "general-broken-glass"


@pytest.mark.parametrize(
    ("choice", "name"), [("rules", "rules"), ("kiwi", "kiwi"), ("auto", "kiwi")]
)
def test_the_setting_picks_the_morphology(choice: str, name: str) -> None:
    container = CliContainer(settings=load_settings(retrieval={"morphology": choice}))
    morphology = container.retrieval.morphology()
    assert morphology.name == name
    assert container.retrieval.morphology() is morphology  # one per process


@pytest.mark.parametrize("choice", ["kiwi", "rules"])
@pytest.mark.parametrize(
    ("question", "answer"),
    [("병은 어떻게 버려?", "음료 유리병"), ("캔은 어떻게 버려?", "음료수 캔")],
)
def test_ask_answers_the_item(choice: str, question: str, answer: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "ask", question],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "APP_RETRIEVAL__MORPHOLOGY": choice},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(answer), result.stdout
