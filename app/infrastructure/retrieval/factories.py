"""Retriever builders the container calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.application.ports.retriever import RetrieverPort
from app.infrastructure.retrieval.bm25 import BM25Retriever
from app.infrastructure.retrieval.knowledge_base import load_items
from app.settings import RetrievalSettings

if TYPE_CHECKING:
    from openai import AsyncOpenAI


def bm25_retriever() -> RetrieverPort:
    return BM25Retriever(load_items())


def embedding_retriever(settings: RetrievalSettings, client: AsyncOpenAI) -> RetrieverPort:
    from app.infrastructure.retrieval.embeddings import OpenAIEmbeddingRetriever

    return OpenAIEmbeddingRetriever(client, load_items(), model=settings.embedding_model)
