"""Console: the Overview, the first page after login: how the assistant served people in a period, per
language (analytics/report.py), as charts and tables, and the same figures as CSV."""

from __future__ import annotations

from aiohttp import web

from analytics.outcomes import OUTCOMES
from analytics.report import PERIODS, Overview
from console import charts
from console.web import _console, render
from core.settings import LANGUAGES

LANGUAGE_NAMES = {"az": "Azerbaijani", "ru": "Russian", "en": "English"}


def _choice(request: web.Request) -> tuple[int, str | None]:
    """The period and language asked for; anything else is the default (7 days, every language)."""
    days = request.query.get("days", "")
    period = next((p for p in PERIODS if days == str(p)), PERIODS[0])
    language = request.query.get("language", "")
    return period, language if language in LANGUAGES else None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours / 24:.1f} days"


def _charts(view: Overview) -> dict[str, object]:
    markers = view.markers
    return {
        "traffic": charts.lines(
            "Conversations and messages per day",
            view.days,
            [("conversations", view.conversations, "#143a5a"), ("messages", view.messages, "#1f6fb2")],
            markers,
        ),
        "outcomes": charts.shares(
            "What became of the messages, per day (shares)", view.days, view.outcomes, OUTCOMES, markers
        ),
        "unanswered": charts.bars("Unanswered questions per day", view.days, view.unanswered, "#e53935", markers),
        "tickets": charts.bars("Tickets opened per day", view.days, view.tickets, "#1e88e5", markers),
    }


async def overview_page(request: web.Request) -> web.Response:
    period, language = _choice(request)
    view = await _console(request).reports.overview(period, language)
    totals = view.outcome_totals
    messages = sum(view.messages)
    return render(
        request,
        "overview.html",
        view=view,
        period=period,
        periods=PERIODS,
        language=language,
        language_names=LANGUAGE_NAMES,
        outcomes=OUTCOMES,
        totals=totals,
        shares={k: (n / messages if messages else 0.0) for k, n in totals.items()},
        total_messages=messages,
        charts=_charts(view),
        colours=charts.OUTCOME_COLOURS,
        marker_colours=charts.MARKER_COLOURS,
        swatch=charts.swatch,
        duration=_duration,
    )


async def overview_csv(request: web.Request) -> web.Response:
    period, language = _choice(request)
    view = await _console(request).reports.overview(period, language)
    name = f"overview-{view.days[0]}-{view.days[-1]}-{language or 'all'}.csv"
    return web.Response(
        text=view.csv(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


ROUTES = [web.get("/", overview_page), web.get("/overview.csv", overview_csv)]
