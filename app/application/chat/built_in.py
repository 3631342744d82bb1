"""The built-in tools, one row each. The knowledge base's two (disposal rules, the general guide)
are always on; the container gives each of the others its port, or none to switch it off."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.application.chat import knowledge_base, tools
from app.application.chat.lexicon import Lexicon
from app.application.chat.registry import Cues, Labels, Tool, Toolset
from app.application.ports.tools import (
    BulkWastePort,
    CharacterPort,
    CollectionPointPort,
    ImageGeneratorPort,
    LocationPort,
    RecyclablePricePort,
    RetrieverPort,
    WeatherPort,
    WebSearchPort,
)
from app.domain.chat import Intent

# fmt: off
WASTE_RAG: Tool[RetrieverPort] = Tool(
    "waste_rag", Labels("분리배출 자료", "the disposal guide"), (Intent.WASTE,),
    describes="how to sort or dispose of an item", about_an_item=True,
    cues=Cues((
        "버려", "버리", "버릴", "배출", "분리수거", "분리 수거", "재활용", "처리", "수거",
        "쓰레기", "throw", "dispose", "recycl", "trash", "garbage", "discard", "get rid",
        "where do", "where does", "which bin", "go in the", "put out"), order=90),
)
CHARACTER: Tool[CharacterPort] = Tool(
    "character", Labels("캐릭터", "characters"), (Intent.CHARACTER,),
    describes="the app's characters", cues=Cues(("캐릭터", "character"), order=20),
    build=tools.character, recognises=lambda client: client.names,
)
LOCATION: Tool[LocationPort] = Tool(
    "location", Labels("지도 검색", "map search"), (Intent.LOCATION,),
    describes="places on a map near somewhere", about_an_item=True, kb_stands_in=True,
    cues=Cues((
        "근처", "가까운", "주변", "어디 있", "위치", "지도", "찾아줘", "near", "nearest",
        "nearby", "around", "where is", "map"), order=60),
    build=tools.location,
)
BULK_WASTE: Tool[BulkWastePort] = Tool(
    "bulk_waste", Labels("대형 폐기물 정보", "bulky-waste rules"), (Intent.BULK_WASTE,),
    describes="furniture and large appliances: reporting, fees, pickup",
    about_an_item=True, kb_stands_in=True, asks_back=True,
    cues=Cues((
        "대형", "소파", "쇼파", "매트리스", "장롱", "침대", "책상", "냉장고", "세탁기", "가구",
        "수수료", "스티커", "수거 신청", "bulky", "sofa", "couch", "mattress", "furniture",
        "wardrobe", "pickup"), order=30),
    build=tools.bulk_waste,
)
RECYCLABLE_PRICE: Tool[RecyclablePricePort] = Tool(
    "recyclable_price", Labels("재활용품 시세", "recyclable prices"), (Intent.RECYCLABLE_PRICE,),
    describes="what scrap or recyclables sell for", about_an_item=True, kb_stands_in=True,
    cues=Cues((
        "시세", "가격", "얼마에 팔", "고철값", "kg당", "킬로당", "price", "sell for",
        "how much do", "scrap value"), order=40),
    build=tools.recyclable_price,
)
WEATHER: Tool[WeatherPort] = Tool(
    "weather", Labels("날씨", "the weather"), (Intent.WEATHER,),
    cues=Cues((
        "날씨", "비 와", "비와", "비가", "비 오", "눈 와", "기온", "우산 챙", "weather", "rain",
        "snow", "forecast", "temperature"), order=50),
    build=tools.weather,
)
# Things collected in dedicated bins: "battery bin near me" is a collection-point question.
COLLECTION_POINT: Tool[CollectionPointPort] = Tool(
    "collection_point", Labels("수거함 위치", "collection points"), (Intent.COLLECTION_POINT,),
    describes="battery, lamp, medicine, clothing bins and recycling centres nearby",
    about_an_item=True, kb_stands_in=True, asks_back=True,
    cues=Cues((
        "건전지", "배터리", "형광등", "의약품", "약 ", "알약", "헌옷", "의류", "옷", "폐가전",
        "battery", "batteries", "lamp", "medicine", "pill", "clothes", "clothing", "수거함",
        "collection bin"), order=60, within=Intent.LOCATION),
    build=tools.collection_point,
)
WEB_SEARCH: Tool[WebSearchPort] = Tool(
    "web_search", Labels("웹 검색", "web search"), (Intent.WEB_SEARCH,),
    describes="news, recent changes, facts outside disposal rules", kb_stands_in=True,
    cues=Cues((
        "뉴스", "최근", "최신", "검색해", "정책 바뀌", "news", "latest", "recent",
        "search the web", "look up online"), order=70),
    build=tools.web_search,
)
IMAGE_GENERATION: Tool[ImageGeneratorPort] = Tool(
    "image_generation", Labels("이미지 생성", "image generation"), (Intent.IMAGE_GENERATION,),
    describes="draw or make a picture",
    cues=Cues((
        "그려", "그림 만들", "이미지 만들", "이미지 생성", "draw", "generate an image",
        "make an image", "picture of"), order=10),
    build=tools.image_generation,
)
GENERAL: Tool[RetrieverPort] = Tool(
    "general", Labels("안내", "the guide"), (Intent.GENERAL,),
    about_an_item=True, kb_stands_in=True,
)
# fmt: on
# The tools with ports of their own, in the order the container registers them.
SERVICES: tuple[Tool[Any], ...] = (
    CHARACTER,
    LOCATION,
    BULK_WASTE,
    RECYCLABLE_PRICE,
    WEATHER,
    COLLECTION_POINT,
    WEB_SEARCH,
    IMAGE_GENERATION,
)  # fmt: skip
# Every built-in tool, switched off but the knowledge base's: the rules' own view of them.
BUILT_IN = Toolset((WASTE_RAG, *SERVICES, GENERAL))
LEXICON = Lexicon.of(BUILT_IN.tools)


def with_knowledge_base(
    retriever: RetrieverPort, top_k: int, registered: tuple[Tool[Any], ...]
) -> Toolset:
    """The graph's tools: the disposal rules first (always on, over the retriever), the
    registered ones, the general guide last (always on)."""
    rules = replace(WASTE_RAG, lookup=knowledge_base.waste_rag(retriever, top_k))
    guide = replace(GENERAL, lookup=knowledge_base.general(retriever))
    return Toolset((rules, *registered, guide))
