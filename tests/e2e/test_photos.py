"""Photos: uploaded to the gateway, kept in Redis, handed by the worker to the vision model."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
import pytest
import redis

from app.infrastructure.redis_jobs import keys
from tests.e2e.conftest import ask, serve_gateway
from tests.support.asgi_server import RunningServer
from tests.support.images import png
from tests.support.openai_wire import openai_env
from tests.support.services import Deployment, worker_process
from tests.support.sse import sse_events
from tests.support.wire_script import Script


@pytest.fixture
def deployment(vision_llm: tuple[RunningServer, Script]) -> Deployment:
    server, _ = vision_llm
    return Deployment(
        env={
            **openai_env(server.url),
        }
    )


async def test_an_uploaded_photo_reaches_the_vision_model(
    http: httpx.AsyncClient,
    deployment: Deployment,
    vision_llm: tuple[RunningServer, Script],
    logs: Path,
) -> None:
    _, script = vision_llm
    photo = png()
    uploaded = await http.post("/v1/uploads", content=photo, headers={"Content-Type": "image/png"})
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    preview = await http.get(body["preview_url"])
    with worker_process(deployment, logs):
        job = await ask(http, "이거 어떻게 버려?", image_url=body["image_url"])
        events = [e async for e in sse_events(http, job["events_url"])]
    assert body["image_url"].startswith("upload:")
    assert preview.status_code == 200 and preview.content == photo
    assert events[-1].event == "done", events[-1].data
    assert any(e.event == "stage" and e.data["stage"] == "vision" for e in events)
    encoded = base64.b64encode(photo).decode()
    sent = [str(r["json"]) for r in script.requests if r.get("json")]
    assert any(f"data:image/png;base64,{encoded}" in text for text in sent)  # the bytes


async def test_what_is_no_photo_or_too_big_is_refused(
    http: httpx.AsyncClient, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    lying = await http.post(
        "/v1/uploads", content=b"<?php echo 1; ?>", headers={"Content-Type": "image/png"}
    )
    mislabelled = await http.post(
        "/v1/uploads", content=png(), headers={"Content-Type": "image/jpeg"}
    )
    unknown = await http.post(
        "/v1/chat", json={"message": "이거?", "image_url": f"upload:{'0' * 32}.png"}
    )
    with serve_gateway(deployment, monkeypatch, gateway={"max_upload_bytes": 1000}) as small:
        async with httpx.AsyncClient(base_url=small.url, timeout=30) as client:
            big = await client.post(
                "/v1/uploads",
                content=png() + os.urandom(5000),
                headers={"Content-Type": "image/png"},
            )
            chat_body = await client.post("/v1/chat", content=b"x" * 70_000)
    assert lying.status_code == 415 and mislabelled.status_code == 415
    assert unknown.status_code == 404 and "expired" in unknown.text
    assert big.status_code == 413
    assert chat_body.status_code == 413  # the upload limit is the uploads' alone


async def test_uploads_have_a_quota_per_principal_an_hour(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload is kept in Redis for an hour: without a quota one caller could fill it."""
    photo = png()
    # The quota is the principal's (here the anonymous one) in the shared Redis for an hour:
    # start from none used, whatever ran before.
    client = redis.Redis.from_url(deployment.redis_url)
    try:
        for key in client.scan_iter(match=f"{keys.LIMITS}:*photo*/anonymous/*"):
            client.delete(key)
    finally:
        client.close()
    limits = {"photos_per_hour": 3, "photo_bytes_per_hour": 10_000_000}
    with serve_gateway(deployment, monkeypatch, limits=limits) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            sent = [
                await client.post(
                    "/v1/uploads", content=photo, headers={"Content-Type": "image/png"}
                )
                for _ in range(4)
            ]
            refused = sent[-1]
            # A refused photo was not kept, and a photo refused for its type costs nothing.
            kept = [r.json()["image_url"] for r in sent[:3]]
    assert [r.status_code for r in sent] == [201, 201, 201, 429]
    assert refused.json()["limit"] == "photos_per_hour" and int(refused.headers["retry-after"]) > 0
    assert len(set(kept)) == 3
