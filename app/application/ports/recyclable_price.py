"""Market prices of recyclable materials."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.tools import PriceQuote


class RecyclablePriceClientPort(ABC):
    @abstractmethod
    async def prices(self, material: str, region: str | None = None) -> list[PriceQuote]: ...
