"""The API's own documentation: /docs and /redoc work offline (local assets only), every error
status is documented with the one ErrorResponse schema and real error bodies match it, and the
events of real chats match the documented ChatEvent schema."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from pydantic import BaseModel

from app.application.access.api_keys import issue
from app.entrypoints.gateway import event_schema
from app.infrastructure.access.file_keys import FileApiKeyStore
from tests.e2e.conftest import ask, serve_gateway
from tests.e2e.test_asking_back import BULKY, collect, until
from tests.support.services import Deployment, worker_process

ERROR_REF = "#/components/schemas/ErrorResponse"
# Every operation, and the error statuses it can give (see routes.py and errors.py).
CAN_FAIL = {
    ("post", "/v1/chat"): {400, 401, 404, 409, 413, 422, 429, 503},
    ("get", "/v1/chat/{job_id}/events"): {403, 404, 422, 503},
    ("get", "/v1/chat/{job_id}"): {403, 404, 422, 503},
    ("post", "/v1/chat/{job_id}/input"): {400, 401, 403, 404, 409, 410, 413, 422, 429, 503},
    ("post", "/v1/chat/{job_id}/cancel"): {403, 404, 422, 503},
    ("post", "/v1/uploads"): {401, 413, 415, 429, 503},
    ("get", "/v1/uploads/{name}"): {404, 503},
    ("get", "/v1/images/{name}"): {404, 503},
}
ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_only_local_assets(http: httpx.AsyncClient, page: str) -> None:
    response = await http.get(page)
    assert response.status_code == 200
    assets = ASSET.findall(response.text)
    assert len(assets) >= 2, response.text  # the script, and a stylesheet or icon
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
        fetched = await http.get(url)
        assert fetched.status_code == 200 and len(fetched.content) > 1000, url
    assert "http://" not in response.text and "https://" not in response.text
    spec = re.search(r"""(?:url: |spec-url=)["']([^"']+)["']""", response.text)
    assert spec is not None and (await http.get(spec.group(1))).status_code == 200


async def test_every_error_status_is_documented_with_error_response(
    http: httpx.AsyncClient,
) -> None:
    document = (await http.get("/openapi.json")).json()
    for (method, path), statuses in CAN_FAIL.items():
        responses = document["paths"][path][method]["responses"]
        documented = {int(code) for code in responses if int(code) >= 400}
        assert documented == statuses, f"{method} {path}"
        for status in statuses:
            entry = responses[str(status)]
            schema = entry["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, f"{method} {path} {status}"
            assert entry["description"]
            if status in (429, 503):
                assert "Retry-After" in entry["headers"], f"{method} {path} {status}"
    assert "HTTPValidationError" not in str(document)  # FastAPI's 422 shape is not ours


async def test_every_field_of_every_model_is_described(http: httpx.AsyncClient) -> None:
    schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
    for name, schema in schemas.items():
        for field, spec in schema.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{field} has no description"


async def test_the_sse_event_schema_is_documented(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    chat_event = document["components"]["schemas"]["ChatEvent"]
    types = set(chat_event["discriminator"]["mapping"])
    assert types == {
        "queued", "stage", "delta", "answer", "needs_input", "resumed", "done", "error"
    }  # fmt: skip
    for ref in chat_event["discriminator"]["mapping"].values():
        assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"]
    ok = document["paths"]["/v1/chat/{job_id}/events"]["get"]["responses"]["200"]
    frame = ok["content"]["text/event-stream"]["schema"]
    assert frame["properties"]["data"]["contentMediaType"] == "application/json"
    assert frame["properties"]["data"]["contentSchema"] == {
        "$ref": "#/components/schemas/ChatEvent"
    }


@pytest.fixture
def deployment() -> Deployment:
    return Deployment(env=BULKY)  # bulky-waste questions ask back: needs_input and resumed


async def test_real_errors_and_events_match_their_documented_schemas(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, logs: Path
) -> None:
    # A principal of this test's own: rate windows are kept per principal in the shared Redis.
    key = issue(f"docs-{uuid.uuid4().hex[:8]}")
    keys = tmp_path / "keys.json"
    await FileApiKeyStore(keys).add(key.info)
    deployment.env |= {"APP_AUTH__KEYS_FILE": str(keys), "APP_AUTH__ALLOW_ANONYMOUS": "false"}
    limits = {"requests_per_minute": 4}
    # X-API-Key, not Authorization: on a job's routes a bearer credential must be its token.
    api_key = {"X-API-Key": key.key}
    with (
        serve_gateway(deployment, monkeypatch, limits=limits) as gateway,
        worker_process(deployment, logs),
    ):
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30, headers=api_key) as http:
            document = (await http.get("/openapi.json")).json()
            async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as nobody:
                anonymous = await nobody.post("/v1/chat", json={"message": "캔"})
            error_schema = document["components"]["schemas"]["ErrorResponse"]
            # Four requests count against the rate, so the fourth is never refused (at most 4 a
            # minute) and any one after it may be, however long the chat takes.
            first = await ask(http, "소파 버리는 비용 얼마야?")  # 1
            unknown = await http.post(
                "/v1/chat", json={"message": "캔", "thread_id": "thr_madeup0123456789abcdef"}
            )  # 2
            paused = await asyncio.wait_for(until(http, first["events_url"], "needs_input"), 90)
            input_url = f"/v1/chat/{first['job_id']}/input?token={first['token']}"
            answered = await http.post(input_url, json={"value": "마포구"})  # 3
            assert answered.status_code == 202, answered.text
            second = answered.json()
            first_events = await asyncio.wait_for(collect(http, first["events_url"]), 90)
            second_events = await asyncio.wait_for(collect(http, second["events_url"]), 90)
            forbidden = await http.get(f"/v1/chat/{first['job_id']}?token=not-a-token")
            late = await http.post(input_url, json={"value": "강남구"})  # 4: answered already
            limited = await _until_limited(http, input_url)
    for response, status, kind in [
        (anonymous, 401, "unauthorized"),
        (unknown, 404, "thread_not_found"),
        (forbidden, 403, "forbidden"),
        (limited, 429, "rate_limited"),
        (late, 409, "not_waiting_for_input"),
    ]:
        assert response.status_code == status, response.text
        body = response.json()
        jsonschema_rs.validate(error_schema, body)
        assert body["error"] == kind
    assert limited.json()["limit"] == "requests_per_minute"
    seen = {e.event for e in [*paused, *first_events, *second_events]}
    assert {"queued", "stage", "needs_input", "resumed", "delta", "answer", "done"} <= seen
    # As the served document says it, too (a client or a fuzzer validates with the OpenAPI
    # schema, `oneOf` and all, not with our models).
    documented = {"$ref": "#/components/schemas/ChatEvent", "components": document["components"]}
    for event in [*paused, *first_events, *second_events]:
        _matches_chat_event(event.event, event.data)
        jsonschema_rs.validate(documented, event.data)


async def _until_limited(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """A 429 from the moving window: at most 4 requests a minute get through, so 5 tries in a
    row see one however long the chat took."""
    for _ in range(5):
        response = await http.post(url, json={"value": "강남구"})
        if response.status_code == 429:
            return response
    raise AssertionError(f"never rate limited: {response.status_code} {response.text}")


def _matches_chat_event(sse_event: str, data: dict[str, Any]) -> None:
    parsed = event_schema.CHAT_EVENT.validate_python(data)
    assert parsed.type == sse_event
    _no_undocumented_fields(parsed, data)


def _no_undocumented_fields(model: BaseModel, raw: dict[str, Any]) -> None:
    """Every key on the wire is a documented field (free-form `stage` data aside)."""
    assert set(raw) <= set(type(model).model_fields), (type(model).__name__, set(raw))
    for name, value in raw.items():
        nested = getattr(model, name)
        if isinstance(nested, BaseModel) and isinstance(value, dict):
            _no_undocumented_fields(nested, value)
        if isinstance(nested, list) and isinstance(value, list):
            for item, item_raw in zip(nested, value, strict=True):
                if isinstance(item, BaseModel):
                    _no_undocumented_fields(item, item_raw)
