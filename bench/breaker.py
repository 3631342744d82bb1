"""What the circuit breaker saves when the primary provider is down.

    .venv/bin/python bench/breaker.py [--asks 20] [--delay 1.0]

The primary (an OpenAI-compatible server on loopback) answers every call with a 503 after
`delay` seconds; `llm.fallbacks: [offline]` answers instead. Prints the time per ask with the
breaker (opens after 3 failures) beside the same chain with the breaker effectively off.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.containers import CliContainer
from app.containers_core import resolve, running
from app.settings import load_settings
from tests.support.asgi_server import serve_in_thread
from tests.support.openai_wire import OpenAIWire
from tests.support.wire_script import Script


async def asks(url: str, count: int, failures: int) -> tuple[list[float], int]:
    script = Script(delay=0.0)
    settings = load_settings(
        llm={
            "provider": "openai",
            "max_retries": 0,
            "fallbacks": ["offline"],
            "breaker": {"failures": failures, "cooldown_seconds": 600},
            "openai": {"api_key": "sk-bench-0123456789", "base_url": f"{url}/v1"},
        },
        logging={"level": "ERROR"},
    )
    timings = []
    async with running(CliContainer(settings=settings)) as container:
        llm = await resolve(container.chat.llm)
        for i in range(count):
            started = time.perf_counter()
            await llm.generate(f"페트병 {i}", system="페트병: 라벨을 떼고 헹굽니다.")
            timings.append((time.perf_counter() - started) * 1000)
    return timings, len(script.requests)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--delay", type=float, default=1.0)
    args = parser.parse_args()
    script = Script(delay=args.delay)
    script.fail(503, {"error": {"message": "overloaded"}}, times=10_000)
    with serve_in_thread(OpenAIWire(script)) as server:
        off, _ = await asks(server.url, args.asks, failures=10_000)
        before = len(script.requests)
        on, _ = await asks(server.url, args.asks, failures=3)
        reached = len(script.requests) - before
    print(f"primary down (503 after {args.delay:.1f} s), fallback offline, {args.asks} asks:")
    print(
        f"  breaker off: median {statistics.median(off):.0f} ms per ask, "
        f"total {sum(off) / 1000:.1f} s, {before} calls to the primary"
    )
    print(
        f"  breaker on : median {statistics.median(on):.0f} ms per ask, "
        f"total {sum(on) / 1000:.1f} s, {reached} calls to the primary (then skipped)"
    )


if __name__ == "__main__":
    asyncio.run(main())
