"""Retriever and morphology builders the container calls."""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Literal

from app.application.ports.tools import RetrieverPort
from app.infrastructure.korean_text import words
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.morphology.rules import RuleMorphology
from app.infrastructure.retrieval.bm25 import BM25Retriever
from app.infrastructure.retrieval.index import (
    KeywordIndex,
    index_path,
    name_text,
    shipped_index,
    write_index,
)
from app.infrastructure.retrieval.knowledge_base import load_items
from app.settings import RetrievalSettings

if TYPE_CHECKING:
    from openai import AsyncOpenAI

MORPHOLOGIES = ("kiwi", "rules")


def morphology_choice(settings: RetrievalSettings) -> Literal["kiwi", "rules"]:
    """`auto` is Kiwi when kiwipiepy is installed (looked up, not imported), else the rules."""
    if settings.morphology == "auto":
        return "kiwi" if find_spec("kiwipiepy") is not None else "rules"
    return settings.morphology


def keyword_index(morphology: str) -> KeywordIndex | None:
    """The keyword index shipped for this morphology, if it matches the knowledge base."""
    return shipped_index(load_items(), morphology)


def kiwi_morphology(index: KeywordIndex | None = None) -> Morphology:
    """Kiwi is taught the knowledge base's names it misreads ('휴지심'): the shipped index's
    list, or found now (about a second of CPU more)."""
    from app.infrastructure.morphology.kiwi import KiwiMorphology

    if index is not None:
        return KiwiMorphology(index.taught)
    return KiwiMorphology.taught_from(_name_words())


def rule_morphology() -> Morphology:
    """The rules know the knowledge base's words, so no name is cut as if it had a particle."""
    return RuleMorphology(_name_words())


def _name_words() -> list[str]:
    return [w for item in load_items() for w in words(name_text(item))]


def bm25_retriever(morphology: Morphology, index: KeywordIndex | None = None) -> RetrieverPort:
    return BM25Retriever(load_items(), morphology, index)


def embedding_retriever(
    settings: RetrievalSettings,
    client: AsyncOpenAI,
    morphology: Morphology,
    index: KeywordIndex | None = None,
) -> RetrieverPort:
    from app.infrastructure.retrieval.embeddings import OpenAIEmbeddingRetriever

    return OpenAIEmbeddingRetriever(
        client, load_items(), model=settings.embedding_model, morphology=morphology, index=index
    )


def write_keyword_indexes() -> list[str]:
    """Build every morphology's index from the knowledge base and write the stale ones (a build
    step: `python -m app index`); the lines to print."""
    built = {"kiwi": kiwi_morphology, "rules": rule_morphology}
    report = []
    for name in MORPHOLOGIES:
        path = index_path(name)
        changed = write_index(load_items(), built[name](), path)
        report.append(f"{'wrote' if changed else 'up to date'}: {path}")
    return report
