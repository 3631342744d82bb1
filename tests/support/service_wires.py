"""Loopback servers speaking the documented formats of Kakao Local, Tavily, Open-Meteo and a
character service. Each checks its auth header, records requests and follows a Script."""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar
from urllib.parse import parse_qs

from tests.support.wire_script import WireApp, WireRequest, send_json

PLACES = [  # fixture data, not real places
    {
        "id": "1",
        "place_name": "역삼1동 주민센터 폐건전지 수거함",
        "x": "127.0330",
        "y": "37.4950",
        "address_name": "서울 강남구 역삼동 1",
        "road_address_name": "서울 강남구 테헤란로 1",
        "category_name": "공공기관",
        "category_group_code": "PO3",
        "place_url": "http://place.map.kakao.com/1",
    },
    {
        "id": "2",
        "place_name": "강남역 폐건전지 수거함",
        "x": "127.0276",
        "y": "37.4979",
        "address_name": "서울 강남구 역삼동 2",
        "road_address_name": "",
        "category_name": "생활,편의",
        "place_url": "http://place.map.kakao.com/2",
    },
    {
        "id": "3",
        "place_name": "강남구 재활용센터",
        "x": "127.1000",
        "y": "37.4700",
        "address_name": "서울 강남구 자곡동 3",
        "road_address_name": "서울 강남구 자곡로 3",
        "category_name": "재활용",
        "place_url": "http://place.map.kakao.com/3",
    },
]
ADDRESSES = {"강남역": ("127.0276", "37.4979", "서울 강남구 강남대로 396")}


def _query(wire: WireRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(wire.query).items()}


def _metres(x1: float, y1: float, x2: float, y2: float) -> int:
    dx = (x1 - x2) * 88_000
    dy = (y1 - y2) * 111_000
    return int(math.hypot(dx, dy))


class KakaoWire(WireApp):
    key = "kakao-test-key"
    empty = False

    async def handle(self, wire: WireRequest, send: Any) -> None:
        params = _query(wire)
        self.script.requests.append({"path": wire.path, "query": params, "headers": wire.headers})
        if wire.headers.get("authorization") != f"KakaoAK {self.key}":
            await send_json(
                send,
                401,
                json.dumps(
                    {"errorType": "AccessDeniedError", "message": "cannot find appkey"}
                ).encode(),
                {},
            )
            return
        if await self.scripted_failure(send):
            return
        if wire.path.endswith("/address.json"):
            found = ADDRESSES.get(params.get("query", ""))
            documents = (
                []
                if not found or self.empty
                else [{"address_name": found[2], "x": found[0], "y": found[1]}]
            )
        else:
            documents = [] if self.empty else self._places(params)
        body = {"meta": {"total_count": len(documents), "is_end": True}, "documents": documents}
        await send_json(send, 200, json.dumps(body, ensure_ascii=False).encode(), {})

    def _places(self, params: dict[str, str]) -> list[dict[str, Any]]:
        words = params.get("query", "").split()
        code = params.get("category_group_code")
        found = [
            dict(p)
            for p in PLACES
            if (
                p.get("category_group_code") == code
                if code
                else any(w in p["place_name"] for w in words)
            )
        ]
        if "x" in params:
            for place in found:
                place["distance"] = str(
                    _metres(
                        float(params["x"]), float(params["y"]), float(place["x"]), float(place["y"])
                    )
                )
            found.sort(key=lambda p: int(p["distance"]))
            found = [p for p in found if int(p["distance"]) <= int(params.get("radius", 20000))]
        return found[: int(params.get("size", 15))]


class TavilyWire(WireApp):
    key = "tvly-test-key"
    empty = False

    async def handle(self, wire: WireRequest, send: Any) -> None:
        body = json.loads(wire.body or b"{}")
        self.script.requests.append({"path": wire.path, "json": body, "headers": wire.headers})
        if wire.headers.get("authorization") != f"Bearer {self.key}":
            await send_json(
                send,
                401,
                json.dumps(
                    {"detail": {"error": "Unauthorized: missing or invalid API key."}}
                ).encode(),
                {},
            )
            return
        if await self.scripted_failure(send):
            return
        results = (
            []
            if self.empty
            else [
                {
                    "title": f"{body['query']} 안내",
                    "url": "https://www.me.go.kr/notice/1",
                    "content": "분리배출 표시와 배출 요령을 안내합니다.",
                    "score": 0.91,
                },
                {
                    "title": "분리배출 누리집",
                    "url": "https://www.recycling-info.or.kr/",
                    "content": "품목별 분리배출 방법",
                    "score": 0.72,
                },
            ]
        )
        answer = {
            "query": body["query"],
            "results": results[: body.get("max_results", 5)],
            "response_time": 0.42,
        }
        await send_json(send, 200, json.dumps(answer, ensure_ascii=False).encode(), {})


