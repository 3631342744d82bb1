"""`python -m app migrate`: the conversation store's tables, where `conversations.backend` says.

Safe to run again and from several replicas at once; run it once per release before the
gateways and workers that use PostgreSQL start (SQLite makes its tables on start).
"""

from __future__ import annotations

import sys
from typing import TextIO

from app.application.ports.conversations import ConversationStore, StoreUnavailable
from app.containers_core import Access, resolve, running
from app.entrypoints.cli import EXIT_UNREACHABLE
from app.settings import Settings


async def migrate(settings: Settings, out: TextIO) -> int:
    backend = settings.conversations.backend
    try:
        # The access container alone: a migration needs no Redis, no graph, no model.
        async with running(Access(settings=settings)) as access:
            store: ConversationStore = await resolve(access.conversations)
            await store.migrate()
    except StoreUnavailable as exc:
        print(f"error: the conversation store ({backend}) is unreachable: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    where = settings.conversations.sqlite_path if backend == "sqlite" else "POSTGRES_URL"
    print(f"conversations: tables ready ({backend}, {where})", file=out)
    return 0
