"""The Overview's SVG charts: every text escaped (they are inserted as markup), points and bars where the
numbers say, round axes, and markers only on days the chart shows."""

from __future__ import annotations

import datetime as dt
import re

from analytics.report import Marker
from console import charts

DAYS = [dt.date(2026, 12, 1) + dt.timedelta(days=n) for n in range(7)]


def test_texts_in_a_chart_are_escaped_and_it_has_no_style_or_script():
    hostile = '<script>alert(1)</script>" onload="x'
    svg = str(
        charts.lines(hostile, DAYS, [(hostile, [1, 2, 3, 4, 5, 6, 7], "#000")], [Marker(DAYS[2], "publish", hostile)])
    )
    assert "<script" not in svg and 'onload="x' not in svg and "&lt;script&gt;" in svg
    assert "style" not in svg  # the console's CSP forbids inline styles
    assert svg.count('class="point"') == 7 and svg.count('class="marker publish"') == 1


def test_bars_and_shares_follow_the_numbers_and_markers_outside_the_days_are_left_out():
    svg = str(charts.bars("Tickets", DAYS, [0, 0, 3, 0, 0, 0, 1], "#00f", [Marker(dt.date(2026, 11, 1), "model", "m")]))
    assert svg.count("<rect") == 2 and "marker" not in svg
    assert re.findall(r">(\d+)</text>", svg)[:5] == ["0", "1", "2", "3", "4"]  # 4 steps of 1 up to 3 → top 4
    shares = str(charts.shares("Outcomes", DAYS, {"answered": [1] * 7, "other": [3] * 7}, {}, []))
    assert "answered 1 of 4 (25%)" in shares and "other 3 of 4 (75%)" in shares
