"""The SDKs send through the container's one HTTP pool (httpx2 by default, httpx as a setting):
HTTP/2 over TLS, it survives servers that recycle connections (GOAWAY after N requests), and
over HTTP/1.1 it keeps its connections alive instead of reopening them."""

from __future__ import annotations

import asyncio
import gc
import ssl
import warnings
from collections import Counter
from typing import Any

import httpx
import httpx2
import pytest

from app.containers import CliContainer
from app.containers_core import resolve, running
from app.infrastructure.http import LIBRARIES, RecyclingSafeTransport, SharedClient
from app.infrastructure.llm.anthropic_llm import AnthropicLLMClient
from app.infrastructure.llm.factories import adapter_kwargs
from app.infrastructure.llm.gemini_llm import GeminiLLMClient
from app.settings import HttpSettings, Settings, load_settings
from tests.support.asgi_server import TLSFiles, serve_in_thread
from tests.support.cpu_load import cpu_hogs
from tests.support.providers_app import ProvidersApp

# GOAWAY after every 150 requests: stricter than provider front ends. hypercorn's version is
# harsher than most (streams in flight when the limit is hit are dropped, not finished).
RECYCLE_EVERY = 150
DEFAULT_LIBRARY = HttpSettings().client
OTHER_LIBRARY = next(name for name in LIBRARIES if name != DEFAULT_LIBRARY)


def all_providers(url: str, tls: TLSFiles | None, library: str, **http: Any) -> Settings:
    return load_settings(
        llm={
            "provider": "openai",
            "max_retries": 0,  # the SDK's retries must not be what saves us
            "openai": {"api_key": "sk-test-0123456789", "base_url": f"{url}/v1"},
            "gemini": {"api_key": "AIza-test-0123456789", "base_url": url},
            "anthropic": {"api_key": "sk-ant-test-0123456789", "base_url": url},
        },
        http={"ca_bundle": str(tls.ca_pem) if tls else None, "client": library, **http},
    )


async def build_clients(container: Any, settings: Settings) -> tuple[Any, Any, SharedClient]:
    openai_llm = await resolve(container.chat.llm)
    genai_client = await resolve(container.clients.gemini_client)
    kwargs = adapter_kwargs(settings.llm) | {"model": "gemini-2.5-flash"}
    gemini_llm = GeminiLLMClient(genai_client, **kwargs)
    http_client = await resolve(container.clients.http_client)
    return openai_llm, gemini_llm, http_client


async def anthropic_llm(container: Any, settings: Settings) -> AnthropicLLMClient:
    sdk = await resolve(container.clients.anthropic_client)
    return AnthropicLLMClient(sdk, **adapter_kwargs(settings.llm, "anthropic"))


@pytest.mark.parametrize("library", sorted(LIBRARIES))
async def test_both_sdks_share_one_http2_connection(tls_files: TLSFiles, library: str) -> None:
    app = ProvidersApp()
    with serve_in_thread(app, tls=tls_files) as server:
        settings = all_providers(server.url, tls_files, library)
        async with running(CliContainer(settings=settings)) as container:
            openai_llm, gemini_llm, http_client = await build_clients(container, settings)
            assert isinstance(http_client, LIBRARIES[library].module.AsyncClient)
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


async def test_anthropic_shares_the_pool_on_httpx2(tls_files: TLSFiles) -> None:
    app = ProvidersApp()
    with serve_in_thread(app, tls=tls_files) as server:
        settings = all_providers(server.url, tls_files, "httpx2")
        async with running(CliContainer(settings=settings)) as container:
            openai_llm, _, http_client = await build_clients(container, settings)
            claude = await anthropic_llm(container, settings)
            assert claude._client._client is http_client
            calls = [claude.generate(f"claude {i}") for i in range(30)]
            calls += [openai_llm.generate(f"openai {i}") for i in range(30)]
            answers = await asyncio.gather(*calls)
            streamed = "".join([chunk async for chunk in claude.generate_stream("glass")])
        assert http_client.is_closed  # closed once, by its own resource

    assert answers[0] == "echo: claude 0" and streamed == "echo: glass"
    assert len(app.anthropic.script.requests) == 31
    assert len(server.connections.clients) == 1, server.connections.clients


async def test_anthropic_keeps_its_own_pool_on_httpx() -> None:
    app = ProvidersApp()
    with serve_in_thread(app) as server:  # its own pool does not trust our test CA
        settings = all_providers(server.url, None, "httpx")
        async with running(CliContainer(settings=settings)) as container:
            http_client = await resolve(container.clients.http_client)
            claude = await anthropic_llm(container, settings)
            assert isinstance(http_client, httpx.AsyncClient)
            assert isinstance(claude._client._client, httpx2.AsyncClient)
            assert await claude.generate("병뚜껑") == "echo: 병뚜껑"


