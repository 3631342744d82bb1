"""The eco2 client's photos: POST /api/v1/images/{channel}, PUT the bytes to the presigned
upload_url, the cdn_url served to its owner alone and, as a message's image_url, to the vision
model. A real gateway, real workers, real Redis."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.conftest import serve_gateway
from tests.support.asgi_server import RunningServer
from tests.support.images import jpeg, png
from tests.support.openai_wire import openai_env
from tests.support.services import Deployment, worker_process
from tests.support.sse import sse_events
from tests.support.wire_script import Script


async def granted(
    client: httpx.AsyncClient, content_type: str = "image/png", channel: str = "chat"
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/images/{channel}",
        json={"filename": "photo.png", "content_type": content_type, "metadata": {"a": 1}},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def put(client: httpx.AsyncClient, grant: dict[str, Any], data: bytes) -> httpx.Response:
    """As the eco2 client does it: the URL as given, its required headers, no cookie."""
    async with httpx.AsyncClient(timeout=30) as bare:
        return await bare.put(grant["upload_url"], content=data, headers=grant["required_headers"])


async def test_the_pair_keeps_a_photo_for_its_owner_alone(
    http: httpx.AsyncClient, gateway: RunningServer
) -> None:
    photo = png()
    grant = await granted(http)
    stored = await put(http, grant, photo)
    again = await put(http, grant, photo)
    mine = await http.get(grant["cdn_url"])
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as stranger:
        theirs = await stranger.get(grant["cdn_url"])
        their_message = await _send(stranger, grant["cdn_url"])

    assert set(grant) == {"key", "upload_url", "cdn_url", "expires_in", "required_headers"}
    assert grant["expires_in"] == 300
    assert grant["required_headers"] == {"Content-Type": "image/png"}
    assert grant["cdn_url"] == f"{gateway.url}/api/v1/images/chat/{grant['key']}"
    assert urlsplit(grant["upload_url"]).path == f"/api/v1/images/chat/{grant['key']}/upload"
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"key": grant["key"], "cdn_url": grant["cdn_url"], "size": len(photo)}
    assert again.status_code == 409  # a URL uploads once
    assert mine.status_code == 200 and mine.content == photo
    assert mine.headers["content-type"] == "image/png"
    assert theirs.status_code == 404  # another guest: as if there were no such photo
    assert their_message.status_code == 404  # nor may they show it to the model


async def test_what_is_not_the_granted_photo_is_refused(http: httpx.AsyncClient) -> None:
    gif = await http.post(
        "/api/v1/images/chat", json={"filename": "a.gif", "content_type": "image/gif"}
    )
    folder = await http.post(
        "/api/v1/images/chat", json={"filename": "../a.png", "content_type": "image/png"}
    )
    channel = await http.post(
        "/api/v1/images/other", json={"filename": "a.png", "content_type": "image/png"}
    )
    grant = await granted(http)
    labelled_jpeg = await put(
        http, {**grant, "required_headers": {"Content-Type": "image/jpeg"}}, jpeg()
    )
    jpeg_as_png = await put(http, grant, jpeg())
    script = await put(http, grant, b"<script>alert(1)</script>")
    then_the_png = await put(http, grant, png())  # the refusals did not use the URL up
    assert [gif.status_code, folder.status_code, channel.status_code] == [422, 422, 422]
    assert labelled_jpeg.status_code == 415 and jpeg_as_png.status_code == 415
    assert script.status_code == 415
    assert labelled_jpeg.json()["error"] == "unsupported_media_type"
    assert then_the_png.status_code == 200, then_the_png.text


async def test_a_forged_or_misused_signature_is_403(http: httpx.AsyncClient) -> None:
    grant = await granted(http)
    other = await granted(http)
    url = urlsplit(grant["upload_url"])
    signature = parse_qs(url.query)["sig"][0]
    base = f"{url.scheme}://{url.netloc}"
    tampered = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    attempts = {
        "altered": f"{base}{url.path}?sig={tampered}",
        "missing": f"{base}{url.path}",
        "another key's": f"{base}{urlsplit(other['upload_url']).path}?sig={signature}",
        "another channel's": f"{base}{url.path.replace('/chat/', '/scan/')}?sig={signature}",
    }
    answers = {}
    for what, target in attempts.items():
        answers[what] = await put(http, {**grant, "upload_url": target}, png())
    assert {w: r.status_code for w, r in answers.items()} == dict.fromkeys(attempts, 403)
    assert answers["altered"].json()["error"] == "upload_not_granted"


async def test_an_expired_upload_url_is_403(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_gateway(deployment, monkeypatch, gateway={"upload_url_seconds": 1}) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            grant = await granted(client)
            assert grant["expires_in"] == 1
            # Signatures carry whole seconds: 2.1 s later the age is at least 2 > 1, however
            # slow the machine (a later PUT is only older).
            await asyncio.sleep(2.1)
            late = await put(client, grant, png())
    assert late.status_code == 403


async def test_the_photo_limit_not_the_json_limit_applies_to_the_put(
    http: httpx.AsyncClient, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant = await granted(http)
    large = png() + os.urandom(100_000)  # over max_body_bytes (64 KiB), under the photo limit
    kept = await put(http, grant, large)
    with serve_gateway(deployment, monkeypatch, gateway={"max_upload_bytes": 1000}) as small:
        async with httpx.AsyncClient(base_url=small.url, timeout=30) as client:
            big_grant = await granted(client)
            big = await put(client, big_grant, png() + os.urandom(5000))
            fits = await put(client, big_grant, png())
    assert kept.status_code == 200, kept.text
    assert big.status_code == 413
    assert fits.status_code == 200  # the 413 did not use the URL up


async def test_the_day_quota_is_429_with_retry_after(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = {"photos_per_hour": 2, "photo_bytes_per_hour": 10_000_000}
    with serve_gateway(deployment, monkeypatch, limits=limits) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            grants = [await granted(client) for _ in range(3)]
            answers = [await put(client, g, png()) for g in grants]
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as other_guest:
                theirs = await put(other_guest, await granted(other_guest), png())
            refused_photo = await client.get(grants[2]["cdn_url"])
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert answers[2].json()["limit"] == "photos_per_hour"
    assert theirs.status_code == 200  # per principal
    assert refused_photo.status_code == 404


async def test_the_day_byte_quota_counts_bytes(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = png() + os.urandom(4000)
    limits = {"photos_per_hour": None, "photo_bytes_per_hour": 2 * len(photo) + 200}
    with serve_gateway(deployment, monkeypatch, limits=limits) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            answers = [await put(client, await granted(client), photo) for _ in range(3)]
            small = await put(client, await granted(client), png())
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["limit"] == "photo_bytes_per_hour"
    assert small.status_code == 200  # what is left of the day's bytes still takes a small one


@pytest.fixture
def vision_deployment(vision_llm: tuple[RunningServer, Script]) -> Deployment:
    server, _ = vision_llm
    return Deployment(
        env={
            **openai_env(server.url),
        }
    )


async def test_a_message_with_the_cdn_url_reaches_the_vision_model(
    vision_deployment: Deployment,
    vision_llm: tuple[RunningServer, Script],
    monkeypatch: pytest.MonkeyPatch,
    logs: Path,
) -> None:
    _, script = vision_llm
    photo = png()
    with (
        serve_gateway(vision_deployment, monkeypatch) as server,
        worker_process(vision_deployment, logs),
    ):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            grant = await granted(client)
            assert (await put(client, grant, photo)).status_code == 200
            chat = (await client.post("/api/v1/chat")).json()["id"]
            sent = await _send(client, grant["cdn_url"], chat)
            assert sent.status_code == 202, sent.text
            events = [e async for e in sse_events(client, sent.json()["stream_url"])]
            detail = (await client.get(f"/api/v1/chat/{chat}")).json()
    assert events[-1].event == "done", events[-1].data
    assert any(e.event == "vision" for e in events)
    encoded = base64.b64encode(photo).decode()
    requests = [str(r["json"]) for r in script.requests if r.get("json")]
    assert any(f"data:image/png;base64,{encoded}" in text for text in requests)  # the bytes
    user = [m for m in detail["messages"] if m["role"] == "user"]
    assert [m["image_url"] for m in user] == [grant["cdn_url"]]  # as the client sent it


async def _send(
    client: httpx.AsyncClient, image_url: str, chat: str | None = None
) -> httpx.Response:
    if chat is None:
        chat = (await client.post("/api/v1/chat")).json()["id"]
    return await client.post(
        f"/api/v1/chat/{chat}/messages",
        json={"message": "이거 어떻게 버려?", "image_url": image_url},
    )
