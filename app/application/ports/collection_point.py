"""Collection bins and recycling centres near the user."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.chat import Location
from app.domain.tools import CollectionPoint


class CollectionPointClientPort(ABC):
    """`kind` is what is collected: battery, fluorescent_lamp, medicine, clothing, e_waste..."""

    @abstractmethod
    async def nearby(
        self, kind: str, near: Location | None, place: str | None = None, limit: int = 5
    ) -> list[CollectionPoint]:
        """Nearest first; `place` (an address or landmark) is used when `near` is unknown."""
