"""What the tool ports return: places, forecasts, prices, search results, images."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.domain.chat import Location
from app.domain.waste import WasteCategory, WasteItem


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class RetrievedItem(Frozen):
    item: WasteItem
    score: float
    exact: bool = False  # the item's name or an alias appears in the question
    # The retriever stands behind this hit on its own: an exact name, or a match strong by
    # its own scale. Scores compare only within one ranking; this is what callers may test.
    confident: bool = False


class VisionResult(Frozen):
    """What a photo shows, as far as disposal is concerned."""

    item_name: str = Field(description="the object in the photo, e.g. '투명 페트병'")
    category: WasteCategory | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    description: str = ""


class Character(Frozen):
    name: str
    category: WasteCategory
    description: str
    image_url: str | None = None


class Place(Frozen):
    name: str
    address: str
    location: Location | None = None
    distance_m: int | None = None
    category: str = ""
    url: str | None = None


class SearchResult(Frozen):
    title: str
    url: str
    snippet: str = ""


class BulkWasteInfo(Frozen):
    item: str
    district: str | None = None
    how_to: str
    fee_won: int | None = None
    size: str | None = None
    source: str | None = None


class WeatherReport(Frozen):
    summary: str
    temperature_c: float | None = None
    precipitation_probability: int | None = Field(default=None, ge=0, le=100)
    source: str = ""


class CollectionPoint(Frozen):
    name: str
    kind: str
    address: str
    distance_m: int | None = None
    location: Location | None = None


class PriceQuote(Frozen):
    material: str
    region: str | None
    won_per_kg: float
    surveyed: str
    source: str = ""


class GeneratedImage(Frozen):
    url: str
    prompt: str
