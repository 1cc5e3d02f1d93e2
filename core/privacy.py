"""Redaction of personal data before anything is logged or stored for staff.

Migrants type their FIN (personal identification number), passport and application numbers, dates of birth,
phone numbers and names into the chat. None of that may reach a log line in clear. The patterns err on the
side of redacting too much: a log with `[ID]` where a harmless code stood costs nothing.
"""

from __future__ import annotations

import logging
import re

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря|"
    "январь|февраль|март|апрель|май|июнь|июль|август|сентябрь|октябрь|ноябрь|декабрь|"
    "yanvar|fevral|mart|aprel|may|iyun|iyul|avqust|sentyabr|oktyabr|noyabr|dekabr"
)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<!\d)\d{6,12}:[\w-]{30,}"), "[BOT-TOKEN]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[EMAIL]"),
    # Dates: 1990-03-12, 12.03.1990, 12/3/90, 12 March 1990, 12 марта 1990
    (re.compile(r"\b\d{4}[./-]\d{1,2}[./-]\d{1,2}\b"), "[DATE]"),
    (re.compile(r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b"), "[DATE]"),
    (re.compile(rf"\b\d{{1,2}}\s+(?:{_MONTHS})[a-zа-я]*\.?,?\s+\d{{4}}\b", re.IGNORECASE), "[DATE]"),
    (re.compile(rf"\b(?:{_MONTHS})\s+\d{{1,2}},?\s+\d{{4}}\b", re.IGNORECASE), "[DATE]"),
    # Identifiers that mix letters and digits: FIN (7 chars), passport (AA1234567, C01234567), case numbers.
    (re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[^\W\d_])[^\W_](?:[\w-]{4,30})[^\W_]\b"), "[ID]"),
    # Phone numbers and long digit runs (application numbers, card numbers), spaces or dashes allowed.
    (re.compile(r"\+?\d(?:[\s()-]*\d){6,}"), "[NUMBER]"),
    # A name announced as such.
    (
        re.compile(
            r"(?i)(my name is|i am called|меня зовут|моё имя|мое имя|mənim adım|menim adim|adım|adim)"
            r"\s+([^\W\d_]+(?:\s+[^\W\d_]+){0,2})"
        ),
        r"\1 [NAME]",
    ),
]


# Technical tokens that only look like identifiers, kept as they are: versions ("python3.11", "py3.10"),
# hex digests of 16 or more lowercase digits with a letter (model files, commits, hashes: a FIN has 7
# characters, a passport number 9, and phone numbers have no letters), and a few words every log mentions.
_TECHNICAL = re.compile(
    r"\b(?:[A-Za-z]{2,}\d{1,2}(?:\.\d{1,2}){1,2}(?!\.?\d)"
    r"|(?=[0-9]*[a-f])(?=[a-f]*[0-9])[0-9a-f]{16,}"
    r"|(?:sha|blake|md)\d+|base\d{2}|utf-?\d{1,2}|x86_64|amd64|arm64|aarch64|ipv[46]|http[23]|python\d|py\d{1,3})\b"
)
# "born12.03.90" is a date, not a version: three numbers are a version only after a program's name.
_DATE_SHAPED = re.compile(r"\d{1,2}\.\d{1,2}\.\d{2}")
_PROGRAMS = re.compile(r"(?i)(?:python|py|rasa|postgres|postgresql|pg|redis|sqlite|node|cuda|ubuntu|debian)\d")
_KEPT = "\ue000{}\ue001"  # private-use marks: no pattern matches them or the number between them
_KEPT_BACK = re.compile("\ue000(\\d+)\ue001")


def redact(text: str) -> str:
    kept: list[str] = []

    def keep(found: re.Match[str]) -> str:
        if _DATE_SHAPED.search(found.group()) and not _PROGRAMS.match(found.group()):
            return found.group()
        kept.append(found.group())
        return _KEPT.format(len(kept) - 1)

    if "\ue000" not in text:  # text already holding our marks gets no exceptions: everything is redacted
        text = _TECHNICAL.sub(keep, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _KEPT_BACK.sub(lambda found: kept[int(found.group(1))], text) if kept else text


class RedactingFilter(logging.Filter):
    """Redacts the fully formatted message of every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            # Exceptions may quote user input (e.g. a validation error); keep the type, redact the text.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def redact_every_record() -> None:
    """Redacts every log record of this process as it is created, whichever handler prints it later.

    For processes whose logging we do not configure (the Rasa engine installs its own handlers, and logs
    a failed message with its text): a handler filter would be lost when they replace the handlers.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacting", False):
        return
    redacting = RedactingFilter()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redacting.filter(record)
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
