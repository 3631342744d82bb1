"""Any LangChain chat model behind the LLM port."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel

from app.application.ports.llm import MalformedResponse, ToolChoice
from app.domain.errors import ConfigurationError, DomainError
from app.domain.llm import (
    ChatMessage,
    ContextBlock,
    Role,
    TokenUsage,
    ToolCall,
    ToolReply,
    ToolSpec,
)
from app.infrastructure.llm.base import LLMAdapter
from app.infrastructure.llm.errors import from_status, from_transport


def load_chat_model(
    class_path: str, kwargs: dict[str, Any], http_client: Any = None
) -> BaseChatModel:
    """Build `module:Class(**kwargs)`; the error names the setting when the path is wrong.

    Models that take an `http_async_client` (ChatOpenAI and its relatives) get the shared
    pool, so their connections are pooled with ours and closed at shutdown.
    """
    module_name, _, class_name = class_path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"llm.langchain.class_path {class_path!r} cannot be imported ({exc}); install the "
            "package and write it as 'module:Class'"
        ) from exc
    fields = getattr(cls, "model_fields", {})
    if http_client is not None and "http_async_client" in fields:
        kwargs = {"http_async_client": http_client, **kwargs}
    model = cls(**kwargs)
    if not isinstance(model, BaseChatModel):
        raise ConfigurationError(f"llm.langchain.class_path {class_path!r} is not a chat model")
    return model


class LangChainLLMClient(LLMAdapter):
    """Structured output uses the model's own `with_structured_output(method="json_schema")`."""

    records_langsmith_runs = True  # LangChain's tracer records each model call itself

    def __init__(self, chat_model: BaseChatModel, **kwargs: Any) -> None:
        super().__init__(provider="langchain", **kwargs)
        self._model = chat_model

    async def _complete(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> tuple[str, TokenUsage]:
        reply = await self._model.ainvoke(_messages(messages))
        return _text(reply), _usage(reply)

    async def _structured(
        self, messages: list[ChatMessage], schema: type[BaseModel], temperature: float
    ) -> tuple[str | dict[str, Any], TokenUsage]:
        runnable = self._model.with_structured_output(
            schema.model_json_schema() | {"title": schema.__name__},
            method="json_schema",
            include_raw=True,
        )
        result: Any = await runnable.ainvoke(_messages(messages))
        if result.get("parsing_error") or result.get("parsed") is None:
            raise MalformedResponse(
                f"structured answer unusable: {result.get('parsing_error')}", provider=self.provider
            )
        return dict(result["parsed"]), _usage(result["raw"])

    async def _stream(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> AsyncIterator[str | TokenUsage]:
        total: AIMessageChunk | None = None
        async for chunk in self._model.astream(_messages(messages)):
            total = chunk if total is None else total + chunk
            text = _text(chunk)
            if text:
                yield text
        yield _usage(total)

    async def _tools(
        self, messages: list[ChatMessage], tools: list[ToolSpec], tool_choice: ToolChoice
    ) -> ToolReply:
        model: Any = self._model
        if tools and tool_choice != "none":
            specs = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ]
            model = self._model.bind_tools(specs, tool_choice=tool_choice)
        reply = await model.ainvoke(_messages(messages))
        calls = tuple(
            ToolCall(id=call.get("id") or f"call_{i}", name=call["name"], arguments=call["args"])
            for i, call in enumerate(getattr(reply, "tool_calls", []) or [])
        )
        return ToolReply(text=_text(reply), tool_calls=calls, usage=_usage(reply))

    def _translate(self, exc: Exception) -> DomainError:
        # LangChain passes the vendor's exception through; most carry a status code.
        status = getattr(exc, "status_code", None) or getattr(
            getattr(exc, "response", None), "status_code", None
        )
        if isinstance(status, int):
            headers = getattr(getattr(exc, "response", None), "headers", None)
            return from_status(status, str(exc), self.provider, headers)
        cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else None
        transport = from_transport(exc, self.provider) or (
            from_transport(cause, self.provider) if cause else None
        )
        if transport is None and "Timeout" in type(exc).__name__:
            transport = from_transport(TimeoutError(), self.provider)
        if transport is None and "Connection" in type(exc).__name__:
            transport = from_transport(ConnectionError(str(exc)), self.provider)
        return transport or MalformedResponse(
            f"{type(exc).__name__}: {exc}", provider=self.provider
        )


def _messages(messages: list[ChatMessage]) -> list[BaseMessage]:
    converted: list[BaseMessage] = []
    for m in messages:
        if m.role is Role.SYSTEM:
            converted.append(SystemMessage(m.content))
        elif m.role is Role.ASSISTANT:
            calls = [{"id": c.id, "name": c.name, "args": c.arguments} for c in m.tool_calls]
            converted.append(AIMessage(content=m.content, tool_calls=calls))
        elif m.role is Role.TOOL:
            converted.append(
                ToolMessage(m.content, tool_call_id=m.tool_call_id or m.name or "tool")
            )
        elif m.image_url:
            converted.append(
                HumanMessage(
                    content=[
                        {"type": "text", "text": m.content},
                        {"type": "image_url", "image_url": {"url": m.image_url}},
                    ]
                )
            )
        else:
            converted.append(HumanMessage(m.content))
    return converted


def _text(message: Any) -> str:
    if message is None:
        return ""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        part.get("text", "") if isinstance(part, dict) else str(part) for part in content
    )


def _usage(message: Any) -> TokenUsage:
    metadata = getattr(message, "usage_metadata", None) or {}
    return TokenUsage(
        prompt_tokens=metadata.get("input_tokens", 0),
        completion_tokens=metadata.get("output_tokens", 0),
        calls=1,
    )
