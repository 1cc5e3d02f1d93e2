"""Reading the applicant's verification data as people type it: a birth date or a FIN.

Dates come as 12.03.1990, 12/3/1990, 1990-03-12, 12.03.90, "12 March 1990", "March 12, 1990",
"12 марта 1990", "12 mart 1990"; a FIN (personal identification number) as 7 letters and digits, in any case,
with spaces, or with Cyrillic look-alike letters.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from cases.numbers import normalize_personal_id

_MONTHS = {
    # English
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    # Russian, genitive and nominative
    "января": 1,
    "февраля": 2,
    "марта": 3,
    "апреля": 4,
    "мая": 5,
    "июня": 6,
    "июля": 7,
    "августа": 8,
    "сентября": 9,
    "октября": 10,
    "ноября": 11,
    "декабря": 12,
    "январь": 1,
    "февраль": 2,
    "март": 3,
    "апрель": 4,
    "май": 5,
    "июнь": 6,
    "июль": 7,
    "август": 8,
    "сентябрь": 9,
    "октябрь": 10,
    "ноябрь": 11,
    "декабрь": 12,
    # Azerbaijani
    "yanvar": 1,
    "fevral": 2,
    "mart": 3,
    "aprel": 4,
    "iyun": 6,
    "iyul": 7,
    "avqust": 8,
    "sentyabr": 9,
    "oktyabr": 10,
    "noyabr": 11,
    "dekabr": 12,
}
_NUMERIC_DMY = re.compile(r"^(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{2}|\d{4})$")
_ISO = re.compile(r"^(\d{4})[-./](\d{1,2})[-./](\d{1,2})$")
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})\s*([^\W\d_]+)\.?,?\s*(\d{4})(?:\s*(?:г\.?|года|il|ildə|-ci il))?$")
_MONTH_DAY_YEAR = re.compile(r"^([^\W\d_]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")


def _month(name: str) -> int | None:
    name = name.lower().strip(".")
    if name in _MONTHS:
        return _MONTHS[name]
    # Azerbaijani suffixes such as "martda", "martın": match by the known stem.
    for stem, number in _MONTHS.items():
        if len(stem) >= 3 and name.startswith(stem):
            return number
    return None


def _year(text: str, today: dt.date) -> int:
    year = int(text)
    if len(text) == 2:  # 90 -> 1990, 05 -> 2005
        year += 2000 if year <= today.year % 100 else 1900
    return year


# The same shapes inside a sentence ("my date of birth is 12.03.1990", "родился 7.11.1983").
_IN_SENTENCE = [
    re.compile(r"(?<![\w.])" + p.pattern[1:-1] + r"(?![\w])")
    for p in (_ISO, _NUMERIC_DMY, _DAY_MONTH_YEAR, _MONTH_DAY_YEAR)
]


def parse_birth_date(text: str, today: dt.date | None = None) -> dt.date | None:
    """A plausible birth date (not in the future, not more than 120 years ago), or None.

    The whole message is read as a date first; failing that, the first date written inside it."""
    today = today or dt.date.today()
    cleaned = " ".join(text.strip().lower().split())
    born = _exact_date(cleaned, today)
    if born is not None:
        return born
    for pattern in _IN_SENTENCE:
        for match in pattern.finditer(cleaned):
            if (born := _exact_date(match.group(0), today)) is not None:
                return born
    return None


def _exact_date(cleaned: str, today: dt.date) -> dt.date | None:
    candidate: tuple[int, int, int] | None = None
    if match := _ISO.match(cleaned):
        candidate = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    elif match := _NUMERIC_DMY.match(cleaned):
        candidate = (_year(match.group(3), today), int(match.group(2)), int(match.group(1)))
    elif (match := _DAY_MONTH_YEAR.match(cleaned)) and (month := _month(match.group(2))):
        candidate = (int(match.group(3)), month, int(match.group(1)))
    elif (match := _MONTH_DAY_YEAR.match(cleaned)) and (month := _month(match.group(1))):
        candidate = (int(match.group(3)), month, int(match.group(2)))
    if candidate is None:
        return None
    try:
        born = dt.date(*candidate)
    except ValueError:
        return None
    if born > today or born.year < today.year - 120:
        return None
    return born


@dataclass(frozen=True)
class Verification:
    date_of_birth: dt.date | None = None
    personal_id: str | None = None


def parse_verification(text: str, today: dt.date | None = None) -> Verification | None:
    """A birth date or a FIN from what the user typed, or None if it is neither."""
    born = parse_birth_date(text, today)
    if born is not None:
        return Verification(date_of_birth=born)
    compact = re.sub(r"\s+", "", text)
    # A FIN mixes letters and digits; typed alone (spaces allowed) or as one word of a sentence ("FİN: 5ZK2L9B").
    for candidate in [compact, *re.findall(r"[^\W_]+", text)]:
        if re.search(r"\d", candidate) and re.search(r"[^\W\d_]", candidate):
            personal_id = normalize_personal_id(candidate)
            if personal_id is not None:
                return Verification(personal_id=personal_id)
    return None
