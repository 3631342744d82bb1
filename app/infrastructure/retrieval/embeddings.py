"""Embedding retrieval through the OpenAI embeddings API, fused with BM25 by reciprocal rank."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from openai import AsyncOpenAI

from app.application.ports.tools import RetrieverPort
from app.domain.errors import DomainError
from app.domain.tools import RetrievedItem
from app.domain.waste import WasteItem
from app.infrastructure.llm.openai_errors import translate_error
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.retrieval.bm25 import BM25Retriever
from app.infrastructure.retrieval.index import KeywordIndex, body_text, name_text

BATCH = 96
# Cosine above which the embedding alone vouches for a hit. Not measured here (no embedding
# endpoint is reachable offline): a conservative cut for text-embedding-3, whose related texts
# mostly land between 0.4 and 0.7. Tune it with `python -m app eval` against a real key.
CONFIDENT_COSINE = 0.6
RRF_K = 60  # the usual reciprocal-rank-fusion constant


class OpenAIEmbeddingRetriever(RetrieverPort):
    """Embeds the knowledge base once (on first use), then one query embedding per search.

    Rankings from cosine similarity and from BM25 are fused (RRF), so exact names and typos
    that keyword search catches are not lost to the embedding's fuzziness, and vice versa.
    """

    def __init__(
        self,
        client: AsyncOpenAI,
        items: Sequence[WasteItem],
        *,
        model: str,
        morphology: Morphology,
        index: KeywordIndex | None = None,
    ) -> None:
        self._client = client
        self._items = list(items)
        self._model = model
        self._keyword = BM25Retriever(self._items, morphology, index)
        self._vectors: list[list[float]] | None = None
        self._lock = asyncio.Lock()

    async def search(self, query: str, k: int = 3) -> list[RetrievedItem]:
        vectors = await self._document_vectors()
        (query_vector,) = await self._embed([query])
        by_cosine = sorted(
            range(len(self._items)), key=lambda i: -_cosine(query_vector, vectors[i])
        )
        keyword = {self._items.index(hit.item): hit for hit in self._keyword.rank(query, 20)}
        fused: dict[int, float] = {}
        for ranking in (by_cosine[:20], list(keyword)):
            for rank, index in enumerate(ranking):
                fused[index] = fused.get(index, 0.0) + 1 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))[:k]
        return [
            RetrievedItem(
                item=self._items[i],
                score=round(s, 6),
                exact=i in keyword and keyword[i].exact,
                confident=(i in keyword and keyword[i].confident)
                or _cosine(query_vector, vectors[i]) >= CONFIDENT_COSINE,
            )
            for i, s in best
        ]

    async def _document_vectors(self) -> list[list[float]]:
        async with self._lock:
            if self._vectors is None:
                texts = [f"{name_text(i)}\n{body_text(i)}" for i in self._items]
                vectors: list[list[float]] = []
                for start in range(0, len(texts), BATCH):
                    vectors.extend(await self._embed(texts[start : start + BATCH]))
                self._vectors = vectors
            return self._vectors

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        try:
            response = await self._client.embeddings.create(model=self._model, input=texts)
        except DomainError:
            raise
        except Exception as exc:
            raise translate_error(exc) from exc
        ordered = sorted(response.data, key=lambda d: d.index)
        return [list(d.embedding) for d in ordered]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
