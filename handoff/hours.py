"""When people answer: the service's working hours, in its time zone, described in the user's language."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time, get_day_names

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<opens>\d{1,2}:\d{2})\s*-\s*(?P<closes>\d{1,2}:\d{2})\s*$")


# Day names stand inside sentences ("from Monday, 30 November"): Azerbaijani and Russian write them in lower
# case there. The CLDR data in Babel 2.19 capitalises the Azerbaijani ones, so they are lowered here.
_LOWER_CASE_DAYS = ("az", "ru")


def _day_names(language: str) -> dict[int, str]:
    names = get_day_names("wide", "stand-alone", language)
    if language.split("_")[0] in _LOWER_CASE_DAYS:
        return {day: name[:1].lower() + name[1:] for day, name in names.items()}
    return dict(names)


def _day(name: str) -> int:
    try:
        return _DAYS.index(name.strip().lower()[:3])
    except ValueError:
        raise ValueError(f"unknown day {name!r}; use Mon, Tue, … Sun") from None


@dataclass(frozen=True)
class WorkingHours:
    days: frozenset[int]  # 0 = Monday
    opens: dt.time
    closes: dt.time
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, zone: str) -> WorkingHours:
        """`Mon-Fri 09:00-18:00`, `Mon,Wed,Fri 10:00-14:00` or `Mon-Sun 00:00-24:00`."""
        match = _SPEC.match(spec)
        if match is None:
            raise ValueError(f"working hours {spec!r}: expected e.g. 'Mon-Fri 09:00-18:00'")
        days: set[int] = set()
        for part in match["days"].split(","):
            if "-" in part:
                first, last = (_day(p) for p in part.split("-", 1))
                days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)])
            else:
                days.add(_day(part))
        opens = dt.time.fromisoformat(match["opens"].zfill(5))
        closes = dt.time.max if match["closes"] == "24:00" else dt.time.fromisoformat(match["closes"].zfill(5))
        if closes <= opens:
            raise ValueError(f"working hours {spec!r}: closing must be after opening")
        return cls(frozenset(days), opens, closes, ZoneInfo(zone))

    def is_open(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def next_opening(self, moment: dt.datetime) -> dt.datetime:
        """The next time people are at work, at or after `moment` (itself when they are now)."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        for ahead in range(8):
            day = local.date() + dt.timedelta(days=ahead)
            start = dt.datetime.combine(day, self.opens, self.zone)
            if day.weekday() in self.days and start > local:
                return start
        raise ValueError("working hours have no working day")

    def describe(self, language: str) -> str:
        """E.g. "Monday–Friday, 09:00–18:00", in the user's language."""
        names = _day_names(language)
        days = sorted(self.days)
        if len(days) == 7:
            day_text = "–".join((names[0], names[6]))
        elif len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
            day_text = f"{names[days[0]]}–{names[days[-1]]}"
        else:
            day_text = ", ".join(names[d] for d in days)
        closes = "24:00" if self.closes == dt.time.max else format_time(self.closes, "HH:mm", locale=language)
        return f"{day_text}, {format_time(self.opens, 'HH:mm', locale=language)}–{closes}"

    def format_moment(self, moment: dt.datetime, language: str) -> str:
        """A day and time in the service's zone, e.g. "Monday, 30 November, 09:00"."""
        day = _day_names(language)[moment.astimezone(self.zone).weekday()]
        return f"{day}, {format_datetime(moment, 'd MMMM, HH:mm', tzinfo=self.zone, locale=language)}"
