"""Text as the engine should read it: what users type, cleaned of what they cannot see.

Zero-width spaces and joiners, byte-order marks and bidi marks (Unicode format characters) inside a word
split it into pieces the model has never seen, and control characters are noise the model still scores;
both are removed. Compatibility forms (fullwidth letters and digits, ligatures, no-break spaces) become the
plain characters people usually type (NFKC), so "ＴＲＰ－２０２６－０００１２３" is an application number.

NFKC keeps Azerbaijani and Cyrillic letters as they are (ə ı İ ğ ş ç ö ü, й ё are canonical already, and
their decomposed forms are composed); only "№", which NFKC would spell "No", is kept as typed.
"""

from __future__ import annotations

import re
import unicodedata

_KEPT = "№"  # Russian writes "заявление №5"; NFKC would make it "заявление No5"
_REMOVED = frozenset({"Cc", "Cf", "Cs"})  # control, format, lone surrogates (they cannot even be encoded)
_LINE_BREAKS = re.compile(r"\r\n?|[\x85\u2028\u2029]")
_SPACES = re.compile(r"[ \t\x0b\x0c]+")
_AROUND_NEWLINES = re.compile(r" ?\n[\n ]*")


def _visible(text: str) -> str:
    """Without control and format characters, except the line breaks and tabs that separate words."""
    return "".join(ch for ch in text if ch in "\n\t\x0b\x0c" or unicodedata.category(ch) not in _REMOVED)


def normalise(text: str) -> str:
    """NFKC, without format and control characters, spaces collapsed, and stripped; "" when nothing is left."""
    if not text.isprintable():  # most messages have nothing to remove: one quick check
        text = _visible(_LINE_BREAKS.sub("\n", text))
    # Removed first, so a letter and its combining accent that a zero-width character kept apart compose.
    text = _KEPT.join(unicodedata.normalize("NFKC", part) for part in text.split(_KEPT))
    text = _SPACES.sub(" ", text)
    return _AROUND_NEWLINES.sub("\n", text).strip()
