"""The conversation store's list and detail latency at 10,000 conversations x 20 messages for one
principal, SQLite and PostgreSQL, beside a bare SELECT of the same rows.

    .venv/bin/python bench/conversations.py [--conversations 10000] [--messages 20]
        [--samples 1000]      (PostgreSQL: $TEST_POSTGRES_URL, a schema of its own; skipped if down)

The rows are written in bulk (not through record_turn). Then, one call at a time: `list` (20 a
page, from a random cursor of the whole listing) and `history` (the detail page: a random
conversation's latest 20 messages). "bare" runs the same statements on one plain connection and
reads tuples; the difference is what the store adds (the thread hop or the pool, the models, the
cursor's signature).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.application.ports.conversations import ConversationStore
from app.infrastructure.conversations import postgres_sql, sqlite_sql
from app.infrastructure.conversations.cursors import to_micros
from tests.support.conversation_stores import (
    Backend,
    postgres_backend,
    postgres_reason,
    sqlite_backend,
)

OWNER = "bench"
PAGE = 20
METADATA = json.dumps(
    {
        "model": "offline-extractive",
        "usage": {"input_tokens": 412, "output_tokens": 96},
        "sources": [{"title": "페트병 분리배출", "source": "환경부 지침"}],
    },
    ensure_ascii=False,
)
QUESTION = "페트병 어떻게 버려요? 라벨은 떼야 하나요?"
ANSWER = "라벨을 떼고 내용물을 비운 뒤 헹궈서 찌그러뜨려 투명 페트병 전용 수거함에 배출합니다. " * 3


@dataclass
class Data:
    """The rows of one principal: (id, created, last, count, preview) and
    (id, conversation id, turn key, role, content, created)."""

    conversations: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)


def make_data(conversations: int, messages: int) -> Data:
    data, start = Data(), datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(conversations):
        cid = str(uuid.uuid4())
        created = start + timedelta(minutes=i - i % 7)  # groups of 7 share their times: ties
        for j in range(messages):
            role, content = ("user", QUESTION) if j % 2 == 0 else ("assistant", ANSWER)
            at = created + timedelta(seconds=j)
            data.messages.append((str(uuid.uuid4()), cid, f"job-{i}-{j // 2}", role, content, at))
        last = data.messages[-1]
        data.conversations.append((cid, created, last[5], messages, last[4][:99] + "…"))
    return data


def fill_sqlite(path: Path, data: Data) -> None:
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO eco2_conversations (id, owner, created_at, last_message_at, activity_at,"
            " message_count, preview) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (c, OWNER, to_micros(made), to_micros(last), to_micros(last), n, preview)
                for c, made, last, n, preview in data.conversations
            ],
        )
        conn.executemany(
            "INSERT INTO eco2_messages (id, conversation_id, turn_key, role, content, metadata,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*m[:5], METADATA, to_micros(m[5])) for m in data.messages],
        )
        conn.execute("ANALYZE")


def fill_postgres(url: str, data: Data) -> None:
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY eco2_conversations (id, owner, created_at, last_message_at, activity_at,"
            " message_count, preview) FROM STDIN"
        ) as copy:
            for c, made, last, n, preview in data.conversations:
                copy.write_row((c, OWNER, made, last, last, n, preview))
        with cur.copy(
            "COPY eco2_messages (id, conversation_id, turn_key, role, content, metadata,"
            " created_at) FROM STDIN"
        ) as copy:
            for m in data.messages:
                copy.write_row((*m[:5], METADATA, m[5]))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE eco2_conversations")
        conn.execute("VACUUM ANALYZE eco2_messages")


@dataclass
class Positions:
    """Where pages start: a store cursor and the same position as (activity, id)."""

    cursors: list[tuple[str | None, datetime | None, str | None]]
    conversation_ids: list[str]


async def positions(store: ConversationStore) -> Positions:
    found: list[tuple[str | None, datetime | None, str | None]] = [(None, None, None)]
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = await store.list(OWNER, limit=PAGE, cursor=cursor)
        ids += [c.id for c in page.conversations]
        if (cursor := page.next_cursor) is None:
            return Positions(found, ids)
        last = page.conversations[-1]
        found.append((cursor, last.last_activity, last.id))


async def timed(call: Callable[[], Awaitable[Any]], samples: int) -> list[float]:
    for _ in range(min(50, samples)):  # warm caches and pools
        await call()
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def summary(timings: list[float]) -> tuple[float, float]:
    return statistics.median(timings), statistics.quantiles(timings, n=100)[98]


Results = dict[str, list[float]]


@dataclass
class Bare:
    """The store's own statements on one plain connection, rows read as tuples."""

    run: Callable[[str, tuple[Any, ...]], Awaitable[None]]
    sql: Any  # sqlite_sql or postgres_sql
    when: Callable[[datetime], Any]  # a timestamp as the database takes it

    async def list(self, activity: datetime | None, after: str | None) -> None:
        if activity is None:
            await self.run(self.sql.LIST_FIRST, (OWNER, PAGE + 1))
        else:
            await self.run(self.sql.LIST_AFTER, (OWNER, self.when(activity), after, PAGE + 1))

    async def detail(self, conversation_id: str) -> None:
        await self.run(self.sql.SELECT_CONVERSATION, (conversation_id, OWNER))
        await self.run(self.sql.HISTORY_LATEST, (conversation_id, PAGE + 1))


