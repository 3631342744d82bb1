"""API keys in a local JSON file (the embedded default): hashed, written atomically, locked
so `keys create` and a running gateway can share it."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from app.application.ports.access import ApiKeyStorePort
from app.domain.access import KeyInfo


class FileApiKeyStore(ApiKeyStorePort):
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = path.with_suffix(path.suffix + ".lock")

    async def add(self, info: KeyInfo) -> None:
        await asyncio.to_thread(self._change, lambda keys: [*keys, info])

    async def find(self, key_id: str) -> KeyInfo | None:
        keys = await asyncio.to_thread(self._read)
        return next((k for k in keys if k.key_id == key_id), None)

    async def all_keys(self) -> list[KeyInfo]:
        return await asyncio.to_thread(self._read)

    async def revoke(self, key_id: str) -> bool:
        revoked: list[bool] = []

        def change(keys: list[KeyInfo]) -> list[KeyInfo]:
            now = datetime.now(UTC)
            updated = []
            for key in keys:
                if key.key_id == key_id and key.active:
                    key = key.model_copy(update={"revoked_at": now})
                    revoked.append(True)
                updated.append(key)
            return updated

        await asyncio.to_thread(self._change, change)
        return bool(revoked)

    def _read(self) -> list[KeyInfo]:
        if not self._path.is_file():
            return []
        data = json.loads(self._path.read_text(encoding="utf-8"))
        return [KeyInfo.model_validate(entry) for entry in data.get("keys", [])]

    def _change(self, change: object) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            keys = change(self._read())  # type: ignore[operator]
            body = {"keys": [k.model_dump(mode="json") for k in keys]}
            temporary = self._path.with_suffix(".tmp")
            temporary.write_text(json.dumps(body, indent=2), encoding="utf-8")
            os.chmod(temporary, 0o600)  # hashes only, but nobody else's business
            os.replace(temporary, self._path)
