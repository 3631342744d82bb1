"""Building blocks for graph tests: a few real waste items and a container with fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.application.chat.service import ChatService
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.waste import WasteCategory, WasteItem
from app.settings import load_settings
from tests.fakes import FakeRetriever, RecordingNotifier
from tests.support.services import REDIS_URL

PET = WasteItem(
    id="pet-bottle-clear",
    name_ko="투명 페트병",
    name_en="clear PET bottle",
    category=WasteCategory.PET,
    source="환경부 「재활용품 분리배출 가이드라인」(2019)",
    aliases_ko=("페트병", "생수병"),
    aliases_en=("PET bottle",),
    steps_ko=(
        "내용물을 비우고 헹굽니다.",
        "라벨을 떼어 냅니다.",
        "찌그러뜨려 뚜껑을 닫아 배출합니다.",
    ),
    steps_en=("Empty and rinse it.", "Peel off the label.", "Crush it, close the cap, put it out."),
)
CAP = WasteItem(
    id="pet-bottle-cap",
    name_ko="페트병 뚜껑",
    name_en="bottle cap",
    category=WasteCategory.PLASTIC,
    source="환경부 「재활용품 분리배출 가이드라인」(2019)",
    aliases_ko=("뚜껑",),
    aliases_en=("cap",),
    steps_ko=("페트병에 닫아서 함께 배출합니다.",),
    steps_en=("Close it on the bottle.",),
)
BATTERY = WasteItem(
    id="battery-household",
    name_ko="폐건전지",
    name_en="used battery",
    category=WasteCategory.BATTERY,
    source="환경부 「재활용품 분리배출 가이드라인」(2019)",
    aliases_ko=("건전지",),
    aliases_en=("batteries", "battery"),
    steps_ko=("주민센터의 폐건전지 수거함에 넣습니다.",),
    steps_en=("Put it in a battery collection bin.",),
)
UMBRELLA = WasteItem(
    id="umbrella",
    name_ko="우산",
    name_en="umbrella",
    category=WasteCategory.GENERAL_WASTE,
    source="환경부 「재활용품 분리배출 가이드라인」(2019)",
    aliases_ko=("장우산",),
    aliases_en=("umbrellas",),
    steps_ko=("천은 일반 쓰레기로, 살은 고철로 분리합니다.",),
    steps_en=("Fabric to general waste, frame to scrap metal.",),
)
ITEMS = (PET, CAP, BATTERY, UMBRELLA)


@asynccontextmanager
async def chat_kit(
    **overrides: Any,
) -> AsyncIterator[tuple[ChatService, RecordingNotifier, CliContainer]]:
    """The real container (offline LLM, in-memory checkpoints) with fakes for the tool ports.

    `overrides` maps provider names to instances: `weather_client=FakeWeather(...)`.
    """
    settings = load_settings(
        checkpoint={
            "backend": overrides.pop("checkpoint", "memory"),
            **overrides.pop("checkpoint_settings", {}),
        },
        graph={"intent_cache": False, **overrides.pop("graph", {})},
        # Hermetic by default: real services are switched on by the tests that serve them.
        services=overrides.pop("services", {"weather": {"enabled": False}}),
        # The test's Redis (intent cache, photos), never the default one.
        redis={"url": REDIS_URL},
        **overrides.pop("settings", {}),
    )
    container = CliContainer(settings=settings)
    notifier = RecordingNotifier()
    container.notifier.override(notifier)
    container.chat.retriever.override(overrides.pop("retriever", FakeRetriever(ITEMS)))
    for name, value in overrides.items():
        container.chat.providers[name].override(value)
    async with running(container) as started:
        yield await resolve(started.chat.service), notifier, started
