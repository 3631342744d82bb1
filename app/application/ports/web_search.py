"""Web search for recent or open-ended questions."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.tools import SearchResult


class WebSearchPort(ABC):
    @abstractmethod
    async def search(self, query: str, max_results: int = 5) -> list[SearchResult]: ...