async def measure(store: ConversationStore, bare: Bare, samples: int) -> Results:
    spots, rng = await positions(store), random.Random(19)

    async def store_list() -> None:
        await store.list(OWNER, PAGE, rng.choice(spots.cursors)[0])

    async def store_detail() -> None:
        page = await store.history(OWNER, rng.choice(spots.conversation_ids), PAGE)
        assert len(page.messages) == PAGE

    async def bare_list() -> None:
        _, activity, after = rng.choice(spots.cursors)
        await bare.list(activity, after)

    async def bare_detail() -> None:
        await bare.detail(rng.choice(spots.conversation_ids))

    return {
        "list store": await timed(store_list, samples),
        "list bare": await timed(bare_list, samples),
        "detail store": await timed(store_detail, samples),
        "detail bare": await timed(bare_detail, samples),
    }


async def bench_sqlite(data: Data, samples: int) -> Results:
    with tempfile.TemporaryDirectory() as directory:
        async with sqlite_backend(Path(directory)) as backend, backend.replica() as store:
            fill_sqlite(backend.settings.sqlite_path, data)
            conn = sqlite3.connect(backend.settings.sqlite_path)

            async def run(query: str, values: tuple[Any, ...]) -> None:
                conn.execute(query, values).fetchall()

            try:
                return await measure(store, Bare(run, sqlite_sql, to_micros), samples)
            finally:
                conn.close()


async def bench_postgres(data: Data, samples: int) -> Results:
    import psycopg

    backend: Backend
    async with postgres_backend() as backend, backend.replica() as store:
        assert backend.postgres.url is not None
        url = backend.postgres.url.get_secret_value()
        fill_postgres(url, data)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:

            async def run(query: str, values: tuple[Any, ...]) -> None:
                await (await conn.execute(query, values)).fetchall()

            return await measure(store, Bare(run, postgres_sql, lambda moment: moment), samples)


def table(results: dict[str, Results], samples: int) -> str:
    lines = [
        f"{'backend':<10} {'call':<7} {'store p50':>10} {'store p99':>10} "
        f"{'bare p50':>9} {'bare p99':>9}   (ms; {samples} calls each, one at a time)"
    ]
    for backend, timings in results.items():
        for call in ("list", "detail"):
            store = summary(timings[f"{call} store"])
            bare = summary(timings[f"{call} bare"])
            lines.append(
                f"{backend:<10} {call:<7} {store[0]:>10.2f} {store[1]:>10.2f} "
                f"{bare[0]:>9.2f} {bare[1]:>9.2f}"
            )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    started = time.perf_counter()
    data = make_data(args.conversations, args.messages)
    print(
        f"{args.conversations} conversations x {args.messages} messages, one principal "
        f"({len(data.messages)} messages; made in {time.perf_counter() - started:.1f} s)"
    )
    results = {"sqlite": await bench_sqlite(data, args.samples)}
    if reason := postgres_reason():
        print(f"postgres skipped: {reason}")
    else:
        results["postgres"] = await bench_postgres(data, args.samples)
    print(table(results, args.samples))
    # Figures from a shared machine mean little without how busy it was.
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
