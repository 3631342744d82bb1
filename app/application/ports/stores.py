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


class OwnedPhotoStorePort(PhotoStorePort, Protocol):
    """Photos kept for one principal (POST /api/v1/images): the bytes under their name (as the
    workers read any uploaded photo), and who owns them on which channel."""

    @abstractmethod
    async def put(self, name: str, channel: str, owner: str, data: bytes, mime: str) -> bool:
        """Keep the photo under `name` unless that name is taken; False when it is."""

    @abstractmethod
    async def owner(self, name: str) -> tuple[str, str] | None:
        """(channel, owner) of the photo, or None when it has no owner or expired."""
