"""The fair floor: `python bench/floors/fair.py QUEUE MODE [LLM_URL] [CONCURRENCY]`.

What a chat costs with the parts this project must use and nothing of ours: an arq worker
(JSON jobs) running a LangGraph `StateGraph` compiled once, of our graph's shape (an intent
node with a structured SDK call validated by pydantic; a router sending to one retrieval-like
node with `Send`; an answer node streaming through the SDK), a SQLite checkpointer with
`durability="exit"`, and about ten progress events per chat, each node's in one pipelined
round trip (XADD, the stream's TTL set once). MODE `llm` makes the two SDK calls against
LLM_URL over one shared HTTP pool; MODE `offline` makes none (the same graph, canned text).

REDIS_URL (env) is the Redis to use; the stream key is ours so the bench reads both alike.
"""

from __future__ import annotations

import json
import operator
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from arq.connections import RedisSettings
from arq.worker import Worker
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel

from app.infrastructure.redis_jobs.keys import stream_key  # the key only: nothing else of ours

QUEUE, MODE = sys.argv[1], sys.argv[2]
LLM_URL = sys.argv[3] if len(sys.argv) > 3 else ""
CONCURRENCY = int(sys.argv[4]) if len(sys.argv) > 4 else 10
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
TTL = 3600
SYSTEM = "You sort household waste in Korea. Answer from the context."
CONTEXT = "페트병: 내용물을 비우고 라벨을 떼어 압착한 뒤 투명 페트병 전용 수거함에 버립니다."


class Intent(BaseModel):
    intent: str
    confidence: float = 1.0


class State(TypedDict, total=False):
    job_id: str
    question: str
    intent: str
    contexts: Annotated[list[str], operator.add]
    answer: str


class Events:
    """One node's events, written in one pipelined round trip when the node ends."""

    def __init__(self, redis: Any, job_id: str) -> None:
        self.redis, self.key, self.seq, self.fresh = redis, stream_key(job_id), 0, True

    async def flush(self, *events: tuple[str, str, str, dict[str, Any]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for kind, stage, status, data in events:
                self.seq += 1
                pipe.xadd(
                    self.key,
                    {
                        "seq": self.seq,
                        "type": kind,
                        "stage": stage,
                        "status": status,
                        "data": json.dumps(data, ensure_ascii=False),
                        "ts": f"{time.time():.6f}",
                    },
                    maxlen=2000,
                    approximate=True,
                )
            if self.fresh:
                pipe.expire(self.key, TTL)
                self.fresh = False
            await pipe.execute()


def build(ctx: dict[str, Any]) -> Any:
    async def intent(state: State, config: RunnableConfig) -> State:
        events: Events = config["configurable"]["events"]  # type: ignore[index]
        if MODE == "llm":
            reply = await ctx["openai"].chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "Classify the question."},
                    {"role": "user", "content": state["question"]},
                ],
                extra_body={"response_format": ctx["format"]},
            )
            found = Intent.model_validate_json(reply.choices[0].message.content or "{}")
        else:
            found = Intent(intent="waste")
        await events.flush(
            ("stage", "intent", "started", {}),
            ("stage", "intent", "completed", {"intents": [found.intent]}),
        )
        return {"intent": found.intent}

    def route(state: State) -> list[Send]:
        return [Send("lookup", {"question": state["question"]})]

    async def lookup(state: State, config: RunnableConfig) -> State:
        events: Events = config["configurable"]["events"]  # type: ignore[index]
        await events.flush(
            ("stage", "lookup", "started", {}), ("stage", "lookup", "completed", {"hits": 1})
        )
        return {"contexts": [CONTEXT]}

    async def answer(state: State, config: RunnableConfig) -> State:
        events: Events = config["configurable"]["events"]  # type: ignore[index]
        await events.flush(("stage", "answer", "started", {}))
        parts: list[str] = []
        if MODE == "llm":
            stream = await ctx["openai"].chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": SYSTEM + "\n" + "\n".join(state["contexts"])},
                    {"role": "user", "content": state["question"]},
                ],
                stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
        else:
            parts = [state["contexts"][0]]
        text = "".join(parts)
        await events.flush(
            ("delta", "answer", "", {"text": text}), ("answer", "", "", {"text": text})
        )
        return {"answer": text}

    graph = StateGraph(State)
    graph.add_node("intent", intent)
    graph.add_node("lookup", lookup)
    graph.add_node("answer", answer)
    graph.add_edge(START, "intent")
    graph.add_conditional_edges("intent", route, ["lookup"])
    graph.add_edge("lookup", "answer")
    graph.add_edge("answer", END)
    return graph.compile(checkpointer=ctx["saver"])


async def startup(ctx: dict[str, Any]) -> None:
    ctx["folder"] = tempfile.TemporaryDirectory()
    ctx["saver_cm"] = AsyncSqliteSaver.from_conn_string(str(Path(ctx["folder"].name) / "c.db"))
    ctx["saver"] = await ctx["saver_cm"].__aenter__()
    if MODE == "llm":
        import httpx
        from openai import AsyncOpenAI
        from openai.lib._pydantic import to_strict_json_schema

        ctx["http"] = httpx.AsyncClient()
        ctx["openai"] = AsyncOpenAI(
            api_key="sk-floor-0123456789", base_url=LLM_URL, http_client=ctx["http"], max_retries=0
        )
        ctx["format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": "Intent",
                "schema": to_strict_json_schema(Intent),
                "strict": True,
            },
        }
    ctx["graph"] = build(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    if "http" in ctx:
        await ctx["http"].aclose()
    await ctx["saver_cm"].__aexit__(None, None, None)
    ctx["folder"].cleanup()


async def chat(ctx: dict[str, Any], payload: Any, **_: Any) -> str:
    job_id = ctx["job_id"]
    events = Events(ctx["redis"], job_id)
    config = {"configurable": {"thread_id": payload.get("thread_id", job_id), "events": events}}
    await ctx["graph"].ainvoke(
        {"job_id": job_id, "question": payload["message"]}, config, durability="exit"
    )
    await events.flush(("done", "", "", {}))
    return "ok"


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


if __name__ == "__main__":
    Worker(
        functions=[chat],
        queue_name=QUEUE,
        redis_settings=RedisSettings.from_dsn(REDIS_URL),
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=CONCURRENCY,
        poll_delay=0.05,
        job_serializer=dumps,
        job_deserializer=json.loads,
        keep_result=0,
    ).run()
