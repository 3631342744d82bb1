"""Korea's districts (시·군·구, as of 2024) and finding one named in a question.

Bulky-waste fees, pickup and the nearest bins depend on the district, so a chat that needs
one asks for it, and only a real district name counts as an answer: "소파 버리는 비용 얼마야?"
names none (the sentence is not a district), "마포구요" names 마포구.
"""

from __future__ import annotations

import re
from functools import cache

# 시·도 → its 시·군·구. Names like 중구, 동구, 서구 recur across cities: the 시·도 tells them apart.
DISTRICTS: dict[str, list[str]] = {
    "서울특별시": (
        "종로구 중구 용산구 성동구 광진구 동대문구 중랑구 성북구 강북구 도봉구 노원구 은평구 "
        "서대문구 마포구 양천구 강서구 구로구 금천구 영등포구 동작구 관악구 서초구 강남구 송파구 "
        "강동구"
    ).split(),
    "부산광역시": (
        "중구 서구 동구 영도구 부산진구 동래구 남구 북구 해운대구 사하구 금정구 강서구 연제구 "
        "수영구 사상구 기장군"
    ).split(),
    "대구광역시": "중구 동구 서구 남구 북구 수성구 달서구 달성군 군위군".split(),
    "인천광역시": "중구 동구 미추홀구 연수구 남동구 부평구 계양구 서구 강화군 옹진군".split(),
    "광주광역시": "동구 서구 남구 북구 광산구".split(),
    "대전광역시": "동구 중구 서구 유성구 대덕구".split(),
    "울산광역시": "중구 남구 동구 북구 울주군".split(),
    "세종특별자치시": ["세종시"],
    "경기도": (
        "수원시 성남시 의정부시 안양시 부천시 광명시 평택시 동두천시 안산시 고양시 과천시 구리시 "
        "남양주시 오산시 시흥시 군포시 의왕시 하남시 용인시 파주시 이천시 안성시 김포시 화성시 "
        "광주시 양주시 포천시 여주시 연천군 가평군 양평군"
    ).split(),
    "강원특별자치도": (
        "춘천시 원주시 강릉시 동해시 태백시 속초시 삼척시 홍천군 횡성군 영월군 평창군 정선군 "
        "철원군 화천군 양구군 인제군 고성군 양양군"
    ).split(),
    "충청북도": (
        "청주시 충주시 제천시 보은군 옥천군 영동군 증평군 진천군 괴산군 음성군 단양군"
    ).split(),
    "충청남도": (
        "천안시 공주시 보령시 아산시 서산시 논산시 계룡시 당진시 금산군 부여군 서천군 청양군 "
        "홍성군 예산군 태안군"
    ).split(),
    "전북특별자치도": (
        "전주시 군산시 익산시 정읍시 남원시 김제시 완주군 진안군 무주군 장수군 임실군 순창군 "
        "고창군 부안군"
    ).split(),
    "전라남도": (
        "목포시 여수시 순천시 나주시 광양시 담양군 곡성군 구례군 고흥군 보성군 화순군 장흥군 "
        "강진군 해남군 영암군 무안군 함평군 영광군 장성군 완도군 진도군 신안군"
    ).split(),
    "경상북도": (
        "포항시 경주시 김천시 안동시 구미시 영주시 영천시 상주시 문경시 경산시 의성군 청송군 "
        "영양군 영덕군 청도군 고령군 성주군 칠곡군 예천군 봉화군 울진군 울릉군"
    ).split(),
    "경상남도": (
        "창원시 진주시 통영시 사천시 김해시 밀양시 거제시 양산시 의령군 함안군 창녕군 고성군 "
        "남해군 하동군 산청군 함양군 거창군 합천군"
    ).split(),
    "제주특별자치도": ["제주시", "서귀포시"],
}
# How people name the 시·도 before a district ('부산 중구', '서울시 마포구').
PROVINCE_NAMES: dict[str, str] = {
    "서울": "서울특별시", "서울시": "서울특별시", "부산": "부산광역시", "부산시": "부산광역시",
    "대구": "대구광역시", "대구시": "대구광역시", "인천": "인천광역시", "인천시": "인천광역시",
    "광주": "광주광역시", "대전": "대전광역시", "대전시": "대전광역시", "울산": "울산광역시",
    "울산시": "울산광역시", "세종": "세종특별자치시", "경기": "경기도", "강원": "강원특별자치도",
    "충북": "충청북도", "충남": "충청남도", "전북": "전북특별자치도", "전남": "전라남도",
    "경북": "경상북도", "경남": "경상남도", "제주": "제주특별자치도",
}  # fmt: skip
SEOUL_STEMS = frozenset(DISTRICTS["서울특별시"]) - {"동작구"}  # 동작: a movement
PARTICLE = re.compile(
    r"(?:에서는|에서|에는|이에요|예요|이요|입니다|이야|야|요|은|는|이|가|에|로|으로)$"
)


@cache
def _names() -> dict[str, list[str]]:
    """District name → the 시·도 that have one by that name."""
    found: dict[str, list[str]] = {}
    for province, names in DISTRICTS.items():
        for name in names:
            found.setdefault(name, []).append(province)
    return found


def find_district(text: str) -> str | None:
    """The district a text names, as '마포구' (or '부산광역시 중구' where the name recurs and the
    city is given); None when it names none. '마포구요', '서울 마포구에서' and '마포' are 마포구."""
    words = [PARTICLE.sub("", w) for w in re.findall(r"[가-힣]+", text)]
    names = _names()
    for index, word in enumerate(words):
        provinces = names.get(word) or names.get(_with_suffix(word, names) or "")
        if not provinces:
            continue
        name = word if word in names else _with_suffix(word, names)
        assert name is not None
        if len(provinces) == 1:
            return name
        before = PROVINCE_NAMES.get(words[index - 1], words[index - 1]) if index else ""
        return f"{before} {name}" if before in provinces else name
    return None


def _with_suffix(word: str, names: dict[str, list[str]]) -> str | None:
    """'마포' → '마포구': Seoul's districts by their stem alone. Not elsewhere: 구리, 화성,
    영광 and 진도 are words (copper, Mars, glory, progress) long before they are places."""
    name = f"{word}구"
    if len(word) >= 2 and name in SEOUL_STEMS:
        return name
    return None


def seoul_districts() -> list[str]:
    """The options a question for the district offers when nothing narrower is known."""
    return list(DISTRICTS["서울특별시"])
