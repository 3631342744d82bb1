"""The eco2 characters a user earns per disposal category."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.tools import Character
from app.domain.waste import WasteCategory


class CharacterClientPort(ABC):
    """Looks up characters by category or by name."""

    @abstractmethod
    async def for_category(self, category: WasteCategory) -> Character | None: ...

    @abstractmethod
    async def find(self, name: str) -> Character | None: ...

    @abstractmethod
    async def names(self) -> list[str]:
        """Every character name, so the intent classifier can spot them in a message."""
