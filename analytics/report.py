"""The Overview's figures for a period and a language: from the counts (analytics/tables.py), the ratings, the
unanswered log, the tickets, the publishes and the model swaps. Days are Baku's, as the counts'.

The same figures go to the page (console/overview.py) and to its CSV, so what staff export is what they saw.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.counting import baku_today
from analytics.outcomes import OUTCOMES
from analytics.tables import UsageConversation, UsageCount
from core.db import as_utc
from core.i18n import BAKU
from handoff.models import Ticket
from handoff.service import Timing, timing_of
from knowledge.curation import vote_counts
from knowledge.models import Entry, EntryText, Revision, Unanswered
from training.tables import Rollout

PERIODS = (7, 30, 90)
TOP_ENTRIES = 20
RATED_DOWN = 10


@dataclass(frozen=True)
class Marker:
    day: dt.date
    kind: str  # publish | model
    label: str


@dataclass
class EntryFigures:
    key: str
    question: str
    asked: int = 0
    up: int = 0
    down: int = 0
    # The change is measured on whole days: the period's days before today, against as many days before them
    # (today has only begun: it would make every entry look less asked than the week before).
    asked_whole_days: int = 0
    asked_before: int = 0

    @property
    def change(self) -> float | None:
        """The change in how often it was asked, against the days before (None: not asked then)."""
        return (self.asked_whole_days - self.asked_before) / self.asked_before if self.asked_before else None


@dataclass
class Overview:
    days: list[dt.date]
    language: str | None  # None: every language
    conversations: list[int]
    messages: list[int]
    outcomes: dict[str, list[int]]  # outcome -> per day, every outcome of OUTCOMES
    by_channel: dict[str, int]
    top: list[EntryFigures]
    rated_down: list[EntryFigures]
    unanswered: list[int]
    tickets: list[int]
    timing: Timing  # of the period's tickets
    markers: list[Marker] = field(default_factory=list)

    @property
    def outcome_totals(self) -> dict[str, int]:
        return {outcome: sum(per_day) for outcome, per_day in self.outcomes.items()}

    @property
    def answered_share(self) -> float | None:
        total = sum(self.messages)
        return self.outcome_totals["answered"] / total if total else None

    def csv(self) -> str:
        """Every figure of the page, one per line: figure, day (empty for the period's), key, value."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["figure", "day", "language", "key", "value"])
        language = self.language or "all"
        for i, day in enumerate(self.days):
            writer.writerow(["conversations", day, language, "", self.conversations[i]])
            writer.writerow(["messages", day, language, "", self.messages[i]])
            for outcome, per_day in self.outcomes.items():
                writer.writerow(["outcome", day, language, outcome, per_day[i]])
            writer.writerow(["unanswered", day, language, "", self.unanswered[i]])
            writer.writerow(["tickets_opened", day, language, "", self.tickets[i]])
        for channel, n in sorted(self.by_channel.items()):
            writer.writerow(["channel", "", language, channel, n])
        for entry in self.top:
            writer.writerow(["entry_asked", "", language, entry.key, entry.asked])
            writer.writerow(["entry_asked_whole_days", "", language, entry.key, entry.asked_whole_days])
            writer.writerow(["entry_asked_days_before", "", language, entry.key, entry.asked_before])
            writer.writerow(["entry_rated_up", "", language, entry.key, entry.up])
            writer.writerow(["entry_rated_down", "", language, entry.key, entry.down])
        for entry in self.rated_down:
            writer.writerow(["most_rated_down", "", language, entry.key, entry.down])
        for name, value in (
            ("first_response_median_s", self.timing.median_first_response_s),
            ("resolution_median_s", self.timing.median_resolution_s),
            ("tickets_responded", self.timing.responded),
            ("tickets_resolved", self.timing.resolved),
        ):
            writer.writerow([name, "", language, "", "" if value is None else round(value)])
        for marker in self.markers:
            writer.writerow([f"marker_{marker.kind}", marker.day, language, marker.label, 1])
        return out.getvalue()


def period_days(days: int, today: dt.date) -> list[dt.date]:
    return [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def _start_utc(day: dt.date) -> dt.datetime:
    """The first moment of a Baku day, in UTC (what the timestamp columns are compared with)."""
    return dt.datetime.combine(day, dt.time(), BAKU).astimezone(dt.UTC)


def _baku_day(moment: dt.datetime) -> dt.date:
    return as_utc(moment).astimezone(BAKU).date()


def _per_day(days: list[dt.date], moments: Iterable[dt.datetime]) -> list[int]:
    index = {day: i for i, day in enumerate(days)}
    result = [0] * len(days)
    for moment in moments:
        if (i := index.get(_baku_day(moment))) is not None:
            result[i] += 1
    return result


class Reports:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def overview(self, period: int, language: str | None, today: dt.date | None = None) -> Overview:
        days = period_days(period, today or baku_today())
        first, last = days[0], days[-1]
        before = first - dt.timedelta(days=period - 1)  # as many whole days as the period has before today
        start, end = _start_utc(first), _start_utc(last + dt.timedelta(days=1))
        index = {day: i for i, day in enumerate(days)}

        def in_language(column: Any) -> Any:
            return column == language if language else true()

        async with self._sessions() as session:
            counted = (
                await session.execute(
                    select(UsageCount.day, UsageCount.channel, UsageCount.outcome, UsageCount.entry, UsageCount.count)
                    .where(UsageCount.day >= before, UsageCount.day <= last)
                    .where(in_language(UsageCount.language))
                )
            ).all()
            talks = (
                await session.execute(
                    select(UsageConversation.day, func.sum(UsageConversation.count))
                    .where(UsageConversation.day >= first, UsageConversation.day <= last)
                    .where(in_language(UsageConversation.language))
                    .group_by(UsageConversation.day)
                )
            ).all()
            votes = {key: v.of(language) for key, v in (await vote_counts(session, since=start, until=end)).items()}
            unanswered = (
                await session.execute(
                    select(Unanswered.created_at)
                    .where(Unanswered.created_at >= start, Unanswered.created_at < end)
                    .where(in_language(Unanswered.language))
                )
            ).scalars()
            unanswered_per_day = _per_day(days, unanswered)
            tickets = (
                await session.execute(
                    select(Ticket.created_at, Ticket.first_response_at, Ticket.resolved_at)
                    .where(Ticket.created_at >= start, Ticket.created_at < end)
                    .where(in_language(Ticket.language))
                )
            ).all()
            publishes = (
                await session.execute(
                    select(Revision.created_at, Revision.key)
                    .where(Revision.action == "publish", Revision.created_at >= start, Revision.created_at < end)
                    .order_by(Revision.created_at)
                )
            ).all()
            swaps = (
                await session.execute(
                    select(Rollout.finished_at, Rollout.to_model)
                    .where(Rollout.status == "done", Rollout.finished_at >= start, Rollout.finished_at < end)
                    .order_by(Rollout.finished_at)
                )
            ).all()
            questions = await self._questions(session, language or "en")

        conversations = [0] * len(days)
        for day, n in talks:
            conversations[index[day]] = int(n)
        outcomes = {outcome: [0] * len(days) for outcome in OUTCOMES}
        by_channel: Counter[str] = Counter()
        asked: Counter[str] = Counter()
        asked_whole_days: Counter[str] = Counter()
        asked_before: Counter[str] = Counter()
        for day, channel, outcome, entry, n in counted:
            if day < first:
                if entry:
                    asked_before[entry] += n
                continue
            outcomes.setdefault(outcome, [0] * len(days))[index[day]] += n
            by_channel[channel] += n
            if entry:
                asked[entry] += n
                if day < last:
                    asked_whole_days[entry] += n
        messages = [sum(per_day[i] for per_day in outcomes.values()) for i in range(len(days))]

        def figures(key: str) -> EntryFigures:
            return EntryFigures(
                key,
                questions.get(key, key),
                asked[key],
                *votes.get(key, (0, 0)),
                asked_whole_days[key],
                asked_before[key],
            )

        top = [figures(key) for key, _ in sorted(asked.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ENTRIES]]
        down = sorted((k for k, (_, n) in votes.items() if n), key=lambda k: (-votes[k][1], votes[k][0], k))
        markers = [Marker(_baku_day(moment), "publish", f"published {key}") for moment, key in publishes]
        markers += [Marker(_baku_day(moment), "model", f"model {name}") for moment, name in swaps]
        return Overview(
            days=days,
            language=language,
            conversations=conversations,
            messages=messages,
            outcomes=outcomes,
            by_channel=dict(by_channel),
            top=top,
            rated_down=[figures(key) for key in down[:RATED_DOWN]],
            unanswered=unanswered_per_day,
            tickets=_per_day(days, (opened for opened, _, _ in tickets)),
            timing=timing_of(tickets),
            markers=sorted(markers, key=lambda m: (m.day, m.kind, m.label)),
        )

    @staticmethod
    async def _questions(session: AsyncSession, language: str) -> dict[str, str]:
        """Each entry's question in `language`, for the tables' first column."""
        rows = await session.execute(
            select(Entry.key, EntryText.question)
            .join(EntryText, EntryText.entry_id == Entry.id)
            .where(EntryText.language == language)
        )
        return dict(rows.all())
