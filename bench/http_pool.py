"""Figures for the shared HTTP pool: survival under connection recycling, and throughput.

    .venv/bin/python bench/http_pool.py [--calls 2000]

Prints, for one run on this machine:
  1. a server that sends GOAWAY every N requests (hypercorn, TLS, HTTP/2): failed calls and
     calls/s for a plain httpx HTTP/2 client vs the container's shared client;
  2. calls/s at 1, 10 and 100 concurrent callers on loopback HTTP/1.1, plain vs shared;
  3. the cost of starting the container and of one offline LLM call.
Compare figures within one run only (2 small cores, noisy neighbours).
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.containers.cli import CliContainer
from app.containers.lifecycle import resolve, running
from app.infrastructure.http import build_http_client
from app.settings import HttpSettings, load_settings
from tests.support.asgi_server import TLSFiles, serve_in_thread
from tests.support.providers_app import ProvidersApp

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"authorization": "Bearer sk-bench"}


async def burst(
    client: httpx.AsyncClient, url: str, calls: int, concurrency: int
) -> tuple[Counter[str], float]:
    failures: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            try:
                (
                    await client.post(f"{url}/v1/chat/completions", json=BODY, headers=AUTH)
                ).raise_for_status()
            except httpx.HTTPError as exc:
                failures[type(exc).__name__] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return failures, calls / (time.perf_counter() - started)


async def recycling(calls: int, tls: TLSFiles) -> None:
    print(f"1. GOAWAY recycling, {calls} calls all at once, TLS + HTTP/2")
    for every in (150, 300, 1000):
        with serve_in_thread(ProvidersApp(), tls=tls, keep_alive_max_requests=every) as server:
            context = ssl.create_default_context(cafile=str(tls.ca_pem))
            async with httpx.AsyncClient(http2=True, verify=context, timeout=60) as plain:
                plain_fail, plain_rate = await burst(plain, server.url, calls, calls)
            shared = build_http_client(HttpSettings(ca_bundle=tls.ca_pem))
            async with shared:
                ours_fail, ours_rate = await burst(shared, server.url, calls, calls)
                retries = shared._transport.retries  # type: ignore[attr-defined]
        print(
            f"   GOAWAY every {every:>4}: plain httpx {sum(plain_fail.values()):>5} failed "
            f"({plain_rate:6.0f}/s) | shared pool {sum(ours_fail.values()):>3} failed "
            f"({ours_rate:6.0f}/s, {retries} resends)"
        )


async def throughput(calls: int) -> None:
    print(f"2. loopback HTTP/1.1 throughput, {calls} calls")
    with serve_in_thread(ProvidersApp()) as server:
        for concurrency in (1, 10, 100):
            async with httpx.AsyncClient(timeout=60) as plain:
                _, plain_rate = await burst(plain, server.url, calls, concurrency)
            async with build_http_client(HttpSettings()) as shared:
                _, ours_rate = await burst(shared, server.url, calls, concurrency)
            print(
                f"   {concurrency:>3} concurrent: plain {plain_rate:6.0f} calls/s | shared "
                f"{ours_rate:6.0f} calls/s (ratio {ours_rate / plain_rate:4.2f})"
            )


async def container_costs() -> None:
    print("3. container and offline LLM")
    settings = load_settings()
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        async with running(CliContainer(settings=settings)):
            pass
    startup = (time.perf_counter() - started) / rounds * 1000
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.llms.llm)
        started = time.perf_counter()
        for _ in range(200):
            await llm.generate("페트병 어떻게 버려요?", system="페트병: 라벨을 떼고 헹굽니다.")
        per_call = (time.perf_counter() - started) / 200 * 1000
    print(f"   start+stop container: {startup:.2f} ms | offline generate: {per_call:.3f} ms/call")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        await recycling(args.calls, TLSFiles.create(Path(tmp)))
    await throughput(min(args.calls, 1000))
    await container_costs()


if __name__ == "__main__":
    asyncio.run(main())
