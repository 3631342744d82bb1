"""Threads are issued by the server and belong to the principal they were issued to."""

from __future__ import annotations

from abc import ABC, abstractmethod


class ThreadRegistryPort(ABC):
    @abstractmethod
    async def issue(self, principal: str) -> str:
        """A new thread id, owned by `principal`."""

    @abstractmethod
    async def owner(self, thread_id: str) -> str | None:
        """Who owns the thread (keeping it alive), or None if there is no such thread."""
