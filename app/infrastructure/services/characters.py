"""The eco2 characters: the shipped catalog (default) or a character service over HTTP."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from app.application.ports.llm import MalformedResponse
from app.application.ports.tools import CharacterPort
from app.domain.tools import Character
from app.domain.waste import WasteCategory
from app.infrastructure.services.http import ServiceHttp

CATALOG = Path(__file__).with_name("data") / "characters.yaml"


@cache
def load_catalog(path: Path = CATALOG) -> tuple[Character, ...]:
    return tuple(
        Character.model_validate(entry)
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))
    )


class CatalogCharacterClient(CharacterPort):
    def __init__(self, characters: tuple[Character, ...]) -> None:
        self._characters = characters

    async def for_category(self, category: WasteCategory) -> Character | None:
        return next((c for c in self._characters if c.category is category), None)

    async def find(self, name: str) -> Character | None:
        return next((c for c in self._characters if c.name == name), None)

    async def names(self) -> list[str]:
        return [c.name for c in self._characters]


class HttpCharacterClient(CharacterPort):
    """`GET /characters` (cached) from a character service: [{name, category, description}]."""

    def __init__(self, http: ServiceHttp) -> None:
        self._http = http

    async def _all(self) -> list[Character]:
        body: Any = await self._http.get_json("/characters", cache=True)
        if not isinstance(body, list):
            raise MalformedResponse("expected a list of characters", provider="characters")
        return [Character.model_validate(entry) for entry in body]

    async def for_category(self, category: WasteCategory) -> Character | None:
        return next((c for c in await self._all() if c.category is category), None)

    async def find(self, name: str) -> Character | None:
        return next((c for c in await self._all() if c.name == name), None)

    async def names(self) -> list[str]:
        return [c.name for c in await self._all()]
