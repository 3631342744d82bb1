"""The embedding retriever through the OpenAI embeddings wire format on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from app.application.ports.llm import RateLimited
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.infrastructure.retrieval.embeddings import OpenAIEmbeddingRetriever
from app.settings import load_settings
from tests.support.graph_kit import ITEMS
from tests.support.openai_wire import openai_error


def settings_for(url: str) -> Any:
    return load_settings(
        llm={
            "openai": {"api_key": "sk-test-0123456789", "base_url": f"{url}/v1"},
            "max_retries": 0,
        },
        retrieval={"backend": "openai_embeddings"},
    )


async def test_selected_by_config_and_embeds_the_base_once(openai_server: Any) -> None:
    server, script = openai_server
    async with running(CliContainer(settings=settings_for(server.url))) as container:
        assert isinstance(await resolve(container.chat.retriever), OpenAIEmbeddingRetriever)
        client = await resolve(container.clients.openai_client)
        # A small base keeps the wire traffic readable; the shipped one is embedded the same way.
        morphology = await resolve(container.retrieval.morphology)
        retriever = OpenAIEmbeddingRetriever(
            client, ITEMS, model="text-embedding-3-small", morphology=morphology
        )
        first = await retriever.search("우산 버리는 법")
        second = await retriever.search("used batteries")
    assert first[0].item.id == "umbrella"
    assert second[0].item.id == "battery-household"
    inputs = [r["json"]["input"] for r in script.requests]
    assert len(inputs[0]) == len(ITEMS)  # the documents, in one batch
    assert len(inputs) == 3  # then one request per query
    assert script.requests[0]["json"]["model"] == "text-embedding-3-small"


async def test_embedding_errors_are_ours(openai_server: Any) -> None:
    server, script = openai_server
    script.fail(429, openai_error("slow down", "rate_limit_exceeded"), headers={"retry-after": "1"})
    async with running(CliContainer(settings=settings_for(server.url))) as container:
        retriever = await resolve(container.chat.retriever)
        with pytest.raises(RateLimited):
            await retriever.search("캔")
