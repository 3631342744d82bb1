"""Both SDKs send through the container's one httpx pool: HTTP/2 over TLS, and it survives
servers that recycle connections (GOAWAY after N requests)."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from typing import Any

import httpx
import pytest

from app.containers.cli import CliContainer
from app.containers.lifecycle import resolve, running
from app.infrastructure.http import RecyclingSafeTransport
from app.infrastructure.llm.factories import adapter_kwargs
from app.infrastructure.llm.gemini_llm import GeminiLLMClient
from app.settings import Settings, load_settings
from tests.support.asgi_server import TLSFiles, serve_in_thread
from tests.support.cpu_load import cpu_hogs
from tests.support.providers_app import ProvidersApp

# GOAWAY after every 150 requests: stricter than provider front ends. hypercorn's version is
# harsher than most (streams in flight when the limit is hit are dropped, not finished).
RECYCLE_EVERY = 150


def both_providers(url: str, tls: TLSFiles, **llm: Any) -> Settings:
    return load_settings(
        llm={
            "provider": "openai",
            "max_retries": 0,  # the SDK's retries must not be what saves us
            "openai": {"api_key": "sk-test-0123456789", "base_url": f"{url}/v1"},
            "gemini": {"api_key": "AIza-test-0123456789", "base_url": url},
            **llm,
        },
        http={"ca_bundle": str(tls.ca_pem), "http2": True},
    )


async def build_clients(container: Any, settings: Settings) -> tuple[Any, Any, httpx.AsyncClient]:
    openai_llm = await resolve(container.llms.llm)
    genai_client = await resolve(container.clients.gemini_client)
    kwargs = adapter_kwargs(settings.llm) | {"model": "gemini-2.5-flash"}
    gemini_llm = GeminiLLMClient(genai_client, **kwargs)
    http_client = await resolve(container.clients.http_client)
    return openai_llm, gemini_llm, http_client


async def test_both_sdks_share_one_http2_connection(tls_files: TLSFiles) -> None:
    app = ProvidersApp()
    with serve_in_thread(app, tls=tls_files) as server:
        settings = both_providers(server.url, tls_files)
        async with running(CliContainer(settings=settings)) as container:
            openai_llm, gemini_llm, http_client = await build_clients(container, settings)
            openai_sdk = await resolve(container.clients.openai_client)
            assert openai_sdk._client is http_client
            assert gemini_llm._client.aio._api_client._async_httpx_client is http_client

            calls = [openai_llm.generate(f"openai {i}") for i in range(40)]
            calls += [gemini_llm.generate(f"gemini {i}") for i in range(40)]
            answers = await asyncio.gather(*calls)

    assert answers[0] == "echo: openai 0" and answers[-1] == "echo: gemini 39"
    assert len(app.openai.script.requests) == 40 and len(app.gemini.script.requests) == 40
    assert server.connections.http_versions == {"2"}
    assert len(server.connections.clients) == 1, server.connections.clients


async def _failures_of_plain_httpx(url: str, tls: TLSFiles, count: int) -> Counter[str]:
    failures: Counter[str] = Counter()
    context = ssl.create_default_context(cafile=str(tls.ca_pem))
    async with httpx.AsyncClient(http2=True, verify=context, timeout=30) as plain:

        async def one(i: int) -> None:
            try:
                response = await plain.post(
                    f"{url}/v1/chat/completions",
                    headers={"authorization": "Bearer sk-test"},
                    json={"model": "m", "messages": [{"role": "user", "content": str(i)}]},
                )
                response.raise_for_status()
            except httpx.HTTPError as exc:
                failures[type(exc).__name__] += 1

        await asyncio.gather(*(one(i) for i in range(count)))
    return failures


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_thousands_of_calls_survive_connection_recycling(tls_files: TLSFiles) -> None:
    """With every core busy on purpose: a loss that needs an idle machine to stay away is a loss."""
    app = ProvidersApp()
    with serve_in_thread(app, tls=tls_files, keep_alive_max_requests=RECYCLE_EVERY) as server:
        # The same load through a plain httpx HTTP/2 client fails: the server is harsh enough.
        plain_failures = await _failures_of_plain_httpx(server.url, tls_files, 600)
        assert sum(plain_failures.values()) > 0, "server did not recycle connections"

        settings = both_providers(server.url, tls_files)
        async with running(CliContainer(settings=settings)) as container:
            openai_llm, gemini_llm, http_client = await build_clients(container, settings)
            before = len(server.connections.clients)

            async def raw(i: int) -> str:
                response = await http_client.post(
                    f"{server.url}/v1/chat/completions",
                    headers={"authorization": "Bearer sk-test"},
                    json={"model": "m", "messages": [{"role": "user", "content": f"raw {i}"}]},
                )
                response.raise_for_status()
                return str(response.json()["choices"][0]["message"]["content"])

            calls = [raw(i) for i in range(800)]
            calls += [openai_llm.generate(f"openai {i}") for i in range(700)]
            calls += [gemini_llm.generate(f"gemini {i}") for i in range(500)]
            with cpu_hogs():
                results = await asyncio.gather(*calls, return_exceptions=True)
            transport = http_client._transport
            assert isinstance(transport, RecyclingSafeTransport)
            retries = transport.retries

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], f"{len(errors)} of {len(results)} failed, first: {errors[:1]!r}"
    assert results[0] == "echo: raw 0" and results[-1] == "echo: gemini 499"
    recycled_connections = len(server.connections.clients) - before
    assert recycled_connections >= 2000 // RECYCLE_EVERY
    assert retries > 0
