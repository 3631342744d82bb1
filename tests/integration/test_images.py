"""Image generation through the container's OpenAI client, stored and served by the gateway."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.containers import CliContainer
from app.containers_core import resolve, running
from app.entrypoints.gateway.app import create_app
from app.infrastructure.services.image_store import LocalImageStore, RedisImageStore
from app.settings import load_settings
from tests.support.asgi_server import serve_in_thread
from tests.support.openai_wire import TINY_PNG
from tests.support.services import REDIS_URL


def image_settings(url: str, directory: Path) -> Any:
    return load_settings(
        llm={"openai": {"api_key": "sk-test-0123456789", "base_url": f"{url}/v1"}},
        services={"images": {"enabled": True, "directory": str(directory)}},
    )


async def test_generated_images_are_stored_and_linked(openai_server: Any, tmp_path: Path) -> None:
    server, script = openai_server
    async with running(CliContainer(settings=image_settings(server.url, tmp_path))) as container:
        generator = await resolve(container.chat.image_generator)
        image = await generator.generate("분리수거 하는 고양이")
    assert image.url.startswith("/v1/images/") and image.url.endswith(".png")
    assert (tmp_path / image.url.rsplit("/", 1)[1]).read_bytes() == TINY_PNG
    assert script.requests[-1]["json"] == {
        "model": "gpt-image-1",
        "prompt": "분리수거 하는 고양이",
        "size": "1024x1024",
        "n": 1,
    }


@pytest.mark.redis
async def test_stores_refuse_names_that_are_not_theirs(tmp_path: Path) -> None:
    local = LocalImageStore(tmp_path)
    name = await local.save(TINY_PNG, "image/png")
    assert await local.load(name) == (TINY_PNG, "image/png")
    assert await local.load("../../etc/passwd") is None
    redis = Redis.from_url(REDIS_URL)
    try:
        store = RedisImageStore(redis, ttl_seconds=60)
        stored = await store.save(TINY_PNG, "image/png")
        assert await store.load(stored) == (TINY_PNG, "image/png")
        assert 0 < await redis.ttl(f"eco2:image:{stored}") <= 60
    finally:
        await redis.aclose()


async def test_the_gateway_serves_generated_images(tmp_path: Path) -> None:
    settings = load_settings(
        services={"images": {"directory": str(tmp_path)}}, gateway={"secret": "s" * 32}
    )
    name = await LocalImageStore(tmp_path).save(TINY_PNG, "image/png")
    with serve_in_thread(create_app(settings)) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            found = await http.get(f"/v1/images/{name}")
            missing = await http.get(f"/v1/images/{uuid.uuid4().hex}.png")
    assert found.status_code == 200 and found.content == TINY_PNG
    assert found.headers["content-type"] == "image/png"
    assert missing.status_code == 404


async def test_gemini_image_model_through_the_shared_pool(
    gemini_server: Any, tmp_path: Path
) -> None:
    server, script = gemini_server
    settings = load_settings(
        llm={"gemini": {"api_key": "AIza-test-0123456789", "base_url": server.url}},
        services={
            "images": {
                "enabled": True,
                "provider": "gemini",
                "model": "gemini-2.5-flash-image",
                "directory": str(tmp_path),
            }
        },
    )
    async with running(CliContainer(settings=settings)) as container:
        generator = await resolve(container.chat.image_generator)
        image = await generator.generate("재활용 캐릭터")
    assert (tmp_path / image.url.rsplit("/", 1)[1]).read_bytes() == TINY_PNG
    sent = script.requests[-1]
    assert sent["path"].endswith("gemini-2.5-flash-image:generateContent")
    assert sent["json"]["generationConfig"]["responseModalities"] == ["IMAGE"]
