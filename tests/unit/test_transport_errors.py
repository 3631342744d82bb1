"""Either library's transport failures become our errors, whichever one the pool runs on."""

from __future__ import annotations

import pytest

from app.application.ports.llm import ProviderTimeout, ProviderUnavailable
from app.infrastructure.http import LIBRARIES, HttpLibrary
from app.infrastructure.llm.errors import from_transport


@pytest.fixture(params=sorted(LIBRARIES))
def library(request: pytest.FixtureRequest) -> HttpLibrary:
    return LIBRARIES[request.param]


@pytest.mark.parametrize("name", ["ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout"])
def test_timeouts_become_provider_timeouts(library: HttpLibrary, name: str) -> None:
    error = from_transport(getattr(library.module, name)("slow"), "openai")
    assert isinstance(error, ProviderTimeout) and error.provider == "openai"


@pytest.mark.parametrize("name", ["ConnectError", "ReadError", "RemoteProtocolError"])
def test_lost_connections_become_provider_unavailable(library: HttpLibrary, name: str) -> None:
    error = from_transport(getattr(library.module, name)("gone"), "kakao")
    assert isinstance(error, ProviderUnavailable) and "gone" in str(error)


def test_anything_else_is_left_alone(library: HttpLibrary) -> None:
    assert from_transport(library.module.DecodingError("bad gzip"), "kakao") is None
    assert from_transport(ValueError("ours"), "kakao") is None
