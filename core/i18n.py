"""Gettext catalogs (az, ru, en) and CLDR formatting, shared by the gateway and the action server.

The `.po` files under `core/locales` are the source of truth. They are compiled in memory when loaded,
so a stale `.mo` can never be served. Extraction and update use babel's CLI (see `make i18n`).
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from core.settings import LANGUAGES

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a string for extraction without translating it (it is translated at render time)."""
    return message


@cache
def translations(language: str) -> Translations:
    po_path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return Translations()  # falls back to the English msgids
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def normalize_language(language: str | None, default: str = "en") -> str:
    """Maps a Telegram `language_code` such as `ru-RU` or `az_Latn` to a supported language, or `default`."""
    if not language:
        return default
    base = language.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else default


def locale(language: str) -> Locale:
    return Locale.parse(language)


def format_day(language: str, day: dt.date) -> str:
    return format_date(day, format="long", locale=locale(language))


def format_clock(language: str, moment: dt.time | dt.datetime) -> str:
    return format_time(moment, format="short", locale=locale(language))


def format_number(language: str, number: float) -> str:
    return format_decimal(number, locale=locale(language))


BAKU = ZoneInfo("Asia/Baku")  # the service's time: lockouts, staff pages; users are told "Baku time"
LANGUAGE_NAMES = {"az": "Azərbaycanca", "ru": "Русский", "en": "English"}
