"""Retriever and morphology builders the container calls."""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Literal

from app.application.ports.tools import RetrieverPort
from app.infrastructure.korean_text import words
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.morphology.rules import RuleMorphology
from app.infrastructure.retrieval.bm25 import BM25Retriever, name_text
from app.infrastructure.retrieval.knowledge_base import load_items
from app.settings import RetrievalSettings

if TYPE_CHECKING:
    from openai import AsyncOpenAI


def morphology_choice(settings: RetrievalSettings) -> Literal["kiwi", "rules"]:
    """`auto` is Kiwi when kiwipiepy is installed (looked up, not imported), else the rules."""
    if settings.morphology == "auto":
        return "kiwi" if find_spec("kiwipiepy") is not None else "rules"
    return settings.morphology


def kiwi_morphology() -> Morphology:
    """Kiwi is taught the knowledge base's names it misreads ('휴지심')."""
    from app.infrastructure.morphology.kiwi import KiwiMorphology

    return KiwiMorphology(_name_words())


def rule_morphology() -> Morphology:
    """The rules know the knowledge base's words, so no name is cut as if it had a particle."""
    return RuleMorphology(_name_words())


def _name_words() -> list[str]:
    return [w for item in load_items() for w in words(name_text(item))]


def bm25_retriever(morphology: Morphology) -> RetrieverPort:
    return BM25Retriever(load_items(), morphology)


def embedding_retriever(
    settings: RetrievalSettings, client: AsyncOpenAI, morphology: Morphology
) -> RetrieverPort:
    from app.infrastructure.retrieval.embeddings import OpenAIEmbeddingRetriever

    return OpenAIEmbeddingRetriever(
        client, load_items(), model=settings.embedding_model, morphology=morphology
    )