class OpenMeteoWire(WireApp):
    """/v1/forecast and /v1/search (geocoding) on one origin, keyless as the real ones are."""

    rain = 80
    empty = False

    async def handle(self, wire: WireRequest, send: Any) -> None:
        params = _query(wire)
        self.script.requests.append({"path": wire.path, "query": params})
        if await self.scripted_failure(send):
            return
        if wire.path == "/v1/search":
            results = (
                []
                if self.empty
                else [{"name": params["name"], "latitude": 37.4979, "longitude": 127.0276}]
            )
            body: dict[str, Any] = {"results": results} if results else {}
        else:
            hours = 48
            body = {
                "latitude": float(params["latitude"]),
                "longitude": float(params["longitude"]),
                "current": {"time": "2026-11-27T18:00", "temperature_2m": 7.5},
                "hourly": {
                    "time": [f"t{i}" for i in range(hours)],
                    "temperature_2m": [7.0] * hours,
                    "precipitation_probability": [10] * 3 + [self.rain] * (hours - 3),
                },
            }
        await send_json(send, 200, json.dumps(body).encode(), {})


class CharacterWire(WireApp):
    empty = False

    async def handle(self, wire: WireRequest, send: Any) -> None:
        self.script.requests.append({"path": wire.path, "headers": wire.headers})
        if await self.scripted_failure(send):
            return
        body = (
            []
            if self.empty
            else [{"name": "캔디", "category": "can", "description": "반짝이는 캔 강아지"}]
        )
        await send_json(send, 200, json.dumps(body, ensure_ascii=False).encode(), {})


class KmaWire(WireApp):
    """The data portal's VilageFcstInfoService_2.0 (JSON), keyed by `serviceKey`."""

    key = "kma-portal-test-key"
    empty = False
    rain = 70

    async def handle(self, wire: WireRequest, send: Any) -> None:
        params = _query(wire)
        self.script.requests.append({"path": wire.path, "query": params})
        if params.get("serviceKey") != self.key:
            await send(  # the portal's gateway answers a bad key with a bare 401
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"Unauthorized"})
            return
        if await self.scripted_failure(send):
            return
        if self.empty:
            header = {"resultCode": "03", "resultMsg": "NO_DATA"}
            await send_json(send, 200, json.dumps({"response": {"header": header}}).encode(), {})
            return
        base = {
            "baseDate": params["base_date"],
            "baseTime": params["base_time"],
            "nx": int(params["nx"]),
            "ny": int(params["ny"]),
        }
        if wire.path.endswith("getUltraSrtNcst"):
            items = [
                {**base, "category": "T1H", "obsrValue": "6.5"},
                {**base, "category": "RN1", "obsrValue": "0"},
            ]
        else:
            day = params["base_date"]
            items = [
                {
                    **base,
                    "category": "POP",
                    "fcstDate": day,
                    "fcstTime": f"{h:02d}00",
                    "fcstValue": str(self.rain if h >= 18 else 20),
                }
                for h in range(24)
            ]
            items += [
                {**base, "category": "TMP", "fcstDate": day, "fcstTime": "1800", "fcstValue": "7"}
            ]
        body = {
            "response": {
                "header": {"resultCode": "00", "resultMsg": "NORMAL_SERVICE"},
                "body": {
                    "dataType": "JSON",
                    "items": {"item": items},
                    "pageNo": 1,
                    "numOfRows": len(items),
                    "totalCount": len(items),
                },
            }
        }
        await send_json(send, 200, json.dumps(body).encode(), {})


class OdcloudWire(WireApp):
    """The data portal's file-data API: {page, perPage, totalCount, currentCount, data}."""

    key = "portal-test-key"
    empty = False
    rows: ClassVar[list[dict[str, str]]] = [  # fixture rows, not real bins
        {
            "설치장소명": "FIXTURE 역삼1동 주민센터",
            "소재지도로명주소": "서울 강남구 테헤란로 1",
            "위도": "37.4950",
            "경도": "127.0330",
        },
        {
            "설치장소명": "FIXTURE 강남역 지하상가",
            "소재지도로명주소": "서울 강남구 강남대로 396",
            "위도": "37.4979",
            "경도": "127.0276",
        },
        {
            "설치장소명": "FIXTURE 해운대구청",
            "소재지도로명주소": "부산 해운대구 중동2로 11",
            "위도": "35.1631",
            "경도": "129.1635",
        },
    ]

    async def handle(self, wire: WireRequest, send: Any) -> None:
        params = _query(wire)
        self.script.requests.append({"path": wire.path, "query": params})
        if params.get("serviceKey") != self.key:
            await send_json(
                send,
                401,
                json.dumps({"code": -4, "msg": "등록되지 않은 인증키 입니다."}).encode(),
                {},
            )
            return
        if await self.scripted_failure(send):
            return
        rows = [] if self.empty else self.rows
        page, per_page = int(params.get("page", 1)), int(params.get("perPage", 10))
        chunk = rows[(page - 1) * per_page : page * per_page]
        body = {
            "page": page,
            "perPage": per_page,
            "totalCount": len(rows),
            "currentCount": len(chunk),
            "matchCount": len(rows),
            "data": chunk,
        }
        await send_json(send, 200, json.dumps(body, ensure_ascii=False).encode(), {})
