"""What every service adapter shares: the pooled client, retries, caching, error translation."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import SecretStr

from app.application.ports.llm import ExternalServiceError, MalformedResponse
from app.application.ports.stores import CachePort
from app.domain.errors import DomainError
from app.infrastructure.http.libraries import SharedClient, SharedResponse
from app.infrastructure.llm.errors import from_status, from_transport
from app.settings.services import ServiceSettings

log = structlog.get_logger(__name__)
MAX_RETRY_AFTER = 10.0  # never sleep longer than this inside a chat turn


def authorization(scheme: str, key: SecretStr | None) -> dict[str, str]:
    """The Authorization header a keyed service wants (`KakaoAK …`, `Bearer …`); none keyless."""
    return {"Authorization": f"{scheme} {key.get_secret_value()}"} if key is not None else {}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None


class ServiceHttp:
    """JSON over the shared HTTP client for one service.

    Retries 429 (waiting what Retry-After says, capped) and 5xx with jittered backoff, never
    4xx; translates every failure into our errors; caches deterministic lookups in Redis.
    """

    def __init__(
        self,
        client: SharedClient,
        settings: ServiceSettings,
        *,
        provider: str,
        headers: Mapping[str, str] | None = None,
        cache: CachePort | None = None,
        base_url: str | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self._provider = provider
        self._headers = dict(headers or {})
        self._cache = cache
        self._base = (base_url or settings.base_url or "").rstrip("/")

    async def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        cache: bool = False,
        ttl: int | None = None,
    ) -> Any:
        return await self.request("GET", path, params=params, cache=cache, ttl=ttl)

    async def post_json(self, path: str, body: Mapping[str, Any], *, cache: bool = False) -> Any:
        return await self.request("POST", path, body=body, cache=cache)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        cache: bool = False,
        ttl: int | None = None,
    ) -> Any:
        call = Call(method, path, params, body)
        ttl = self._settings.cache_ttl if ttl is None else ttl
        key = self._key(call) if cache and ttl > 0 else None
        if key is not None:
            cached = await self._cached(key)
            if cached is not None:
                return cached
        payload = await self._with_retries(call)
        if key is not None:
            await self._store(key, payload, ttl)
        return payload

    async def _with_retries(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                return await self._once(call)
            except ExternalServiceError as exc:
                attempt += 1
                if not exc.retryable or attempt > self._settings.retries or exc.status is None:
                    raise
                delay = exc.retry_after if exc.retry_after is not None else 0.2 * 2**attempt
                await asyncio.sleep(min(delay, MAX_RETRY_AFTER) + random.uniform(0, 0.05))
                log.info(
                    "service.retry", provider=self._provider, status=exc.status, attempt=attempt
                )

    async def _once(self, call: Call) -> Any:
        started = time.perf_counter()
        try:
            response = await self._client.request(
                call.method,
                f"{self._base}{call.path}",
                params=call.params,
                json=call.body,
                headers=self._headers,
                timeout=self._settings.timeout,
            )
        except DomainError:
            raise
        except Exception as exc:
            translated = from_transport(exc, self._provider)
            if translated is None:
                raise
            raise translated from exc
        if response.status_code >= 400:
            raise from_status(
                response.status_code, _reason(response), self._provider, response.headers
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise MalformedResponse(
                "answer is not JSON", provider=self._provider, status=response.status_code
            ) from exc
        log.debug(
            "service.call",
            provider=self._provider,
            path=call.path,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return payload

    def _key(self, call: Call) -> str:
        raw = json.dumps(
            [call.method, self._base, call.path, call.params, call.body],
            sort_keys=True,
            default=str,
        )
        return f"svc:{self._provider}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"

    # The container hands in a ResilientCache: a Redis outage costs speed, never the answer.
    async def _cached(self, key: str) -> Any:
        raw = await self._cache.get(key) if self._cache is not None else None
        return json.loads(raw) if raw else None

    async def _store(self, key: str, payload: Any, ttl: int) -> None:
        if self._cache is not None:
            await self._cache.set(key, json.dumps(payload, ensure_ascii=False), ttl)


def _reason(response: SharedResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "msg", "error", "detail", "errorType"):
            if body.get(key):
                value = body[key]
                return str(value.get("message", value) if isinstance(value, dict) else value)
    return str(body)[:200]
