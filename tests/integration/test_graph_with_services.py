"""The graph with the real service adapters, pointed at loopback servers in each API's format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.domain.chat import ChatRequest, Intent
from tests.support.asgi_server import serve_in_thread
from tests.support.graph_kit import chat_kit
from tests.support.service_wires import KakaoWire, OpenMeteoWire

QUESTION = "where can I throw away batteries near Gangnam station, and will it rain tonight?"


@pytest.fixture
def services() -> Iterator[tuple[KakaoWire, OpenMeteoWire, dict[str, Any]]]:
    kakao, weather = KakaoWire(), OpenMeteoWire()
    with serve_in_thread(kakao) as kakao_server, serve_in_thread(weather) as weather_server:
        config = {
            "kakao": {
                "enabled": True,
                "api_key": kakao.key,
                "base_url": kakao_server.url,
                "cache_ttl": 0,
            },
            "collection_points": {"enabled": True},
            "weather": {
                "enabled": True,
                "base_url": weather_server.url,
                "geocoding_url": weather_server.url,
                "cache_ttl": 0,
                "timeout": 1.0,
            },
        }
        yield kakao, weather, config


async def test_multi_intent_question_gets_both_answers(services: Any) -> None:
    kakao, weather, config = services
    async with chat_kit(services=config) as (chat, _, _c):
        result = await chat.run(ChatRequest(message=QUESTION, thread_id="svc"))
    assert {Intent.COLLECTION_POINT, Intent.WEATHER} <= set(result.intents)
    assert "강남역 폐건전지 수거함" in result.answer
    assert "80%" in result.answer
    assert kakao.script.requests and weather.script.requests
    assert result.failed_stages == []


async def test_one_service_down_degrades_cleanly(services: Any) -> None:
    _kakao, weather, config = services
    weather.script.fail(503, {"reason": "maintenance"}, times=10)
    async with chat_kit(services=config) as (chat, notifier, _c):
        result = await chat.run(ChatRequest(message=QUESTION, thread_id="svc"), job_id="down")
    assert "강남역 폐건전지 수거함" in result.answer
    assert "could not look up the weather" in result.answer
    assert result.failed_stages == ["weather"]
    assert notifier.events["down"][-1].type == "done"
