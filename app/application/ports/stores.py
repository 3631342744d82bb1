"""Small stores the chat uses: a cache, uploaded photos."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class CachePort(Protocol):
    """Best effort: implementations swallow their own outages (a miss, a skipped write)."""

    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...


class PhotoStorePort(Protocol):
    @abstractmethod
    async def save(self, data: bytes, mime: str) -> str:
        """Keep the photo; returns its name (what `upload:<name>` refers to)."""

    @abstractmethod
    async def load(self, name: str) -> tuple[bytes, str] | None:
        """The photo and its MIME type, or None when unknown or expired."""
