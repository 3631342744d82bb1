"""Collection bins from a public dataset served by the data portal's file-data API (odcloud):
the Korea Environment Corporation's small e-waste and battery bins. Paged; nearest first."""

from __future__ import annotations

import math
from typing import Any

from app.application.ports.llm import MalformedResponse
from app.application.ports.tools import CollectionPointPort
from app.domain.chat import Location
from app.domain.tools import CollectionPoint
from app.infrastructure.services.http import ServiceHttp
from app.settings.services import CollectionPointSettings

MAX_PAGES = 20


class OdcloudCollectionPoints(CollectionPointPort):
    """`GET {dataset_path}?page=&perPage=&serviceKey=` → {"data": [...], "totalCount": n}.

    Column names differ per dataset, so they come from config. The whole dataset is fetched
    once (page by page) and cached; distances are computed here.
    """

    def __init__(self, http: ServiceHttp, settings: CollectionPointSettings) -> None:
        self._http = http
        self._settings = settings
        self._rows: list[dict[str, Any]] | None = None

    async def nearby(
        self, kind: str, near: Location | None, place: str | None = None, limit: int = 5
    ) -> list[CollectionPoint]:
        rows = await self._all_rows()
        points = [p for row in rows if (p := self._point(row, kind, near)) is not None]
        if near is not None:
            return sorted(points, key=lambda p: p.distance_m or 0)[:limit]
        if place:
            words = [w for w in place.split() if len(w) >= 2]
            points = [p for p in points if any(w in p.address or w in p.name for w in words)]
        return points[:limit]

    async def _all_rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            rows: list[dict[str, Any]] = []
            for page in range(1, MAX_PAGES + 1):
                body = await self._http.get_json(
                    self._settings.dataset_path,
                    {"page": page, "perPage": self._settings.page_size, "serviceKey": self._key()},
                    cache=True,
                )
                if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                    raise MalformedResponse("no data list in the answer", provider="keco")
                rows.extend(body["data"])
                if len(rows) >= int(body.get("totalCount", 0)) or not body["data"]:
                    break
            self._rows = rows
        return self._rows

    def _key(self) -> str:
        key = self._settings.api_key
        return key.get_secret_value() if key else ""

    def _point(
        self, row: dict[str, Any], kind: str, near: Location | None
    ) -> CollectionPoint | None:
        columns = self._settings.columns
        name = str(row.get(columns["name"], "")).strip()
        if not name:
            return None
        location = _location(row.get(columns["latitude"]), row.get(columns["longitude"]))
        distance = _metres(near, location) if near and location else None
        return CollectionPoint(
            name=name,
            kind=kind,
            address=str(row.get(columns["address"], "")),
            distance_m=distance,
            location=location,
        )


def _location(latitude: Any, longitude: Any) -> Location | None:
    try:
        return Location(latitude=float(latitude), longitude=float(longitude))
    except (TypeError, ValueError):
        return None


def _metres(a: Location, b: Location) -> int:
    """Haversine distance."""
    rad = math.pi / 180
    dlat, dlon = (b.latitude - a.latitude) * rad, (b.longitude - a.longitude) * rad
    h = math.sin(dlat / 2) ** 2 + math.cos(a.latitude * rad) * math.cos(b.latitude * rad) * (
        math.sin(dlon / 2) ** 2
    )
    return int(2 * 6_371_000 * math.asin(math.sqrt(h)))
