"""Telegram's parse_mode=HTML rules, strict as the real server applies them.

Only the tags Telegram supports are accepted, every tag must be closed in order, `&` must start one of the
entities Telegram knows, and a stray `<` is an error. Lengths are counted as Telegram counts them: UTF-16
code units of the text after the markup is removed.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

ALLOWED_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only with class="tg-spoiler"
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)\s*>")
_ENTITY = re.compile(r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]+);")


class ParseError(ValueError):
    """Carries Telegram's wording: `Bad Request: can't parse entities: ...`."""


@dataclass
class Parsed:
    text: str
    entities: list[dict] = field(default_factory=list)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def parse_html(source: str) -> Parsed:
    out: list[str] = []
    out_len = 0  # UTF-16 length of what has been emitted so far
    stack: list[tuple[str, int, dict]] = []
    entities: list[dict] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "<":
            match = _TAG.match(source, i)
            if not match:
                raise ParseError(
                    f"Bad Request: can't parse entities: Unsupported start tag at byte offset {_byte_offset(source, i)}"
                )
            closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3) or ""
            if name not in ALLOWED_TAGS:
                kind = "end" if closing else "start"
                raise ParseError(
                    f'Bad Request: can\'t parse entities: Unsupported {kind} tag "{name}" at byte offset '
                    f"{_byte_offset(source, i)}"
                )
            if closing:
                if not stack or stack[-1][0] != name:
                    raise ParseError(
                        f"Bad Request: can't parse entities: Unmatched end tag at byte offset "
                        f'{_byte_offset(source, i)}, expected "</{stack[-1][0]}>", found "</{name}>"'
                        if stack
                        else f"Bad Request: can't parse entities: Unexpected end tag at byte offset "
                        f"{_byte_offset(source, i)}"
                    )
                open_name, start, open_extra = stack.pop()
                if out_len > start:
                    entities.append(
                        {"type": ALLOWED_TAGS[open_name], "offset": start, "length": out_len - start, **open_extra}
                    )
            else:
                extra: dict = {}
                if name == "a":
                    href = re.search(r"""href\s*=\s*(["'])(.*?)\1""", attrs)
                    if not href:
                        raise ParseError(
                            "Bad Request: can't parse entities: Can't find end of href attribute at byte offset "
                            f"{_byte_offset(source, i)}"
                        )
                    extra["url"] = html.unescape(href.group(2))
                if name == "span" and "tg-spoiler" not in attrs:
                    raise ParseError(
                        'Bad Request: can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte '
                        f"offset {_byte_offset(source, i)}"
                    )
                stack.append((name, out_len, extra))
            i = match.end()
            continue
        if ch == "&":
            match = _ENTITY.match(source, i)
            if not match:
                raise ParseError(
                    "Bad Request: can't parse entities: Character entity expected at byte offset "
                    f"{_byte_offset(source, i)}"
                )
            body = match.group(1)
            if body.startswith("#x"):
                decoded = chr(int(body[2:], 16))
            elif body.startswith("#"):
                decoded = chr(int(body[1:]))
            elif body in _NAMED_ENTITIES:
                decoded = _NAMED_ENTITIES[body]
            else:
                raise ParseError(
                    f'Bad Request: can\'t parse entities: Unsupported HTML entity "&{body};" at byte offset '
                    f"{_byte_offset(source, i)}"
                )
            out.append(decoded)
            out_len += utf16_len(decoded)
            i = match.end()
            continue
        out.append(ch)
        out_len += utf16_len(ch)
        i += 1
    if stack:
        raise ParseError(
            f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1][0]}\""
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return Parsed("".join(out), entities)
