"""Charts as SVG, drawn on the server: no script, no stylesheet of their own (the console's CSP allows
neither inline), only presentation attributes. Each bar or point has a `<title>`, which the browser shows as
its tooltip; each chart has a text alternative. Publishes and model swaps are dashed lines across the days
they happened on."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence

from markupsafe import Markup

from analytics.report import Marker

WIDTH, HEIGHT = 960, 230
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 16, 28
MARKER_COLOURS = {"publish": "#d97706", "model": "#7c3aed"}
OUTCOME_COLOURS = {
    "answered": "#2e7d32",
    "did_you_mean": "#7cb342",
    "clarify": "#c0ca33",
    "not_understood": "#e53935",
    "out_of_scope": "#8d6e63",
    "handed_over": "#1e88e5",
    "with_people": "#90caf9",
    "status_found": "#00897b",
    "status_not_found": "#80cbc4",
    "status_locked": "#6d4c41",
    "status_unavailable": "#ff8f00",
    "engine_down": "#b71c1c",
    "other": "#9e9e9e",
}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice_max(value: float) -> float:
    """The axis' top: four steps of 1, 2, (2.5) or 5 times a power of ten (counts: at least 1), so that every
    gridline is a round number."""
    wanted = max(value, 1) / 4
    step = 1.0
    while step * 10 < wanted:
        step *= 10
    for factor in (1, 2, 2.5, 5, 10) if step >= 10 else (1, 2, 5, 10):  # 2.5 × 1 would label 7.5 messages
        if factor * step >= wanted:
            return 4 * factor * step
    return 40 * step


class _Frame:
    """The plot area's geometry for `days` and a y axis from 0 to `top`."""

    def __init__(self, days: Sequence[dt.date], top: float) -> None:
        self.days, self.top = list(days), top
        self.width = WIDTH - LEFT - RIGHT
        self.height = HEIGHT - TOP - BOTTOM
        self.slot = self.width / max(len(self.days), 1)

    def x(self, i: int) -> float:
        return LEFT + self.slot * (i + 0.5)

    def y(self, value: float) -> float:
        return TOP + self.height * (1 - value / self.top)

    def axes(self, percent: bool = False) -> list[str]:
        parts = []
        for n in range(5):
            value = self.top * n / 4
            y = self.y(value)
            label = f"{value:.0f}%" if percent else (f"{value:.0f}" if value == int(value) else f"{value:.1f}")
            parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e5ea"/>'
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#66707c">{label}</text>'
            )
        every = max(1, round(len(self.days) / 10))
        for i, day in enumerate(self.days):
            if i % every == 0 or i == len(self.days) - 1:
                parts.append(
                    f'<text x="{self.x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" '
                    f'fill="#66707c">{day:%d.%m}</text>'
                )
        return parts

    def markers(self, markers: Sequence[Marker]) -> list[str]:
        index = {day: i for i, day in enumerate(self.days)}
        by_place: dict[tuple[int, str], list[str]] = {}
        for marker in markers:
            if (i := index.get(marker.day)) is not None:
                by_place.setdefault((i, marker.kind), []).append(marker.label)
        parts = []
        for (i, kind), labels in sorted(by_place.items()):
            x = self.x(i) + (-3 if kind == "publish" else 3)
            colour = MARKER_COLOURS.get(kind, "#333")
            title = _e(f"{self.days[i]:%d.%m}: " + "; ".join(labels))
            parts.append(
                f'<g class="marker {kind}"><title>{title}</title>'
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + self.height}" stroke="{colour}" '
                f'stroke-width="2" stroke-dasharray="4 3"/>'
                f'<circle cx="{x:.1f}" cy="{TOP - 6}" r="4" fill="{colour}"/></g>'
            )
        return parts


def _svg(label: str, parts: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{_e(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{_e(label)}</title>{"".join(parts)}</svg>'
    )


def lines(
    label: str, days: Sequence[dt.date], series: Sequence[tuple[str, Sequence[int], str]], markers: Sequence[Marker]
) -> Markup:
    """One line per (name, values per day, colour), with a dot per day."""
    frame = _Frame(days, _nice_max(max((max(v, default=0) for _, v, _ in series), default=0)))
    parts = frame.axes()
    for name, values, colour in series:
        points = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, value in enumerate(values):
            parts.append(
                f'<circle class="point" cx="{frame.x(i):.1f}" cy="{frame.y(value):.1f}" r="3" fill="{colour}">'
                f"<title>{_e(f'{days[i]:%d.%m}: {value} {name}')}</title></circle>"
            )
    return _svg(label, parts + frame.markers(markers))


def bars(label: str, days: Sequence[dt.date], values: Sequence[int], colour: str, markers: Sequence[Marker]) -> Markup:
    frame = _Frame(days, _nice_max(max(values, default=0)))
    parts = frame.axes()
    width = max(frame.slot * 0.7, 1)
    for i, value in enumerate(values):
        if value:
            y = frame.y(value)
            parts.append(
                f'<rect x="{frame.x(i) - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{TOP + frame.height - y:.1f}" fill="{colour}">'
                f"<title>{_e(f'{days[i]:%d.%m}: {value}')}</title></rect>"
            )
    return _svg(label, parts + frame.markers(markers))


def shares(
    label: str,
    days: Sequence[dt.date],
    stacks: Mapping[str, Sequence[int]],
    names: Mapping[str, str],
    markers: Sequence[Marker],
) -> Markup:
    """Each day's bar split by share (100 % high), bottom up in the order of `stacks`."""
    frame = _Frame(days, 100)
    parts = frame.axes(percent=True)
    width = max(frame.slot * 0.7, 1)
    for i, day in enumerate(days):
        total = sum(values[i] for values in stacks.values())
        if not total:
            continue
        below = 0.0
        for key, values in stacks.items():
            if not values[i]:
                continue
            share = 100 * values[i] / total
            y_top, y_bottom = frame.y(below + share), frame.y(below)
            title = f"{day:%d.%m}: {names.get(key, key)} {values[i]} of {total} ({share:.0f}%)"
            parts.append(
                f'<rect x="{frame.x(i) - width / 2:.1f}" y="{y_top:.1f}" width="{width:.1f}" '
                f'height="{y_bottom - y_top:.1f}" fill="{OUTCOME_COLOURS.get(key, "#bbb")}">'
                f"<title>{_e(title)}</title></rect>"
            )
            below += share
    return _svg(label, parts + frame.markers(markers))


def swatch(colour: str) -> Markup:
    """A legend's colour square (an attribute, not a style: the CSP forbids inline styles)."""
    return Markup(
        f'<svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{_e(colour)}"/></svg>'
    )
