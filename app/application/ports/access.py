"""Who may use the service and how much: API keys, threads, usage limits."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol

from app.domain.access import KeyInfo
from app.domain.llm import TokenUsage, UsageLimits


class ApiKeyStorePort(Protocol):
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


class ThreadRegistryPort(Protocol):
    @abstractmethod
    async def issue(self, principal: str) -> str:
        """A new thread id, owned by `principal`."""

    @abstractmethod
    async def owner(self, thread_id: str) -> str | None:
        """Who owns the thread (keeping it alive), or None if there is no such thread."""


class UsageLimiterPort(Protocol):
    @abstractmethod
    async def admit(self, principal: str) -> None:
        """Count one request; raise LimitExceeded (with retry_after) when over a limit."""

    @abstractmethod
    async def remaining(self, principal: str) -> UsageLimits:
        """What the principal may still spend today (None where there is no limit)."""

    @abstractmethod
    async def record(self, principal: str, usage: TokenUsage) -> None:
        """Add a finished chat's tokens and cost to the principal's day."""


class PhotoQuotaPort(Protocol):
    @abstractmethod
    async def take(self, principal: str, size: int) -> None:
        """Count one photo of `size` bytes against the principal's day; raise LimitExceeded
        (with retry_after), counting nothing, when it would go over."""
