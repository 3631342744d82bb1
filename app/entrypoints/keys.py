"""`python -m app keys create|list|revoke`: API keys, kept hashed where `auth.backend` says."""

from __future__ import annotations

import re
import sys
from typing import TextIO

from app.application.access.api_keys import issue
from app.application.ports.access import ApiKeyStorePort
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.access import PRINCIPAL_NAME
from app.settings import Settings


async def keys(
    settings: Settings, action: str, argument: str | None, out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    async with running(CliContainer(settings=settings)) as container:
        store: ApiKeyStorePort = await resolve(container.access.key_store)
        if action == "create":
            return await _create(store, argument or "", out)
        if action == "revoke":
            revoked = await store.revoke(argument or "")
            print(f"revoked {argument}" if revoked else f"no active key {argument}", file=out)
            return 0 if revoked else 1
        for info in await store.all_keys():
            state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "active"
            print(
                f"{info.key_id}  {info.principal:<24} {info.created_at:%Y-%m-%d}  {state}", file=out
            )
    return 0


async def _create(store: ApiKeyStorePort, principal: str, out: TextIO) -> int:
    if not re.match(PRINCIPAL_NAME, principal):
        print("the name must be lowercase letters, digits, '.', '_' or '-'", file=sys.stderr)
        return 2
    issued = issue(principal)
    await store.add(issued.info)
    print(issued.key, file=out)
    print(
        f"key {issued.info.key_id} for {principal}: shown once, stored hashed; "
        "send it as Authorization: Bearer <key>",
        file=sys.stderr,
    )
    return 0
