"""The tool ports behind the graph's nodes; a disabled (or key-less) one is None: no node."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from dependency_injector import containers, providers

from app.application.ports.bulk_waste import BulkWasteClientPort
from app.application.ports.character import CharacterClientPort
from app.application.ports.collection_point import CollectionPointClientPort
from app.application.ports.image_generator import ImageGeneratorPort
from app.application.ports.location import LocationClientPort
from app.application.ports.recyclable_price import RecyclablePriceClientPort
from app.application.ports.weather import WeatherClientPort
from app.application.ports.web_search import WebSearchPort
from app.infrastructure.redis import RedisCache, ResilientCache
from app.infrastructure.services import factories as services
from app.settings import Settings


class Services(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clients = providers.DependenciesContainer()
    redis: providers.Dependency[Any] = providers.Dependency()

    config = providers.Callable(attrgetter("services"), settings)
    cache = providers.Singleton(
        ResilientCache, inner=providers.Singleton(RedisCache, redis=redis, namespace="eco2:svc:")
    )
    kakao = providers.Singleton(
        services.kakao, settings=config, http_client=clients.http_client, cache=cache
    )
    character_client: providers.Provider[CharacterClientPort | None] = providers.Singleton(
        services.character, settings=config, http_client=clients.http_client, cache=cache
    )
    location_client: providers.Provider[LocationClientPort | None] = providers.Singleton(
        services.location, settings=config, client=kakao
    )
    web_search_client: providers.Provider[WebSearchPort | None] = providers.Singleton(
        services.web_search, settings=config, http_client=clients.http_client, cache=cache
    )
    bulk_waste_client: providers.Provider[BulkWasteClientPort | None] = providers.Singleton(
        services.bulk_waste, settings=config
    )
    weather_client: providers.Provider[WeatherClientPort | None] = providers.Selector(
        providers.Callable(services.weather_backend, config),
        open_meteo=providers.Singleton(
            services.weather_open_meteo,
            settings=config,
            http_client=clients.http_client,
            cache=cache,
        ),
        kma=providers.Singleton(
            services.weather_kma, settings=config, http_client=clients.http_client, cache=cache
        ),
        off=providers.Object(None),
    )
    collection_point_client: providers.Provider[CollectionPointClientPort | None] = (
        providers.Singleton(
            services.collection_points,
            settings=config,
            client=kakao,
            http_client=clients.http_client,
            cache=cache,
        )
    )
    recyclable_price_client: providers.Provider[RecyclablePriceClientPort | None] = (
        providers.Singleton(services.recyclable_prices, settings=config)
    )
    image_store = providers.Singleton(services.image_store, settings=config, redis=redis)
    image_generator: providers.Provider[ImageGeneratorPort | None] = providers.Selector(
        providers.Callable(services.image_backend, config),
        openai=providers.Singleton(
            services.openai_images,
            settings=config,
            client=clients.openai_client,
            store=image_store,
        ),
        gemini=providers.Singleton(
            services.gemini_images,
            settings=config,
            client=clients.gemini_client,
            store=image_store,
        ),
        off=providers.Object(None),
    )
