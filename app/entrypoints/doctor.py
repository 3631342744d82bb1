"""`python -m app doctor`: one cheap live call per configured provider and service."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

from app.application.ports.llm import (
    AuthenticationFailed,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.chat import Location
from app.domain.errors import DomainError
from app.settings import Settings
from app.settings.masking import redact, secret_values

SEOUL_CITY_HALL = Location(latitude=37.5663, longitude=126.9779, address="서울특별시청")
HINTS: list[tuple[type[Exception], str]] = [
    (AuthenticationFailed, "bad or missing key"),
    (RateLimited, "quota or rate limit"),
    (ProviderTimeout, "no answer in time"),
    (ProviderUnavailable, "unreachable or failing"),
]
Check = Callable[[CliContainer], Awaitable[str]]


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str
    ms: float


async def run_doctor(settings: Settings, out: TextIO) -> int:
    async with running(CliContainer(settings=settings)) as container:
        outcomes = [await _probe(name, check, container) for name, check in checks(settings)]
    secrets = secret_values(settings)  # a provider's error may echo the key it was sent
    for outcome in outcomes:
        mark = "OK  " if outcome.ok else "FAIL"
        detail = redact(outcome.detail, secrets)
        print(f"{mark}  {outcome.name:<18} {detail} ({outcome.ms:.0f} ms)", file=out)
    failed = [o.name for o in outcomes if not o.ok]
    print(
        f"{len(outcomes) - len(failed)}/{len(outcomes)} OK"
        + (f"; failing: {', '.join(failed)}" if failed else ""),
        file=out,
    )
    return 1 if failed else 0


def checks(settings: Settings) -> list[tuple[str, Check]]:
    # Each provider of the chain on its own: through the chain, a fallback answering would
    # report the primary as OK.
    chain = dict.fromkeys([settings.llm.provider, *settings.llm.fallbacks])
    found: list[tuple[str, Check]] = [(f"llm:{name}", _llm(name)) for name in chain]
    found.append(("redis", _redis))
    if settings.checkpoint.backend != "memory":
        found.append((f"checkpoint:{settings.checkpoint.backend}", _checkpoint))
    services = settings.services
    if services.kakao.enabled or services.collection_points.enabled:
        found.append(("kakao", _kakao))
    if services.tavily.enabled:
        found.append(("tavily", _tavily))
    if services.weather.enabled:
        found.append((f"weather:{services.weather.provider}", _weather))
    if services.character.enabled:
        found.append((f"character:{services.character.provider}", _character))
    if services.bulk_waste.enabled:
        found.append(("bulk_waste", _bulk_waste))
    if services.recyclable_prices.enabled:
        found.append(("recyclable_prices", _prices))
    return found


async def _probe(name: str, check: Check, container: CliContainer) -> Outcome:
    started = time.perf_counter()
    try:
        detail = await check(container)
        ok = True
    except Exception as exc:
        ok = False
        detail = _explain(exc)
    return Outcome(name, ok, detail, (time.perf_counter() - started) * 1000)


def _explain(exc: Exception) -> str:
    hint = next((text for kind, text in HINTS if isinstance(exc, kind)), None)
    reason = str(exc) if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
    return f"{reason} — {hint}" if hint else reason


def _llm(name: str) -> Check:
    async def check(container: CliContainer) -> str:
        adapters: Any = container.chat.llm_adapters  # an Aggregate: one provider per name
        llm: Any = await resolve(adapters.providers[name])
        reply = await llm.generate("Reply with the word OK.", max_tokens=5)
        return f"{llm.model} answered {reply.strip()[:30]!r}"

    return check


async def _redis(container: CliContainer) -> str:
    redis: Any = await resolve(container.core.redis)
    await redis.ping()
    return "PING answered"


async def _checkpoint(container: CliContainer) -> str:
    saver: Any = await resolve(container.chat.checkpointer)
    return f"{type(saver).__name__} ready"


async def _kakao(container: CliContainer) -> str:
    kakao: Any = await resolve(container.chat.kakao)
    found = await kakao.geocode("서울특별시청")
    return (
        f"geocoded 서울특별시청 → {found.latitude:.3f},{found.longitude:.3f}"
        if found
        else ("answered (no match for 서울특별시청)")
    )


async def _tavily(container: CliContainer) -> str:
    search: Any = await resolve(container.chat.web_search_client)
    return f"{len(await search.search('분리배출', max_results=1))} result(s)"


async def _weather(container: CliContainer) -> str:
    weather: Any = await resolve(container.chat.weather_client)
    report = await weather.forecast(SEOUL_CITY_HALL)
    return f"forecast: rain {report.precipitation_probability}%"


async def _character(container: CliContainer) -> str:
    characters: Any = await resolve(container.chat.character_client)
    return f"{len(await characters.names())} characters"


async def _bulk_waste(container: CliContainer) -> str:
    fees: Any = await resolve(container.chat.bulk_waste_client)
    return f"dataset readable: {len(await fees.lookup('소파'))} row(s) for 소파"


async def _prices(container: CliContainer) -> str:
    prices: Any = await resolve(container.chat.recyclable_price_client)
    return f"dataset readable: {len(await prices.prices('고철'))} row(s) for 고철"
