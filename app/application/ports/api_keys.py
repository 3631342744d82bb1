"""Where API keys are kept (hashed): a local file, or PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.access import KeyInfo


class ApiKeyStorePort(ABC):
    @abstractmethod
    async def add(self, info: KeyInfo) -> None:
        """Store a new key's record."""

    @abstractmethod
    async def find(self, key_id: str) -> KeyInfo | None:
        """The record of a key id, revoked or not."""

    @abstractmethod
    async def all_keys(self) -> list[KeyInfo]:
        """Every key, oldest first."""

    @abstractmethod
    async def revoke(self, key_id: str) -> bool:
        """Mark a key revoked; False if no such active key."""
