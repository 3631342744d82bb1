"""Map search (places near a point or an address)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.chat import Location
from app.domain.tools import Place


class LocationClientPort(ABC):
    """Keyword search, optionally near a coordinate, nearest first when one is given."""

    @abstractmethod
    async def search(
        self, query: str, near: Location | None = None, radius_m: int = 2000, limit: int = 5
    ) -> list[Place]: ...
