"""Weather from Open-Meteo (keyless): rain chances for the next hours at a place."""

from __future__ import annotations

from typing import Any

from app.application.ports.llm import BadRequest, MalformedResponse
from app.application.ports.tools import WeatherPort
from app.domain.chat import Location
from app.domain.tools import WeatherReport
from app.infrastructure.services.http import ServiceHttp

SEOUL = Location(latitude=37.5665, longitude=126.9780, address="서울")
HOURS_AHEAD = 12
RAIN_LIKELY = 60


class OpenMeteoWeather(WeatherPort):
    """Forecasts are cached per ~1 km cell (two decimals) for `cache_ttl`."""

    def __init__(self, forecast: ServiceHttp, geocoding: ServiceHttp) -> None:
        self._forecast = forecast
        self._geocoding = geocoding

    async def forecast(self, location: Location | None, place: str | None = None) -> WeatherReport:
        where = location or (await self._geocode(place) if place else None) or SEOUL
        body = await self._forecast.get_json(
            "/v1/forecast",
            {
                "latitude": round(where.latitude, 2),
                "longitude": round(where.longitude, 2),
                "hourly": "temperature_2m,precipitation_probability",
                "current": "temperature_2m",
                "forecast_days": 2,
                "timezone": "Asia/Seoul",
            },
            cache=True,
        )
        return _report(body, where)

    async def _geocode(self, place: str) -> Location | None:
        body = await self._geocoding.get_json(
            "/v1/search",
            {"name": place, "count": 1, "language": "ko", "countryCode": "KR"},
            cache=True,
            ttl=30 * 86400,
        )
        results = body.get("results") if isinstance(body, dict) else None
        if not results:
            return None
        first = results[0]
        return Location(
            latitude=first["latitude"], longitude=first["longitude"], address=first.get("name")
        )


def _report(body: Any, where: Location) -> WeatherReport:
    if isinstance(body, dict) and body.get("error"):
        raise BadRequest(str(body.get("reason", "rejected")), provider="open-meteo")
    try:
        hourly = body["hourly"]
        chances = [p for p in hourly["precipitation_probability"][:HOURS_AHEAD] if p is not None]
        temperature = body.get("current", {}).get("temperature_2m")
    except (KeyError, TypeError) as exc:
        raise MalformedResponse("no hourly forecast in the answer", provider="open-meteo") from exc
    peak = max(chances, default=0)
    place = where.address or f"{where.latitude:.2f},{where.longitude:.2f}"
    advice = "재활용품은 비를 맞지 않게 내놓으세요" if peak >= RAIN_LIKELY else "내놓기 괜찮습니다"
    outlook = f"{place}: 앞으로 {HOURS_AHEAD}시간 비 올 확률 최대 {peak}% (rain {peak}%) — {advice}"
    return WeatherReport(
        summary=outlook,
        temperature_c=temperature,
        precipitation_probability=int(peak),
        source="Open-Meteo",
    )
