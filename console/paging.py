"""Long lists a page at a time: `?page=N` (from 1), the rest of the query kept in the links."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

PAGE_SIZE = 50


@dataclass(frozen=True)
class Paging:
    number: int  # from 1
    size: int
    total: int
    query: tuple[tuple[str, str], ...]  # the request's other parameters

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first_shown(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_shown(self) -> int:
        return min(self.offset + self.size, self.total)

    def link(self, number: int) -> str:
        return "?" + urlencode([*self.query, ("page", str(number))])


def paging(request: web.Request, total: int, size: int = PAGE_SIZE) -> Paging:
    """The page asked for, within the pages there are (a page past the end shows the last one)."""
    asked = request.query.get("page", "1")
    number = int(asked) if asked.isascii() and asked.isdecimal() and len(asked) <= 9 and int(asked) > 0 else 1
    query = tuple((k, v) for k, v in request.query.items() if k not in ("page", "flash"))
    asked_for = Paging(number, size, total, query)
    return dataclasses.replace(asked_for, number=min(number, asked_for.pages))