async def _failures_of_plain_httpx(tls: TLSFiles, count: int) -> Counter[str]:
    """The baseline: a plain httpx client fails under a server that recycles connections.
    Under load httpcore can also abandon a connection without closing it, and the server
    then holds its end until it stops; so the baseline has a server and an event loop of its
    own, both ended here and their leftovers collected, so that a ResourceWarning later in the
    test is the pool under test's own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with serve_in_thread(
            ProvidersApp(), tls=tls, keep_alive_max_requests=RECYCLE_EVERY
        ) as server:
            failures = await asyncio.to_thread(
                asyncio.run, _plain_httpx_calls(server.url, tls, count)
            )
        gc.collect()
    return failures


async def _plain_httpx_calls(url: str, tls: TLSFiles, count: int) -> Counter[str]:
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


def raw_call(http_client: SharedClient, url: str) -> Any:
    async def call(i: int) -> str:
        response = await http_client.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": "Bearer sk-test"},
            json={"model": "m", "messages": [{"role": "user", "content": f"raw {i}"}]},
        )
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])

    return call


async def survive_recycling(tls: TLSFiles, library: str, counts: dict[str, int]) -> None:
    """`counts` calls of each kind at once, with every core busy on purpose: a loss that needs
    an idle machine to stay away is a loss."""
    # The same load through a plain httpx HTTP/2 client fails: the server is harsh enough.
    plain_failures = await _failures_of_plain_httpx(tls, 600)
    assert sum(plain_failures.values()) > 0, "server did not recycle connections"
    app = ProvidersApp()
    # At load 16 a connection dropped mid-handshake by the GOAWAY (an SSL error in hypercorn's
    # close) can be left unclosed on both ends. Collected at an unknown later time it failed
    # whichever test ran then; here it is collected and counted, and the losses are asserted.
    with warnings.catch_warnings(record=True) as leaks:
        warnings.simplefilter("always", ResourceWarning)
        with serve_in_thread(app, tls=tls, keep_alive_max_requests=RECYCLE_EVERY) as server:
            settings = all_providers(server.url, tls, library)
            async with running(CliContainer(settings=settings)) as container:
                openai_llm, gemini_llm, http_client = await build_clients(container, settings)
                before = len(server.connections.clients)
                raw = raw_call(http_client, server.url)
                calls = [raw(i) for i in range(counts["raw"])]
                calls += [openai_llm.generate(f"openai {i}") for i in range(counts["openai"])]
                calls += [gemini_llm.generate(f"gemini {i}") for i in range(counts["gemini"])]
                if counts.get("anthropic"):
                    claude = await anthropic_llm(container, settings)
                    calls += [claude.generate(f"claude {i}") for i in range(counts["anthropic"])]
                with cpu_hogs():
                    results = await asyncio.gather(*calls, return_exceptions=True)
                transport = http_client._transport
                assert isinstance(transport, RecyclingSafeTransport)
        gc.collect()
    print(f"{len(results)} calls, {transport.retries} resent, {len(leaks)} unclosed at the end")

    errors = [r for r in results if isinstance(r, BaseException)]
    notes = getattr(errors[0], "__notes__", []) if errors else []  # which budget ran out
    assert errors == [], f"{len(errors)} of {len(results)} failed, first: {errors[:1]!r} {notes}"
    assert results[0] == "echo: raw 0" and results[-1].startswith("echo: ")
    recycled_connections = len(server.connections.clients) - before
    assert recycled_connections >= sum(counts.values()) // RECYCLE_EVERY
    assert transport.retries > 0


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_thousands_of_calls_survive_connection_recycling(tls_files: TLSFiles) -> None:
    """The default library, every SDK that can share it: 2,000 calls at once, 0 lost."""
    counts = {"raw": 800, "openai": 700, "gemini": 500}
    if DEFAULT_LIBRARY == "httpx2":  # then Anthropic sends through the pool too
        counts = {"raw": 800, "openai": 500, "gemini": 400, "anthropic": 300}
    await survive_recycling(tls_files, DEFAULT_LIBRARY, counts)


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_other_librarys_pool_survives_recycling_too(tls_files: TLSFiles) -> None:
    await survive_recycling(tls_files, OTHER_LIBRARY, {"raw": 300, "openai": 200, "gemini": 100})


@pytest.mark.parametrize("library", sorted(LIBRARIES))
async def test_http11_connections_are_kept_alive_and_reused(library: str) -> None:
    """An http:// base_url (vLLM, Ollama): many more calls than connections, and the pool
    opens no more connections than it may hold, because it keeps every one alive."""
    app = ProvidersApp()
    with serve_in_thread(app) as server:
        settings = all_providers(server.url, None, library, max_connections=20)
        async with running(CliContainer(settings=settings)) as container:
            openai_llm, _, http_client = await build_clients(container, settings)
            raw = raw_call(http_client, server.url)
            calls = [raw(i) for i in range(400)] + [openai_llm.generate("x") for _ in range(200)]
            results = await asyncio.gather(*calls)

    assert len(results) == 600 and len(app.openai.script.requests) == 600
    assert server.connections.http_versions == {"1.1"}
    assert len(server.connections.clients) <= 20, len(server.connections.clients)
