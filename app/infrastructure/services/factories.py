"""Service adapters the container calls; a disabled service gives None (no node in the graph)."""

from __future__ import annotations

import httpx

from app.application.ports.cache import CachePort
from app.application.ports.character import CharacterClientPort
from app.application.ports.collection_point import CollectionPointClientPort
from app.application.ports.location import LocationClientPort
from app.application.ports.weather import WeatherClientPort
from app.application.ports.web_search import WebSearchPort
from app.infrastructure.services.characters import (
    CatalogCharacterClient,
    HttpCharacterClient,
    load_catalog,
)
from app.infrastructure.services.http import ServiceHttp
from app.infrastructure.services.kakao import KakaoCollectionPoints, KakaoLocalClient
from app.infrastructure.services.tavily import TavilyWebSearch
from app.infrastructure.services.weather import OpenMeteoWeather
from app.settings import ServicesSettings


def kakao(
    settings: ServicesSettings, http_client: httpx.AsyncClient, cache: CachePort | None
) -> KakaoLocalClient | None:
    kakao = settings.kakao
    if not (kakao.enabled or settings.collection_points.enabled) or kakao.api_key is None:
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
    settings: ServicesSettings, client: KakaoLocalClient | None
) -> CollectionPointClientPort | None:
    if not settings.collection_points.enabled or client is None:
        return None
    return KakaoCollectionPoints(client)


def web_search(
    settings: ServicesSettings, http_client: httpx.AsyncClient, cache: CachePort | None
) -> WebSearchPort | None:
    tavily = settings.tavily
    if not tavily.enabled or tavily.api_key is None:
        return None
    headers = {"Authorization": f"Bearer {tavily.api_key.get_secret_value()}"}
    http = ServiceHttp(http_client, tavily, provider="tavily", headers=headers, cache=cache)
    return TavilyWebSearch(http, search_depth=tavily.search_depth)


def weather(
    settings: ServicesSettings, http_client: httpx.AsyncClient, cache: CachePort | None
) -> WeatherClientPort | None:
    weather = settings.weather
    if not weather.enabled:
        return None
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
    settings: ServicesSettings, http_client: httpx.AsyncClient, cache: CachePort | None
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
