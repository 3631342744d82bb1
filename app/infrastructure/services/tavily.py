"""Tavily web search: results become cited sources in the answer."""

from __future__ import annotations

from typing import Any

from app.application.ports.llm import MalformedResponse
from app.application.ports.tools import WebSearchPort
from app.domain.tools import SearchResult
from app.infrastructure.services.http import ServiceHttp


class TavilyWebSearch(WebSearchPort):
    def __init__(self, http: ServiceHttp, *, search_depth: str = "basic") -> None:
        self._http = http
        self._depth = search_depth

    async def search(self, query: str, max_results: int = 5) -> list[SearchResult]:
        body = await self._http.post_json(
            "/search",
            {
                "query": query,
                "max_results": max_results,
                "search_depth": self._depth,
                "include_answer": False,
            },
        )
        results: Any = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise MalformedResponse("no results in the answer", provider="tavily")
        return [
            SearchResult(title=r.get("title", ""), url=r["url"], snippet=r.get("content", "")[:300])
            for r in results
            if isinstance(r, dict) and r.get("url")
        ][:max_results]
