"""Photos people upload: the gateway keeps them a while, the worker hands them to vision."""

from __future__ import annotations

from abc import ABC, abstractmethod


class PhotoStorePort(ABC):
    @abstractmethod
    async def save(self, data: bytes, mime: str) -> str:
        """Keep the photo; returns its name (what `upload:<name>` refers to)."""

    @abstractmethod
    async def load(self, name: str) -> tuple[bytes, str] | None:
        """The photo and its MIME type, or None when unknown or expired."""
