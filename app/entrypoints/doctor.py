"""`python -m app doctor`: one cheap live call per configured provider and service.

Three outcomes, so that a fresh install with no network is not called broken:
- FAIL: the core (the LLM the chat uses, Redis, the checkpointer, the knowledge base, the
  conversation store) does not work, or any service is misconfigured (a refused key, a request
  it rejects, an answer we cannot read). Exit 1.
- WARN: an optional service (maps, web search, weather, ...) could not be reached from here
  (no route, DNS, timeout, its own 5xx or rate limit). Chats still answer without it. Exit 0.
- OK.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from app.application.ports.llm import (
    AuthenticationFailed,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.chat import Location
from app.domain.errors import DomainError, ServiceUnreachable
from app.settings import Settings
from app.settings.masking import redact, secret_values

SEOUL_CITY_HALL = Location(latitude=37.5663, longitude=126.9779, address="서울특별시청")
HINTS: list[tuple[type[Exception], str]] = [
    (AuthenticationFailed, "bad or missing key"),
    (RateLimited, "quota or rate limit"),
    (ProviderTimeout, "no answer in time"),
    (ProviderUnavailable, "unreachable or failing"),
]
# Not reaching a service says where this machine is, not how it is configured.
UNREACHABLE: tuple[type[Exception], ...] = (
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ServiceUnreachable,
)
Check = Callable[[CliContainer], Awaitable[str]]
Level = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class Probe:
    name: str
    check: Check
    core: bool  # chats cannot be answered without it


@dataclass
class Outcome:
    name: str
    level: Level
    detail: str
    ms: float

    @property
    def ok(self) -> bool:
        return self.level == "OK"


async def run_doctor(settings: Settings, out: TextIO) -> int:
    async with running(CliContainer(settings=settings)) as container:
        outcomes = [await _probe(probe, container) for probe in checks(settings)]
    secrets = secret_values(settings)  # a provider's error may echo the key it was sent
    for outcome in outcomes:
        detail = redact(outcome.detail, secrets)
        print(f"{outcome.level:<4}  {outcome.name:<20} {detail} ({outcome.ms:.0f} ms)", file=out)
    failed = [o.name for o in outcomes if o.level == "FAIL"]
    warned = [o.name for o in outcomes if o.level == "WARN"]
    summary = f"{sum(o.ok for o in outcomes)}/{len(outcomes)} OK"
    if warned:
        summary += f"; unreachable from here (optional): {', '.join(warned)}"
    if failed:
        summary += f"; failing: {', '.join(failed)}"
    print(summary, file=out)
    return 1 if failed else 0


def checks(settings: Settings) -> list[Probe]:
    # Each provider of the chain on its own: through the chain, a fallback answering would
    # report the primary as OK. The primary is core; a fallback is there for its outages.
    chain = list(dict.fromkeys([settings.llm.provider, *settings.llm.fallbacks]))
    found = [Probe(f"llm:{name}", _llm(name), core=name == chain[0]) for name in chain]
    found.append(Probe("redis", _redis, core=True))
    if settings.checkpoint.backend != "memory":
        found.append(Probe(f"checkpoint:{settings.checkpoint.backend}", _checkpoint, core=True))
    found.append(Probe(f"knowledge:{settings.retrieval.backend}", _knowledge, core=True))
    found.append(
        Probe(f"conversations:{settings.conversations.backend}", _conversations, core=True)
    )
    services = settings.services
    optional: list[tuple[bool, str, Check]] = [
        (services.kakao.enabled or services.collection_points.enabled, "kakao", _kakao),
        (services.tavily.enabled, "tavily", _tavily),
        (services.weather.enabled, f"weather:{services.weather.provider}", _weather),
        (services.character.enabled, f"character:{services.character.provider}", _character),
        (services.bulk_waste.enabled, "bulk_waste", _bulk_waste),
        (services.recyclable_prices.enabled, "recyclable_prices", _prices),
    ]
    found += [Probe(name, check, core=False) for enabled, name, check in optional if enabled]
    return found


async def _probe(probe: Probe, container: CliContainer) -> Outcome:
    started = time.perf_counter()
    level: Level = "OK"
    try:
        detail = await probe.check(container)
    except Exception as exc:
        away = isinstance(exc, UNREACHABLE) and not probe.core
        level = "WARN" if away else "FAIL"
        detail = ("unreachable from here: " if away else "") + _explain(exc)
    return Outcome(probe.name, level, detail, (time.perf_counter() - started) * 1000)


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


async def _knowledge(container: CliContainer) -> str:
    retriever: Any = await resolve(container.chat.retriever)
    hits = await retriever.search("페트병", k=1)
    if not hits:  # an empty or unreadable knowledge base answers nothing at all
        raise RuntimeError("the knowledge base found nothing for 페트병")
    return f"'페트병' → {hits[0].item.name_ko}"


async def _conversations(container: CliContainer) -> str:
    store: Any = await resolve(container.access.conversations)
    health = await store.health()
    if health != "ok":
        raise ServiceUnreachable(
            "the conversation store",
            where="its settings",
            reason=health,
            fix="start it, or `python -m app migrate` for new tables",
        )
    return "answered"


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
