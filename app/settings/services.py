"""Settings of the external services behind the graph's tool nodes (`services:` in YAML)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceSettings(Section):
    enabled: bool = False
    api_key: SecretStr | None = None
    base_url: str | None = None
    timeout: float = Field(default=10.0, gt=0)
    retries: int = Field(default=2, ge=0, le=5)  # on 429 (honouring Retry-After) and 5xx
    cache_ttl: int = Field(default=3600, ge=0)  # deterministic lookups, in Redis; 0 = off


class TavilySettings(ServiceSettings):
    search_depth: Literal["basic", "advanced"] = "basic"
    max_results: int = Field(default=5, gt=0, le=20)


class WeatherServiceSettings(ServiceSettings):
    """open_meteo needs no key; kma needs a public data portal key (api_key)."""

    provider: Literal["open_meteo", "kma"] = "open_meteo"
    geocoding_url: str = "https://geocoding-api.open-meteo.com"
    kma_base_url: str = "https://apis.data.go.kr"


class DatasetServiceSettings(ServiceSettings):
    """A public dataset downloaded as CSV (data portal); `path` points at it."""

    path: Path | None = None
    rules_path: Path | None = None  # bulk_waste: 전국생활쓰레기배출정보표준데이터 CSV (optional)


class ImageServiceSettings(ServiceSettings):
    provider: Literal["openai", "gemini"] = "openai"
    model: str = "gpt-image-1"
    size: str = "1024x1024"
    storage: Literal["local", "redis"] = "local"
    directory: Path = Path("var/images")
    ttl: int = Field(default=86400, gt=0)
    url_prefix: str = "/v1/images"


class CharacterServiceSettings(ServiceSettings):
    provider: Literal["catalog", "http"] = "catalog"


class CollectionPointSettings(ServiceSettings):
    """kakao: Kakao Local keyword search (KAKAO_API_KEY). keco: a data portal file-data API
    (odcloud) dataset of collection bins; api_key is the portal key, dataset_path its path."""

    provider: Literal["kakao", "keco"] = "kakao"
    dataset_path: str = ""
    page_size: int = Field(default=1000, gt=0, le=10000)
    columns: dict[str, str] = Field(
        default_factory=lambda: {
            "name": "설치장소명",
            "address": "소재지도로명주소",
            "latitude": "위도",
            "longitude": "경도",
        }
    )


class ServicesSettings(Section):
    kakao: ServiceSettings = ServiceSettings(base_url="https://dapi.kakao.com")
    tavily: TavilySettings = TavilySettings(base_url="https://api.tavily.com")
    weather: WeatherServiceSettings = WeatherServiceSettings(
        enabled=True, base_url="https://api.open-meteo.com", cache_ttl=1800
    )
    collection_points: CollectionPointSettings = CollectionPointSettings(
        base_url="https://api.odcloud.kr/api", cache_ttl=86400
    )
    character: CharacterServiceSettings = CharacterServiceSettings(enabled=True)
    bulk_waste: DatasetServiceSettings = DatasetServiceSettings()
    recyclable_prices: DatasetServiceSettings = DatasetServiceSettings()
    images: ImageServiceSettings = ImageServiceSettings(timeout=60.0)  # generation is slow

    def backend(self, tool: str) -> str:
        """Which adapter serves `tool`: a provider name, or "off" (disabled, or its key or
        dataset missing). The container's Selectors choose by it, and nothing else does."""
        return BACKENDS[tool](self)


def _keyed(section: ServiceSettings, name: str) -> str:
    return name if section.enabled and section.api_key is not None else "off"


def _dataset(section: DatasetServiceSettings) -> str:
    return "csv" if section.enabled and section.path is not None else "off"


def _collection_points(s: ServicesSettings) -> str:
    points = s.collection_points
    if not points.enabled or (points.provider == "kakao" and s.kakao.api_key is None):
        return "off"
    return points.provider


BACKENDS: dict[str, Callable[[ServicesSettings], str]] = {
    "location": lambda s: _keyed(s.kakao, "kakao"),
    "collection_point": _collection_points,
    "web_search": lambda s: _keyed(s.tavily, "tavily"),
    "weather": lambda s: s.weather.provider if s.weather.enabled else "off",
    "character": lambda s: s.character.provider if s.character.enabled else "off",
    "bulk_waste": lambda s: _dataset(s.bulk_waste),
    "recyclable_price": lambda s: _dataset(s.recyclable_prices),
    "image_generation": lambda s: s.images.provider if s.images.enabled else "off",
}
