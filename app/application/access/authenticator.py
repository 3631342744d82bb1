"""From a presented API key to a principal, with a short cache (a revoked key stops working
within `cache_seconds`), and the anonymous principal where the deployment allows it."""

from __future__ import annotations

import time
from collections.abc import Callable

from app.application.access.api_keys import parse, principal_for
from app.application.ports.access import ApiKeyStorePort
from app.domain.access import ANONYMOUS, Principal
from app.domain.errors import Unauthorized

CACHE_SIZE = 4096


class Authenticator:
    def __init__(
        self,
        store: ApiKeyStorePort,
        *,
        allow_anonymous: bool,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._anonymous = allow_anonymous
        self._ttl = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    @property
    def allows_anonymous(self) -> bool:
        return self._anonymous

    async def principal(self, presented: str | None) -> Principal:
        """The caller; raises Unauthorized for a bad key, or for none where one is required."""
        if not presented:
            if self._anonymous:
                return ANONYMOUS
            raise Unauthorized("an API key is required (Authorization: Bearer eco2_...)")
        found = await self._lookup(presented)
        if found is None:
            raise Unauthorized("the API key is not valid")
        return found

    async def _lookup(self, presented: str) -> Principal | None:
        now = self._clock()
        cached = self._cache.get(presented)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        parsed = parse(presented)
        found = None
        if parsed is not None:
            key_id, secret = parsed
            found = principal_for(await self._store.find(key_id), secret)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[presented] = (now, found)
        return found
