"""Knowledge-base search."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.tools import RetrievedItem


class RetrieverPort(ABC):
    """Finds waste items for a question in Korean or English, best first."""

    @abstractmethod
    async def search(self, query: str, k: int = 3) -> list[RetrievedItem]: ...
