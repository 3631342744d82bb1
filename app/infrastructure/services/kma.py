"""The Korea Meteorological Administration's village forecast (public data portal, key needed):
short-term forecast for rain chances, ultra-short-term nowcast for the temperature now."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.application.ports.llm import AuthenticationFailed, BadRequest, MalformedResponse
from app.application.ports.tools import WeatherPort
from app.domain.chat import Location
from app.domain.tools import WeatherReport
from app.infrastructure.services.http import ServiceHttp
from app.infrastructure.services.weather import HOURS_AHEAD, RAIN_LIKELY, SEOUL

KST = ZoneInfo("Asia/Seoul")
FORECAST_HOURS = (2, 5, 8, 11, 14, 17, 20, 23)  # issued at HH:00, available from HH:10
PATH = "/1360000/VilageFcstInfoService_2.0"
KEY_ERRORS = {"20", "30", "31", "32", "33"}  # access denied, key not registered/expired...


def to_grid(latitude: float, longitude: float) -> tuple[int, int]:
    """Latitude/longitude → the KMA 5 km grid (Lambert conformal conic, KMA's constants)."""
    re, grid, slat1, slat2, olon, olat, xo, yo = 6371.00877, 5.0, 30.0, 60.0, 126.0, 38.0, 43, 136
    rad = math.pi / 180.0
    re /= grid
    s1, s2, ol, oa = slat1 * rad, slat2 * rad, olon * rad, olat * rad
    sn = math.log(math.cos(s1) / math.cos(s2)) / math.log(
        math.tan(math.pi * 0.25 + s2 * 0.5) / math.tan(math.pi * 0.25 + s1 * 0.5)
    )
    sf = math.tan(math.pi * 0.25 + s1 * 0.5) ** sn * math.cos(s1) / sn
    ro = re * sf / math.tan(math.pi * 0.25 + oa * 0.5) ** sn
    ra = re * sf / math.tan(math.pi * 0.25 + latitude * rad * 0.5) ** sn
    theta = longitude * rad - ol
    theta = (theta + math.pi) % (2 * math.pi) - math.pi
    theta *= sn
    return int(ra * math.sin(theta) + xo + 0.5), int(ro - ra * math.cos(theta) + yo + 0.5)


def forecast_base(now: datetime) -> tuple[str, str]:
    """The latest issued forecast (base_date, base_time) at `now` (KST)."""
    ready = now - timedelta(minutes=10)
    hours = [h for h in FORECAST_HOURS if h <= ready.hour]
    if not hours:
        previous = ready - timedelta(days=1)
        return previous.strftime("%Y%m%d"), "2300"
    return ready.strftime("%Y%m%d"), f"{hours[-1]:02d}00"


def nowcast_base(now: datetime) -> tuple[str, str]:
    """Observations are published every hour at about HH:40."""
    ready = now - timedelta(minutes=40)
    return ready.strftime("%Y%m%d"), ready.strftime("%H00")


class KmaWeather(WeatherPort):
    def __init__(self, http: ServiceHttp, service_key: str, *, clock: Any = None) -> None:
        self._http = http
        self._key = service_key
        self._clock = clock or (lambda: datetime.now(KST))

    async def forecast(self, location: Location | None, place: str | None = None) -> WeatherReport:
        where = location or SEOUL  # KMA has no geocoder; the node passes coordinates when known
        nx, ny = to_grid(where.latitude, where.longitude)
        now = self._clock()
        chances = await self._rain_chances(nx, ny, now)
        temperature = await self._temperature(nx, ny, now)
        peak = max(chances, default=0)
        advice = (
            "재활용품은 비를 맞지 않게 내놓으세요" if peak >= RAIN_LIKELY else "내놓기 괜찮습니다"
        )
        name = where.address or f"격자 {nx},{ny}"
        return WeatherReport(
            summary=f"{name}: 앞으로 {HOURS_AHEAD}시간 강수확률 최대 {peak}% "
            f"(rain {peak}%) — {advice}",
            temperature_c=temperature,
            precipitation_probability=peak,
            source="기상청 단기예보",
        )

    async def _rain_chances(self, nx: int, ny: int, now: datetime) -> list[int]:
        base_date, base_time = forecast_base(now)
        items = await self._items("getVilageFcst", base_date, base_time, nx, ny, rows=300)
        horizon = (now + timedelta(hours=HOURS_AHEAD)).strftime("%Y%m%d%H%M")
        return [
            int(i["fcstValue"])
            for i in items
            if i.get("category") == "POP" and f"{i['fcstDate']}{i['fcstTime']}" <= horizon
        ]

    async def _temperature(self, nx: int, ny: int, now: datetime) -> float | None:
        base_date, base_time = nowcast_base(now)
        items = await self._items("getUltraSrtNcst", base_date, base_time, nx, ny, rows=20)
        value = next((i["obsrValue"] for i in items if i.get("category") == "T1H"), None)
        return float(value) if value is not None else None

    async def _items(
        self, operation: str, base_date: str, base_time: str, nx: int, ny: int, rows: int
    ) -> list[dict[str, Any]]:
        body = await self._http.get_json(
            f"{PATH}/{operation}",
            {
                "serviceKey": self._key,
                "pageNo": 1,
                "numOfRows": rows,
                "dataType": "JSON",
                "base_date": base_date,
                "base_time": base_time,
                "nx": nx,
                "ny": ny,
            },
            cache=True,  # keyed by grid cell and base hour: one fetch per cell per issue
        )
        try:
            header = body["response"]["header"]
            code = str(header["resultCode"])
        except (KeyError, TypeError) as exc:
            raise MalformedResponse("no response header", provider="kma") from exc
        if code in KEY_ERRORS:
            raise AuthenticationFailed(header.get("resultMsg", "key refused"), provider="kma")
        if code == "03":  # NO_DATA
            return []
        if code != "00":
            raise BadRequest(f"{code} {header.get('resultMsg', '')}", provider="kma")
        try:
            items = body["response"]["body"]["items"]["item"]
        except (KeyError, TypeError) as exc:
            raise MalformedResponse("no items in the answer", provider="kma") from exc
        return list(items)
