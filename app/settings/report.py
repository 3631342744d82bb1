"""`config show`: every effective value, secrets masked, with the source that set it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.settings.masking import mask
from app.settings.model import Settings, bind_config_file
from app.settings.sources import ENV_FOR_PATH, FlatEnvSource, named_sources


@dataclass(frozen=True)
class ConfigEntry:
    key: str
    value: str
    source: str


def explain(
    settings: Settings, config_file: str | os.PathLike[str] | None = None
) -> list[ConfigEntry]:
    """Walk the effective settings; the source is the highest-priority one that set the key."""
    provided: dict[str, str] = {}
    for name, source in reversed(named_sources(bind_config_file(config_file))):
        for key in _leaf_keys(source()):
            env = (
                ENV_FOR_PATH.get(tuple(key.split(".")))
                if isinstance(source, FlatEnvSource)
                else None
            )
            provided[key] = f"{name} {env}" if env else name
    return [
        ConfigEntry(key, _display(value, key), _source_for(key, provided))
        for key, value in _leaves(settings)
    ]


def _source_for(key: str, provided: dict[str, str]) -> str:
    # A dict-valued setting (context_windows) is set as a whole or per entry.
    while key:
        if key in provided:
            return provided[key]
        key = key.rpartition(".")[0]
    return "default"


def _leaves(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        key = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _leaves(value, f"{key}.")
        else:
            yield key, value


def _leaf_keys(tree: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            yield key
            yield from _leaf_keys(value, f"{key}.")
        else:
            yield key


def _display(value: Any, key: str = "") -> str:
    shown = mask(value, key.rpartition(".")[2])
    if shown is None:
        return "null"
    if isinstance(shown, dict):
        return ", ".join(f"{k}={v}" for k, v in shown.items()) or "{}"
    return str(shown)
