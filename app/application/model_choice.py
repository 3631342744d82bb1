"""Which model a chat prefers (its message's `model`) and which model answered a call.

The LLM chain is one per process, so neither can live on it: both travel with the run in a
context variable, as `usage.metered()` does. asyncio tasks (and so LangGraph's nodes) start
with a copy of the context they were created in, so a preference set around a graph run
reaches every call the run's nodes make, and a scope opened inside one node sees that node's
calls only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class ModelScope:
    """`preferred`: the model the chat asked for (None: the configured order). `provider` and
    `model`: who completed the last call made in this scope (None until one did)."""

    preferred: str | None = None
    provider: str | None = None
    model: str | None = None


_current: ContextVar[ModelScope | None] = ContextVar("llm_model_scope", default=None)


@contextmanager
def preferring(model: str | None) -> Iterator[ModelScope]:
    """Calls made in this block try the configured provider serving `model` first; a model
    no configured provider serves leaves the configured order as it is."""
    scope = ModelScope(preferred=model)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


@contextmanager
def recording() -> Iterator[ModelScope]:
    """A scope that records which model completed the calls made in it (the enclosing
    preference still holds). Concurrent calls elsewhere in the run do not reach it."""
    outer = _current.get()
    scope = ModelScope(preferred=outer.preferred if outer is not None else None)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def preferred_model() -> str | None:
    """The model the current chat asked for, if any."""
    scope = _current.get()
    return scope.preferred if scope is not None else None


def answered_by(provider: str, model: str) -> None:
    """Called by the LLM client whose call completed: the innermost scope remembers it."""
    scope = _current.get()
    if scope is not None:
        scope.provider = provider
        scope.model = model
