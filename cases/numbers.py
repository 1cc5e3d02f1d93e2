"""Application numbers and personal identification numbers as people type them, made canonical.

People write `trp 2026 000101`, `TRP-2026-000101`, `Trp2026000101`, and Russian speakers often type the
look-alike Cyrillic letters (Т, Р, С…). All of these mean `TRP-2026-000101`.
"""

from __future__ import annotations

import re

_LOOKALIKES = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")
_NUMBER = re.compile(r"^([A-Z]{3})(\d{4})(\d{6})$")
_PERSONAL_ID = re.compile(r"^[0-9A-Z]{7}$")


def _compact(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper().translate(_LOOKALIKES))


def normalize_application_number(text: str) -> str | None:
    match = _NUMBER.match(_compact(text))
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}" if match else None


def normalize_personal_id(text: str) -> str | None:
    compact = _compact(text)
    return compact if _PERSONAL_ID.match(compact) else None
