"""A loopback LangSmith API: what the installed langsmith client sends traces to.

GET /info (multipart ingest on, no zstd: the client then sends plain multipart), POST
/runs/multipart (parts `post.<id>`, `patch.<id>`, `post.<id>.inputs`, ...), and the older
POST /runs/batch, POST /runs, PATCH /runs/<id> (JSON) for clients that fall back to them.
"""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import default
from typing import Any

from tests.support.wire_script import WireApp, WireRequest, send_json

# What the real server answers (the client indexes every field of batch_ingest_config).
INFO = {
    "version": "0.10.0",
    "batch_ingest_config": {
        "use_multipart_endpoint": True,
        "scale_up_qsize_trigger": 1000,
        "scale_up_nthreads_limit": 16,
        "scale_down_nempty_trigger": 4,
        "size_limit": 100,
        "size_limit_bytes": 20_971_520,
    },
    "instance_flags": {"zstd_compression_enabled": False},
}


class LangSmithWire(WireApp):
    """Folds every post and patch into one dict per run id: `runs[id]`."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, dict[str, Any]] = {}
        self.paths: list[str] = []

    async def handle(self, wire: WireRequest, send: Any) -> None:
        self.paths.append(f"{wire.method} {wire.path}")
        if wire.method == "GET" and wire.path.rstrip("/").endswith("/info"):
            await send_json(send, 200, json.dumps(INFO).encode(), {})
            return
        if wire.method == "POST" and wire.path.endswith("/runs/multipart"):
            self._multipart(wire)
        elif wire.method == "POST" and wire.path.endswith("/runs/batch"):
            batch = json.loads(wire.body)
            for run in [*batch.get("post", []), *batch.get("patch", [])]:
                self._merge(str(run["id"]), run)
        elif wire.method == "POST" and wire.path.endswith("/runs"):
            run = json.loads(wire.body)
            self._merge(str(run["id"]), run)
        elif wire.method == "PATCH" and "/runs/" in wire.path:
            self._merge(wire.path.rsplit("/", 1)[-1], json.loads(wire.body))
        else:
            await send_json(send, 404, b'{"detail": "not found"}', {})
            return
        await send_json(send, 202, b"{}", {})

    def _multipart(self, wire: WireRequest) -> None:
        head = f"Content-Type: {wire.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=default).parsebytes(head + wire.body)
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            kind, _, rest = name.partition(".")
            run_id, _, field = rest.partition(".")
            if kind not in ("post", "patch"):
                continue  # feedback, attachments
            value = json.loads(part.get_payload(decode=True) or b"null")
            self._merge(run_id, {field: value} if field else value)

    def _merge(self, run_id: str, values: dict[str, Any]) -> None:
        self.runs.setdefault(run_id, {}).update({k: v for k, v in values.items() if v is not None})

    def llm_runs(self) -> list[dict[str, Any]]:
        return [r for r in self.runs.values() if r.get("run_type") == "llm"]
