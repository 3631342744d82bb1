"""A small key-value cache with expiry."""

from __future__ import annotations

from abc import ABC, abstractmethod


class CachePort(ABC):
    """Best effort: implementations swallow their own outages (a miss, a skipped write)."""

    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...
