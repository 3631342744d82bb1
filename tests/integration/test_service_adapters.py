"""Each service adapter against a loopback server in the service's own format: success,
empty result, bad key, 429 with Retry-After, 5xx then success, timeout, malformed JSON, cache."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.application.ports.llm import (
    AuthenticationFailed,
    MalformedResponse,
    ProviderTimeout,
    RateLimited,
)
from app.domain.chat import Location
from app.infrastructure.http import build_http_client
from app.infrastructure.redis import RedisCache
from app.infrastructure.services.characters import HttpCharacterClient
from app.infrastructure.services.http import ServiceHttp
from app.infrastructure.services.kakao import KakaoCollectionPoints, KakaoLocalClient
from app.infrastructure.services.keco import OdcloudCollectionPoints
from app.infrastructure.services.kma import KST, KmaWeather
from app.infrastructure.services.tavily import TavilyWebSearch
from app.infrastructure.services.weather import OpenMeteoWeather
from app.settings import HttpSettings
from app.settings.services import CollectionPointSettings, ServiceSettings
from tests.support.asgi_server import serve_in_thread
from tests.support.service_wires import (
    CharacterWire,
    KakaoWire,
    KmaWire,
    OdcloudWire,
    OpenMeteoWire,
    TavilyWire,
)
from tests.support.services import REDIS_URL
from tests.support.wire_script import WireApp

GANGNAM = Location(latitude=37.4979, longitude=127.0276)


@dataclass
class Case:
    name: str
    wire: Callable[[], WireApp]
    build: Callable[[httpx.AsyncClient, str, ServiceSettings, Any, str], Any]
    call: Callable[[Any], Awaitable[Any]]
    ok: Callable[[Any], bool]
    empty: Callable[[Any], bool]
    bad_key: bool = True  # keyless services cannot be refused for a key


def kakao(
    client: httpx.AsyncClient, url: str, settings: ServiceSettings, cache: Any, key: str
) -> KakaoLocalClient:
    http = ServiceHttp(
        client,
        settings,
        provider="kakao",
        cache=cache,
        base_url=url,
        headers={"Authorization": f"KakaoAK {key}"},
    )
    return KakaoLocalClient(http)


CASES = [
    Case(
        "kakao-keyword",
        KakaoWire,
        kakao,
        lambda a: a.search("폐건전지 수거함", near=GANGNAM, radius_m=2000),
        lambda r: (
            [p.name for p in r] == ["강남역 폐건전지 수거함", "역삼1동 주민센터 폐건전지 수거함"]
            and r[0].distance_m == 0
        ),
        lambda r: r == [],
    ),
    Case(
        "kakao-collection-points",
        KakaoWire,
        lambda c, u, s, cache, k: KakaoCollectionPoints(kakao(c, u, s, cache, k)),
        lambda a: a.nearby("battery", None, place="강남역"),
        lambda r: r[0].name == "강남역 폐건전지 수거함" and r[0].kind == "battery",
        lambda r: r == [],
    ),
    Case(
        "tavily",
        TavilyWire,
        lambda c, u, s, cache, k: TavilyWebSearch(
            ServiceHttp(
                c,
                s,
                provider="tavily",
                cache=cache,
                base_url=u,
                headers={"Authorization": f"Bearer {k}"},
            )
        ),
        lambda a: a.search("투명 페트병 분리배출", max_results=2),
        lambda r: len(r) == 2 and r[0].url.startswith("https://www.me.go.kr"),
        lambda r: r == [],
    ),
    Case(
        "open-meteo",
        OpenMeteoWire,
        lambda c, u, s, cache, k: OpenMeteoWeather(
            ServiceHttp(c, s, provider="open-meteo", cache=cache, base_url=u),
            ServiceHttp(c, s, provider="open-meteo-geocoding", cache=cache, base_url=u),
        ),
        lambda a: a.forecast(None, place="강남역"),
        lambda r: r.precipitation_probability == 80 and "강남역" in r.summary,
        lambda r: "서울" in r.summary,  # an unknown place falls back to Seoul, and says so
        bad_key=False,
    ),
    Case(
        "kma",
        KmaWire,
        lambda c, u, s, cache, k: KmaWeather(
            ServiceHttp(c, s, provider="kma", cache=cache, base_url=u),
            k,
            clock=lambda: datetime(2026, 11, 27, 14, 30, tzinfo=KST),
        ),
        lambda a: a.forecast(GANGNAM),
        lambda r: r.precipitation_probability == 70 and r.temperature_c == 6.5,
        lambda r: r.precipitation_probability == 0 and r.temperature_c is None,
    ),
    Case(
        "keco-bins",
        OdcloudWire,
        lambda c, u, s, cache, k: OdcloudCollectionPoints(
            ServiceHttp(c, s, provider="keco", cache=cache, base_url=u),
            CollectionPointSettings(
                provider="keco", api_key=k, dataset_path="/15000000/v1/uddi:x", page_size=2
            ),
        ),
        lambda a: a.nearby("battery", GANGNAM),
        lambda r: (
            [p.name for p in r][:2] == ["FIXTURE 강남역 지하상가", "FIXTURE 역삼1동 주민센터"]
            and r[0].distance_m == 0
            and r[-1].distance_m > 300_000
        ),
        lambda r: r == [],
    ),
    Case(
        "character-http",
        CharacterWire,
        lambda c, u, s, cache, k: HttpCharacterClient(
            ServiceHttp(c, s, provider="characters", cache=cache, base_url=u)
        ),
        lambda a: a.names(),
        lambda r: r == ["캔디"],
        lambda r: r == [],
        bad_key=False,
    ),
]
IDS = [case.name for case in CASES]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    client = build_http_client(HttpSettings())
    yield client
    await client.aclose()


def settings(**extra: Any) -> ServiceSettings:
    return ServiceSettings(
        **{"enabled": True, "timeout": 2.0, "retries": 2, "cache_ttl": 0, **extra}
    )


def adapter(
    case: Case,
    http: httpx.AsyncClient,
    url: str,
    cache: Any = None,
    key: str | None = None,
    **extra: Any,
) -> Any:
    wire_key = getattr(case.wire, "key", "")
    return case.build(http, url, settings(**extra), cache, key or wire_key)


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_success_and_empty(case: Case, http: httpx.AsyncClient) -> None:
    wire = case.wire()
    with serve_in_thread(wire) as server:
        assert case.ok(await case.call(adapter(case, http, server.url)))
        wire.empty = True  # type: ignore[attr-defined]
        assert case.empty(await case.call(adapter(case, http, server.url)))


@pytest.mark.parametrize("case", [c for c in CASES if c.bad_key], ids=lambda c: c.name)
async def test_bad_key_is_authentication_failed(case: Case, http: httpx.AsyncClient) -> None:
    with serve_in_thread(case.wire()) as server, pytest.raises(AuthenticationFailed) as caught:
        await case.call(adapter(case, http, server.url, key="wrong-key"))
    assert caught.value.status == 401


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_429_waits_for_retry_after_then_succeeds(case: Case, http: httpx.AsyncClient) -> None:
    wire = case.wire()
    wire.script.fail(429, {"message": "quota"}, headers={"Retry-After": "1"})
    with serve_in_thread(wire) as server:
        started = asyncio.get_running_loop().time()
        assert case.ok(await case.call(adapter(case, http, server.url)))
        waited = asyncio.get_running_loop().time() - started
    assert waited >= 0.9


@pytest.mark.parametrize("case", CASES[:1], ids=IDS[:1])
async def test_429_beyond_the_retries_is_rate_limited(case: Case, http: httpx.AsyncClient) -> None:
    wire = case.wire()
    wire.script.fail(429, {"message": "quota"}, headers={"Retry-After": "0"}, times=5)
    with serve_in_thread(wire) as server, pytest.raises(RateLimited) as caught:
        await case.call(adapter(case, http, server.url))
    assert caught.value.retry_after == 0.0
    assert len(wire.script.requests) == 3  # one try and two retries


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_server_error_then_success(case: Case, http: httpx.AsyncClient) -> None:
    wire = case.wire()
    wire.script.fail(503, {"message": "busy"})
    with serve_in_thread(wire) as server:
        assert case.ok(await case.call(adapter(case, http, server.url)))


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_timeout(case: Case, http: httpx.AsyncClient) -> None:
    wire = case.wire()
    wire.script.hang(times=3)
    with serve_in_thread(wire) as server, pytest.raises(ProviderTimeout):
        await case.call(adapter(case, http, server.url, timeout=0.3))


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_malformed_json(case: Case, http: httpx.AsyncClient) -> None:
    wire = case.wire()
    wire.script.malformed(times=3)
    with serve_in_thread(wire) as server, pytest.raises(MalformedResponse):
        await case.call(adapter(case, http, server.url))


@pytest.mark.redis
async def test_second_lookup_is_cached_and_ttl_is_honoured(http: httpx.AsyncClient) -> None:
    redis = Redis.from_url(REDIS_URL)
    cache = RedisCache(redis, namespace=f"eco2:test:{uuid.uuid4().hex[:6]}:")
    wire = KakaoWire()
    try:
        with serve_in_thread(wire) as server:
            http_service = ServiceHttp(
                http,
                settings(cache_ttl=1),
                provider="kakao",
                cache=cache,
                base_url=server.url,
                headers={"Authorization": f"KakaoAK {wire.key}"},
            )
            client = KakaoLocalClient(http_service)
            first = await client.geocode("강남역")
            second = await client.geocode("강남역")
            assert first == second and len(wire.script.requests) == 1
            await asyncio.sleep(1.2)
            await client.search("재활용센터")
            await client.search("재활용센터")
            assert len(wire.script.requests) == 2
            await asyncio.sleep(1.2)
            await client.search("재활용센터")
            assert len(wire.script.requests) == 3  # expired after its 1 s TTL
    finally:
        await redis.aclose()


async def test_category_search_near_a_point(http: httpx.AsyncClient) -> None:
    wire = KakaoWire()
    with serve_in_thread(wire) as server:
        client = kakao(http, server.url, settings(), None, wire.key)
        offices = await client.search_category("PO3", near=GANGNAM, radius_m=1000)
    assert [p.name for p in offices] == ["역삼1동 주민센터 폐건전지 수거함"]
    assert offices[0].distance_m is not None and 0 < offices[0].distance_m < 1000
    sent = wire.script.requests[-1]
    assert sent["path"] == "/v2/local/search/category.json"
    assert sent["query"]["sort"] == "distance" and sent["query"]["x"] == "127.0276"
