"""What the graph's tools look things up in: the knowledge base, external services."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol

from app.domain.chat import Location
from app.domain.tools import (
    BulkWasteInfo,
    Character,
    CollectionPoint,
    GeneratedImage,
    Place,
    PriceQuote,
    RetrievedItem,
    SearchResult,
    WeatherReport,
)
from app.domain.waste import WasteCategory


class RetrieverPort(Protocol):
    """Finds waste items for a question in Korean or English, best first."""

    @abstractmethod
    async def search(self, query: str, k: int = 3) -> list[RetrievedItem]: ...


class BulkWastePort(Protocol):
    @abstractmethod
    async def lookup(self, item: str, district: str | None = None) -> list[BulkWasteInfo]: ...


class CharacterPort(Protocol):
    """Looks up characters by category or by name."""

    @abstractmethod
    async def for_category(self, category: WasteCategory) -> Character | None: ...

    @abstractmethod
    async def find(self, name: str) -> Character | None: ...

    @abstractmethod
    async def names(self) -> list[str]:
        """Every character name, so the intent classifier can spot them in a message."""


class CollectionPointPort(Protocol):
    """`kind` is what is collected: battery, fluorescent_lamp, medicine, clothing, e_waste..."""

    @abstractmethod
    async def nearby(
        self, kind: str, near: Location | None, place: str | None = None, limit: int = 5
    ) -> list[CollectionPoint]:
        """Nearest first; `place` (an address or landmark) is used when `near` is unknown."""


class ImageGeneratorPort(Protocol):
    @abstractmethod
    async def generate(self, prompt: str) -> GeneratedImage: ...


class LocationPort(Protocol):
    """Keyword search, optionally near a coordinate, nearest first when one is given."""

    @abstractmethod
    async def search(
        self, query: str, near: Location | None = None, radius_m: int = 2000, limit: int = 5
    ) -> list[Place]: ...


class RecyclablePricePort(Protocol):
    @abstractmethod
    async def prices(self, material: str, region: str | None = None) -> list[PriceQuote]: ...


class WeatherPort(Protocol):
    @abstractmethod
    async def forecast(self, location: Location | None, place: str | None = None) -> WeatherReport:
        """The forecast at `location`, or at `place` (geocoded by the adapter) without one."""


class WebSearchPort(Protocol):
    @abstractmethod
    async def search(self, query: str, max_results: int = 5) -> list[SearchResult]: ...
