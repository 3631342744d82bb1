"""Service adapters the container calls; a disabled service gives None (no node in the graph)."""

from __future__ import annotations

from typing import Any

from app.application.ports.bulk_waste import BulkWasteClientPort
from app.application.ports.cache import CachePort
from app.application.ports.character import CharacterClientPort
from app.application.ports.collection_point import CollectionPointClientPort
from app.application.ports.image_generator import ImageGeneratorPort
from app.application.ports.location import LocationClientPort
from app.application.ports.recyclable_price import RecyclablePriceClientPort
from app.application.ports.weather import WeatherClientPort
from app.application.ports.web_search import WebSearchPort
from app.infrastructure.http.libraries import SharedClient
from app.infrastructure.services.bulk_waste import CsvBulkWasteFees
from app.infrastructure.services.characters import (
    CatalogCharacterClient,
    HttpCharacterClient,
    load_catalog,
)
from app.infrastructure.services.http import ServiceHttp
from app.infrastructure.services.image_store import ImageStore
from app.infrastructure.services.image_store import image_store as store_for
from app.infrastructure.services.images import GeminiImageGenerator, OpenAIImageGenerator
from app.infrastructure.services.kakao import KakaoCollectionPoints, KakaoLocalClient
from app.infrastructure.services.keco import OdcloudCollectionPoints
from app.infrastructure.services.kma import KmaWeather
from app.infrastructure.services.prices import CsvRecyclablePrices
from app.infrastructure.services.tavily import TavilyWebSearch
from app.infrastructure.services.weather import OpenMeteoWeather
from app.settings.services import ServicesSettings


def kakao(
    settings: ServicesSettings, http_client: SharedClient, cache: CachePort | None
) -> KakaoLocalClient | None:
    kakao = settings.kakao
    points = settings.collection_points
    wanted = kakao.enabled or (points.enabled and points.provider == "kakao")
    if not wanted or kakao.api_key is None:
        return None
    headers = {"Authorization": f"KakaoAK {kakao.api_key.get_secret_value()}"}
    return KakaoLocalClient(
        ServiceHttp(http_client, kakao, provider="kakao", headers=headers, cache=cache)
    )


def location(
    settings: ServicesSettings, client: KakaoLocalClient | None
) -> LocationClientPort | None:
    return client if settings.kakao.enabled else None


def collection_points(
    settings: ServicesSettings,
    client: KakaoLocalClient | None,
    http_client: SharedClient,
    cache: CachePort | None,
) -> CollectionPointClientPort | None:
    points = settings.collection_points
    if not points.enabled:
        return None
    if points.provider == "keco":
        http = ServiceHttp(http_client, points, provider="keco", cache=cache)
        return OdcloudCollectionPoints(http, points)
    return KakaoCollectionPoints(client) if client is not None else None


def web_search(
    settings: ServicesSettings, http_client: SharedClient, cache: CachePort | None
) -> WebSearchPort | None:
    tavily = settings.tavily
    if not tavily.enabled or tavily.api_key is None:
        return None
    headers = {"Authorization": f"Bearer {tavily.api_key.get_secret_value()}"}
    http = ServiceHttp(http_client, tavily, provider="tavily", headers=headers, cache=cache)
    return TavilyWebSearch(http, search_depth=tavily.search_depth)


def weather_open_meteo(
    settings: ServicesSettings, http_client: SharedClient, cache: CachePort | None
) -> WeatherClientPort:
    weather = settings.weather
    forecast = ServiceHttp(http_client, weather, provider="open-meteo", cache=cache)
    geocoding = ServiceHttp(
        http_client,
        weather,
        provider="open-meteo-geocoding",
        cache=cache,
        base_url=weather.geocoding_url,
    )
    return OpenMeteoWeather(forecast, geocoding)


def character(
    settings: ServicesSettings, http_client: SharedClient, cache: CachePort | None
) -> CharacterClientPort | None:
    character = settings.character
    if not character.enabled:
        return None
    if character.provider == "catalog":
        return CatalogCharacterClient(load_catalog())
    headers = (
        {"Authorization": f"Bearer {character.api_key.get_secret_value()}"}
        if character.api_key
        else {}
    )
    return HttpCharacterClient(
        ServiceHttp(http_client, character, provider="characters", headers=headers, cache=cache)
    )


def weather_kma(
    settings: ServicesSettings, http_client: SharedClient, cache: CachePort | None
) -> WeatherClientPort:
    weather = settings.weather
    assert weather.api_key is not None  # settings validation guarantees it
    http = ServiceHttp(
        http_client, weather, provider="kma", cache=cache, base_url=weather.kma_base_url
    )
    return KmaWeather(http, weather.api_key.get_secret_value())


def bulk_waste(settings: ServicesSettings) -> BulkWasteClientPort | None:
    dataset = settings.bulk_waste
    if not dataset.enabled or dataset.path is None:
        return None
    return CsvBulkWasteFees(dataset.path, rules_path=dataset.rules_path)


def recyclable_prices(settings: ServicesSettings) -> RecyclablePriceClientPort | None:
    dataset = settings.recyclable_prices
    if not dataset.enabled or dataset.path is None:
        return None
    return CsvRecyclablePrices(dataset.path)


def image_store(settings: ServicesSettings, redis: Any) -> ImageStore:
    return store_for(settings.images, redis)


def openai_images(settings: ServicesSettings, client: Any, store: ImageStore) -> ImageGeneratorPort:
    images = settings.images
    return OpenAIImageGenerator(
        client, store, model=images.model, size=images.size, url_prefix=images.url_prefix
    )


def gemini_images(settings: ServicesSettings, client: Any, store: ImageStore) -> ImageGeneratorPort:
    images = settings.images
    return GeminiImageGenerator(client, store, model=images.model, url_prefix=images.url_prefix)


def image_backend(settings: ServicesSettings) -> str:
    return settings.images.provider if settings.images.enabled else "off"


def weather_backend(settings: ServicesSettings) -> str:
    return settings.weather.provider if settings.weather.enabled else "off"
