"""schemathesis against the gateway's own OpenAPI document: every check, 200 examples per
operation, a real gateway, worker and Redis, in both deployment profiles (keys required; and
anonymous use, where a browser without credentials becomes a guest by cookie). Zero failures:
no 5xx, no undocumented status, no schema-valid request refused, no response off its schema,
no ignored credentials."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.application.access.api_keys import issue
from app.entrypoints.gateway.browsers import GUEST_COOKIE
from app.infrastructure.access.file_keys import FileApiKeyStore
from tests.e2e.conftest import serve_gateway
from tests.support.services import Deployment, worker_process

CONFIG = Path(__file__).with_name("schemathesis.toml")  # the opaque values' 422s
SEED = 20261201  # fixed: the same cases on every run, so a failure is reproducible


# Six to eight minutes on a busy 2-core machine: the subprocess deadline sits below the test's.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("profile", ["keys", "guests"])
def test_schemathesis_finds_nothing(
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    logs: Path,
    profile: str,
) -> None:
    credentials: list[str] = []
    limits: dict[str, int | None] = {"max_queue_depth": None, "tokens_per_day": None}
    if profile == "keys":
        keys = tmp_path / "keys.json"
        key = issue("fuzzer")
        asyncio.run(FileApiKeyStore(keys).add(key.info))
        deployment.env |= {"APP_AUTH__KEYS_FILE": str(keys), "APP_AUTH__ALLOW_ANONYMOUS": "false"}
        credentials = ["--header", f"Authorization: Bearer {key.key}"]
    else:
        deployment.env |= {"APP_AUTH__ALLOW_ANONYMOUS": "true"}
        limits["requests_per_minute"] = None  # one guest (and one address) sends every case
    # A fuzzer's image URLs name hosts that resolve nowhere: the address policy has its own
    # tests (test_access); here the schema's promise is what is checked.
    gateway = {"allow_private_image_urls": True, "allow_http_image_urls": True}
    with (
        serve_gateway(deployment, monkeypatch, gateway=gateway, limits=limits) as server,
        worker_process(deployment, logs),
    ):
        if profile == "guests":  # a browser: the cookie its first request got, on every request
            cookie = httpx.get(f"{server.url}/api/v1/chat").cookies[GUEST_COOKIE]
            # Anonymous use is on: a request with a made-up key is a guest's, and answered, by
            # design. schemathesis reads that as "accepts invalid authentication" (ST401); the
            # keys profile keeps the check where a key is required.
            credentials = [
                "--header", f"Cookie: {GUEST_COOKIE}={cookie}", "--exclude-checks", "ignored_auth",
            ]  # fmt: skip
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file", str(CONFIG),
                "run",
                f"{server.url}/openapi.json",
                "--checks", "all",
                "--max-examples", "200",
                "--seed", str(SEED),
                *credentials,
            ],
            capture_output=True,
            text=True,
            timeout=1140,
            check=False,
        )  # fmt: skip
    summary = result.stdout[result.stdout.find("SUMMARY") :]
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in summary and "failure" not in summary
