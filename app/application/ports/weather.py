"""Weather at a place (for "can I put the recycling out tonight?")."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.chat import Location
from app.domain.tools import WeatherReport


class WeatherClientPort(ABC):
    @abstractmethod
    async def forecast(self, location: Location | None, place: str | None = None) -> WeatherReport:
        """The forecast at `location`, or at `place` (geocoded by the adapter) without one."""
