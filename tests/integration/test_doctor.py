"""`python -m app doctor` against loopback services: all OK, then one bad key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.entrypoints.cli import main
from tests.support.asgi_server import serve_in_thread
from tests.support.conversation_stores import closed_port
from tests.support.service_wires import CharacterWire, KakaoWire, OpenMeteoWire, TavilyWire
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.redis  # the core that doctor checks includes the Redis at TEST_REDIS_URL


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[tuple[Path, dict]]:  # type: ignore[type-arg]
    kakao, tavily, weather, characters = KakaoWire(), TavilyWire(), OpenMeteoWire(), CharacterWire()
    with (
        serve_in_thread(kakao) as kakao_url,
        serve_in_thread(tavily) as tavily_url,
        serve_in_thread(weather) as weather_url,
        serve_in_thread(characters) as characters_url,
    ):
        config = {
            "checkpoint": {"backend": "memory"},
            "redis": {"url": REDIS_URL},
            "retrieval": {"morphology": "rules"},  # Kiwi's start-up is not what is checked here
            "services": {
                "kakao": {"enabled": True, "api_key": kakao.key, "base_url": kakao_url.url},
                "collection_points": {"enabled": True},
                "tavily": {"enabled": True, "api_key": tavily.key, "base_url": tavily_url.url},
                "weather": {"base_url": weather_url.url, "geocoding_url": weather_url.url},
                "character": {"provider": "http", "base_url": characters_url.url},
            },
        }
        path = tmp_path / "doctor.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        yield path, config


def test_all_services_answer(
    profile: tuple[Path, dict], capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[type-arg]
    path, _ = profile
    assert main(["--config", str(path), "doctor"]) == 0
    out = capsys.readouterr().out
    for name in (
        "llm:offline",
        "redis",
        "knowledge:bm25",
        "conversations:sqlite",
        "kakao",
        "tavily",
        "weather:open_meteo",
        "character:http",
    ):
        assert f"OK    {name}" in out
    assert "8/8 OK" in out


def test_an_optional_service_out_of_reach_is_a_warning_not_a_failure(
    profile: tuple[Path, dict],  # type: ignore[type-arg]
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A fresh install with no network: the weather is away, chats still answer: exit 0."""
    path, config = profile
    away = f"http://127.0.0.1:{closed_port()}"
    config["services"]["weather"] = {"base_url": away, "geocoding_url": away}
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    assert main(["--config", str(path), "doctor"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "weather:open_meteo" in line)
    assert line.startswith("WARN") and "unreachable from here" in line
    assert "7/8 OK; unreachable from here (optional): weather:open_meteo" in out
    assert "FAIL " not in out and "; failing" not in out


def test_the_core_out_of_reach_is_a_failure(
    profile: tuple[Path, dict],  # type: ignore[type-arg]
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, config = profile
    config["redis"] = {"url": f"redis://127.0.0.1:{closed_port()}/0"}
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    assert main(["--config", str(path), "doctor"]) == 1
    out = capsys.readouterr().out
    assert next(line for line in out.splitlines() if " redis " in line).startswith("FAIL")
    assert "failing: redis" in out


def test_a_bad_key_fails_with_a_clear_line(
    profile: tuple[Path, dict],
    capsys: pytest.CaptureFixture[str],  # type: ignore[type-arg]
) -> None:
    path, config = profile
    config["services"]["kakao"]["api_key"] = "not-the-key"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    assert main(["--config", str(path), "doctor"]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("FAIL"))
    assert "kakao 401" in line and "bad or missing key" in line
    assert "not-the-key" not in out
    assert "failing: kakao" in out


def test_a_provider_that_echoes_the_key_does_not_put_it_on_screen(
    openai_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, script = openai_server
    key = "sk-echoed-0123456789abcdef"
    script.fail(401, {"error": {"message": f"Incorrect API key provided: {key}"}}, times=5)
    path = tmp_path / "openai.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "checkpoint": {"backend": "memory"},
                "llm": {
                    "provider": "openai",
                    "max_retries": 0,
                    "openai": {"api_key": key, "base_url": f"{server.url}/v1"},
                },
                "services": {"weather": {"enabled": False}},
                "redis": {"url": REDIS_URL},
                "retrieval": {"morphology": "rules"},
            }
        )
    )
    assert main(["--config", str(path), "doctor"]) == 1
    out = capsys.readouterr().out
    assert key not in out and "Incorrect API key provided: **********" in out


def test_each_provider_of_the_chain_is_checked_on_its_own(
    openai_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The primary failing is a FAIL even though the fallback would answer for it."""
    server, script = openai_server
    script.fail(503, {"error": {"message": "overloaded"}}, times=5)
    path = tmp_path / "chain.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "checkpoint": {"backend": "memory"},
                "llm": {
                    "provider": "openai",
                    "fallbacks": ["offline"],
                    "max_retries": 0,
                    "openai": {"api_key": "sk-test-0123456789", "base_url": f"{server.url}/v1"},
                },
                "services": {"weather": {"enabled": False}},
                "redis": {"url": REDIS_URL},
                "retrieval": {"morphology": "rules"},
            }
        )
    )
    assert main(["--config", str(path), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  llm:openai" in out and "OK    llm:offline" in out
    assert "failing: llm:openai" in out
