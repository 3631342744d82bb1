"""Figures for the shared HTTP pool: survival under connection recycling, and throughput.

    .venv/bin/python bench/http_pool.py [--calls 2000] [--rounds 5] [--sections 1,2,3,4,5,6]

Prints, for one run on this machine:
  1. a server that sends GOAWAY every N requests (hypercorn, TLS, HTTP/2): failed calls and
     calls/s for a plain httpx HTTP/2 client vs the container's shared client;
  2. calls/s at 1, 10 and 100 concurrent callers on loopback HTTP/1.1, plain vs shared;
  3. the cost of starting the container and of one offline LLM call;
  4. the stack: calls/s and client CPU per call through the shared client on httpx vs httpx2,
     HTTP/1.1 (plain http) vs HTTP/2 (TLS), at 1, 10, 100 and 500 concurrent calls; the
     variants alternate within each round and the median of the rounds is printed;
  5. new connections opened by 1,500 HTTP/1.1 calls, keep-alive 20 (before) vs sized to the
     pool (after), beside the floor (max_connections);
  6. GOAWAY every 150 requests, 2,000 concurrent calls, a CPU hog on every core: calls lost by
     the shared pool on each library (must be 0), beside a plain client of that library.
Sections 4-6 run the server in a process of its own, so client CPU is the client's alone.
Compare figures within one run only (2 small cores, noisy neighbours).
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.containers import CliContainer
from app.containers_core import resolve, running
from app.infrastructure.http import (
    LIBRARIES,
    RecyclingSafeTransport,
    SharedClient,
    build_http_client,
)
from app.settings import HttpClientLibrary, HttpSettings, load_settings
from bench.loopback_server import ServerProcess, serve_in_process
from tests.support.asgi_server import TLSFiles, serve_in_thread
from tests.support.cpu_load import cpu_hogs
from tests.support.providers_app import ProvidersApp

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"authorization": "Bearer sk-bench"}


HTTP_ERRORS = (httpx.HTTPError, httpx2.HTTPError)
CONCURRENCY = (1, 10, 100, 500)
CALLS_AT = {1: 300, 10: 1000, 100: 2000, 500: 2500}  # enough for ~1 s per figure
PROTOCOLS = ("HTTP/1.1", "HTTP/2")
DEFAULT = HttpSettings().client


async def burst(
    client: SharedClient, url: str, calls: int, concurrency: int
) -> tuple[Counter[str], float]:
    failures: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            try:
                (
                    await client.post(f"{url}/v1/chat/completions", json=BODY, headers=AUTH)
                ).raise_for_status()
            except HTTP_ERRORS as exc:
                failures[type(exc).__name__] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return failures, calls / (time.perf_counter() - started)


async def recycling(calls: int, tls: TLSFiles) -> None:
    print(f"1. GOAWAY recycling, {calls} calls all at once, TLS + HTTP/2 (shared: {DEFAULT})")
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
    print(f"2. loopback HTTP/1.1 throughput, {calls} calls (plain: httpx, shared: {DEFAULT})")
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
    settings = load_settings(logging={"level": "WARNING"})
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        async with running(CliContainer(settings=settings)):
            pass
    startup = (time.perf_counter() - started) / rounds * 1000
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        started = time.perf_counter()
        for _ in range(200):
            await llm.generate("페트병 어떻게 버려요?", system="페트병: 라벨을 떼고 헹굽니다.")
        per_call = (time.perf_counter() - started) / 200 * 1000
    print(f"   start+stop container: {startup:.2f} ms | offline generate: {per_call:.3f} ms/call")


def stack_settings(library: HttpClientLibrary, tls: TLSFiles, **http: object) -> HttpSettings:
    return HttpSettings.model_validate({"client": library, "ca_bundle": tls.ca_pem, **http})


async def one_figure(
    library: HttpClientLibrary, url: str, tls: TLSFiles, concurrency: int
) -> tuple[float, float]:
    """calls/s and client CPU µs per call, on a warm pool (connections already open)."""
    async with build_http_client(stack_settings(library, tls)) as client:
        warm = min(concurrency, 100)
        await burst(client, url, 2 * warm, warm)
        cpu = time.process_time()
        failures, rate = await burst(client, url, CALLS_AT[concurrency], concurrency)
        cpu_us = (time.process_time() - cpu) / CALLS_AT[concurrency] * 1e6
    assert not failures, failures
    return rate, cpu_us


async def stack(tls: TLSFiles, rounds: int) -> None:
    print(f"4. the stack through the shared client: median of {rounds} alternating rounds")
    figures: defaultdict[tuple[str, str, int], list[tuple[float, float]]] = defaultdict(list)
    variants = [(lib, proto) for proto in PROTOCOLS for lib in LIBRARIES]
    with serve_in_process() as h1, serve_in_process(tls=tls) as h2:
        urls = {"HTTP/1.1": h1.url, "HTTP/2": h2.url}
        for round_ in range(rounds):
            for concurrency in CONCURRENCY:
                shift = (round_ + concurrency) % len(variants)  # every variant goes first
                for library, protocol in variants[shift:] + variants[:shift]:
                    figure = await one_figure(library, urls[protocol], tls, concurrency)
                    figures[(library, protocol, concurrency)].append(figure)
    print("   protocol  calls | httpx calls/s µs/call | httpx2 calls/s µs/call | httpx2/httpx")
    for protocol in PROTOCOLS:
        for concurrency in CONCURRENCY:
            (rate1, cpu1), (rate2, cpu2) = (
                _median(figures[(lib, protocol, concurrency)]) for lib in LIBRARIES
            )
            print(
                f"   {protocol:<8} {concurrency:>6} | {rate1:13.0f} {cpu1:7.0f} |"
                f" {rate2:14.0f} {cpu2:7.0f} | {rate2 / rate1:5.2f}x calls/s,"
                f" {cpu2 / cpu1:4.2f}x CPU"
            )


def _median(figures: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(f[0] for f in figures), statistics.median(f[1] for f in figures)


async def connection_reuse(tls: TLSFiles, calls: int = 1500) -> None:
    floor = HttpSettings().max_connections
    print(f"5. new connections for {calls} HTTP/1.1 calls (floor: max_connections = {floor});")
    print("   beside each count, the client's CPU per call (µs)")
    print("   library  concurrent | keep-alive 20 (before) | keep-alive = pool (after) | floor")
    with serve_in_process() as server:
        for library in LIBRARIES:
            for concurrency in (100, 500):
                cells = [
                    await _new_connections(server, library, tls, keepalive, calls, concurrency)
                    for keepalive in (20, None)
                ]
                print(
                    f"   {library:<8} {concurrency:>10} | {cells[0]:>22} | {cells[1]:>25} |"
                    f" {min(floor, concurrency):>5}"
                )


async def _new_connections(
    server: ServerProcess,
    library: HttpClientLibrary,
    tls: TLSFiles,
    keepalive: int | None,
    calls: int,
    concurrency: int,
) -> str:
    settings = stack_settings(library, tls, max_keepalive_connections=keepalive)
    before = server.connections()
    async with build_http_client(settings) as client:
        cpu = time.process_time()
        failures, _ = await burst(client, server.url, calls, concurrency)
        cpu_us = (time.process_time() - cpu) / calls * 1e6
    assert not failures, failures
    return f"{server.connections() - before} ({cpu_us:.0f} µs)"


async def goaway_under_load(tls: TLSFiles, calls: int = 2000, every: int = 150) -> None:
    print(f"6. GOAWAY every {every} requests, {calls} calls at once, a CPU hog on every core")
    print("   library | plain client failed | shared pool lost | resends | connections")
    for library in LIBRARIES:
        with serve_in_process(tls=tls, keep_alive_max_requests=every) as server:
            lib = LIBRARIES[library].module
            context = ssl.create_default_context(cafile=str(tls.ca_pem))
            with cpu_hogs():
                async with lib.AsyncClient(http2=True, verify=context, timeout=60) as plain:
                    plain_failures, _ = await burst(plain, server.url, calls, calls)
                before = server.connections()
                async with build_http_client(stack_settings(library, tls)) as shared:
                    lost, _ = await burst(shared, server.url, calls, calls)
                    transport = shared._transport
                    assert isinstance(transport, RecyclingSafeTransport)
            print(
                f"   {library:<7} | {sum(plain_failures.values()):>19} |"
                f" {sum(lost.values()):>16} | {transport.retries:>7} |"
                f" {server.connections() - before:>11}"
            )


def quiet() -> None:
    """Only the tables: hypercorn reports each recycled connection's teardown (through asyncio's
    logger, and a coroutine it never awaits), which says nothing about the client."""
    import logging
    import warnings

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="coroutine 'TCPServer._idle_timeout'")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sections", default="1,2,3,4,5,6")
    args = parser.parse_args()
    sections = {int(n) for n in args.sections.split(",")}
    quiet()
    with tempfile.TemporaryDirectory() as tmp:
        tls = TLSFiles.create(Path(tmp))
        if 1 in sections:
            await recycling(args.calls, tls)
        if 2 in sections:
            await throughput(min(args.calls, 1000))
        if 3 in sections:
            await container_costs()
        if 4 in sections:
            await stack(tls, args.rounds)
        if 5 in sections:
            await connection_reuse(tls)
        if 6 in sections:
            await goaway_under_load(tls)


if __name__ == "__main__":
    asyncio.run(main())
