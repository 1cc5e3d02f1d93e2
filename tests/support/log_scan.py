"""The privacy check over a whole test run: every log file the run's processes wrote is searched for the
personal data the tests typed (the sandbox applicants' application numbers, FINs and dates of birth, in
the forms people write them) and for anything shaped like an application or passport number. Independent
of core.privacy on purpose: it checks the redaction, so it must not share its blind spots."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from case_api.sandbox import DEMO

GENERIC = [
    re.compile(r"\b[A-Z]{3}[\s-]?20\d\d[\s-]?\d{6}\b", re.IGNORECASE),  # application numbers, any spacing
    re.compile(r"\b[A-Z]{1,2}\d{7,8}\b"),  # passport numbers (AA1234567, C01234567)
]


def _needles() -> list[str]:
    needles = []
    for number, _, _, fin, born, *_ in DEMO:
        day = dt.date.fromisoformat(born)
        needles += [
            number,
            number.replace("-", ""),
            number.replace("-", " "),
            fin,
            born,
            day.strftime("%d.%m.%Y"),
            day.strftime("%d/%m/%Y"),
        ]
    return needles


def personal(lines: list[str]) -> list[int]:
    """The indexes of the lines with personal data in clear (of log files, or of tables' rows as text)."""
    needles = [n.lower() for n in _needles()]
    return [
        index
        for index, line in enumerate(lines)
        if any(n in line.lower() for n in needles) or any(p.search(line) for p in GENERIC)
    ]


def findings(paths: list[Path]) -> list[str]:
    """`path:line: text` for every line with personal data in clear."""
    found = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        found += [f"{path}:{index + 1}: {lines[index][:300]}" for index in personal(lines)]
    return found


def log_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.log") if p.is_file())
