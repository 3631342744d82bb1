"""Kakao Local REST API: keyword and category search near a point, address → coordinate."""

from __future__ import annotations

from typing import Any

from app.application.ports.llm import MalformedResponse
from app.application.ports.tools import CollectionPointPort, LocationPort
from app.domain.chat import Location
from app.domain.tools import CollectionPoint, Place
from app.infrastructure.services.http import ServiceHttp

MAX_RADIUS = 20_000  # the API's limit, metres
PAGE_SIZE = 15
KIND_QUERIES = {
    "battery": "폐건전지 수거함",
    "fluorescent_lamp": "폐형광등 수거함",
    "medicine": "폐의약품 수거함",
    "clothing": "의류수거함",
    "e_waste": "폐가전 수거",
    "recycling_center": "재활용센터",
}


class KakaoLocalClient(LocationPort):
    """`Authorization: KakaoAK <key>`; results nearest first when a point is given."""

    def __init__(self, http: ServiceHttp) -> None:
        self._http = http

    async def search(
        self, query: str, near: Location | None = None, radius_m: int = 2000, limit: int = 5
    ) -> list[Place]:
        params: dict[str, Any] = {"query": query, "size": min(limit, PAGE_SIZE)}
        if near is not None:
            params |= {
                "x": near.longitude,
                "y": near.latitude,
                "sort": "distance",
                "radius": min(radius_m, MAX_RADIUS),
            }
        body = await self._http.get_json("/v2/local/search/keyword.json", params, cache=True)
        return [_place(doc) for doc in _documents(body)][:limit]

    async def search_category(
        self, code: str, near: Location, radius_m: int = 2000, limit: int = 5
    ) -> list[Place]:
        """Category groups (e.g. PO3 public offices) near a point, nearest first."""
        params = {
            "category_group_code": code,
            "x": near.longitude,
            "y": near.latitude,
            "radius": min(radius_m, MAX_RADIUS),
            "sort": "distance",
            "size": min(limit, PAGE_SIZE),
        }
        body = await self._http.get_json("/v2/local/search/category.json", params, cache=True)
        return [_place(doc) for doc in _documents(body)][:limit]

    async def geocode(self, address: str) -> Location | None:
        """An address (or, failing that, a landmark) as a coordinate; cached."""
        body = await self._http.get_json(
            "/v2/local/search/address.json", {"query": address}, cache=True, ttl=7 * 86400
        )
        documents = _documents(body)
        if not documents:
            places = await self.search(address, limit=1)
            return places[0].location if places else None
        first = documents[0]
        return Location(
            latitude=float(first["y"]),
            longitude=float(first["x"]),
            address=first.get("address_name"),
        )


class KakaoCollectionPoints(CollectionPointPort):
    """Bins and recycling centres as Kakao Local knows them, nearest first."""

    def __init__(self, kakao: KakaoLocalClient) -> None:
        self._kakao = kakao

    async def nearby(
        self, kind: str, near: Location | None, place: str | None = None, limit: int = 5
    ) -> list[CollectionPoint]:
        if near is None and place:
            near = await self._kakao.geocode(place)
        query = KIND_QUERIES.get(kind, KIND_QUERIES["recycling_center"])
        if near is None and place:
            query = f"{place} {query}"
        places = await self._kakao.search(query, near=near, radius_m=3000, limit=limit)
        return [
            CollectionPoint(
                name=p.name,
                kind=kind,
                address=p.address,
                distance_m=p.distance_m,
                location=p.location,
            )
            for p in places
        ]


def _documents(body: Any) -> list[dict[str, Any]]:
    documents = body.get("documents") if isinstance(body, dict) else None
    if not isinstance(documents, list):
        raise MalformedResponse("no documents in the answer", provider="kakao")
    return documents


def _place(doc: dict[str, Any]) -> Place:
    distance = doc.get("distance")
    return Place(
        name=doc.get("place_name", ""),
        address=doc.get("road_address_name") or doc.get("address_name", ""),
        location=Location(latitude=float(doc["y"]), longitude=float(doc["x"])),
        distance_m=int(distance) if distance not in (None, "") else None,
        category=doc.get("category_name", ""),
        url=doc.get("place_url"),
    )
