"""The life of a ticket: opened once per chat, taken, escalated to officers, resolved; timed throughout.

A chat has at most one open ticket: asking for a person twice does not make two. While it is open the
assistant stays silent for that chat (the gateway asks `open_ticket_for`), and the state lives in the
database, so a restarted gateway goes on relaying.

At rest a ticket holds no personal data in clear: the transcript's lines and the escalation note are
encrypted with the data key, the chat id is a keyed hash (to find the chat's ticket) beside an encrypted copy
(to write to the user) — see core/data_key.py. We encrypt rather than redact because staff need the words
as written (a passport number, a phone number) to help, in the ticket's topic and in the topic an escalation
makes later; only this service decrypts, and hands out `TicketView`s with the plain values. A value that no
configured key decrypts (a key dropped too early while rotating) is shown as UNREADABLE and logged by ticket
number: the rest of the ticket, and every other ticket, still works, and the user's messages are still relayed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.data_key import DataKeyError, Sealer
from core.db import as_utc
from core.privacy import redact
from handoff.models import QUEUES, REASONS, Ticket, TicketMessage

log = logging.getLogger(__name__)
UNREADABLE = "[unreadable: encrypted with a key no longer configured]"


class HandoffError(Exception):
    """A refused step, with a message fit for staff."""


@dataclass(frozen=True)
class Timing:
    tickets: int
    median_first_response_s: float | None  # over the tickets answered so far…
    median_resolution_s: float | None
    responded: int  # …which are these many
    resolved: int


def timing_of(tickets: Iterable[tuple[dt.datetime, dt.datetime | None, dt.datetime | None]]) -> Timing:
    """Median seconds to the first staff reply and to resolution over tickets' (opened, first response,
    resolved), over the tickets that have them."""
    rows = list(tickets)
    first = [(as_utc(r) - as_utc(o)).total_seconds() for o, r, _ in rows if r is not None]
    done = [(as_utc(d) - as_utc(o)).total_seconds() for o, _, d in rows if d is not None]
    return Timing(len(rows), median(first) if first else None, median(done) if done else None, len(first), len(done))


@dataclass(frozen=True)
class TranscriptLine:
    author: str
    kind: str
    text: str
    created_at: dt.datetime


@dataclass(frozen=True)
class TicketView:
    """A ticket as staff and the gateway see it: decrypted, detached from the database."""

    id: int
    chat_id: int | None  # None: encrypted with a key no longer configured, nothing can be sent to the user
    language: str
    queue: str
    state: str
    reason: str
    assignee: str | None
    escalation_note: str | None
    staff_chat_id: int | None
    topic_id: int | None
    created_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    rating: int | None
    messages: list[TranscriptLine]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Handoff:
    def __init__(self, sessions: async_sessionmaker, sealer: Sealer) -> None:
        self._sessions = sessions
        self._sealer = sealer

    def _open(self, token: str, what: str, unreadable: list[str]) -> str:
        """The value decrypted, or UNREADABLE (noting `what` in `unreadable`)."""
        try:
            return self._sealer.open(token)
        except DataKeyError:
            unreadable.append(what)
            return UNREADABLE

    @staticmethod
    def _report(ticket_id: int, unreadable: list[str]) -> None:
        if unreadable:  # which values, never what they hold
            counted = {what: unreadable.count(what) for what in unreadable}
            log.warning(
                "ticket %s: %s not decrypted (encrypted with a data key no longer configured)",
                ticket_id,
                ", ".join(what if n == 1 else f"{n}× {what}" for what, n in counted.items()),
            )

    def _view(self, ticket: Ticket, chat_id: int | None = None) -> TicketView:
        """The ticket decrypted; `chat_id` when the caller knows it (then its encrypted copy is not read)."""
        unreadable: list[str] = []
        if chat_id is None:
            try:
                chat_id = self._sealer.open_chat(ticket.chat_sealed)
            except DataKeyError:
                unreadable.append("chat id")
        note = self._open(ticket.escalation_note, "note", unreadable) if ticket.escalation_note else None
        lines = [
            TranscriptLine(m.author, m.kind, self._open(m.text, "transcript line", unreadable), as_utc(m.created_at))
            for m in ticket.messages
        ]
        self._report(ticket.id, unreadable)
        return TicketView(
            id=ticket.id,
            chat_id=chat_id,
            language=ticket.language,
            queue=ticket.queue,
            state=ticket.state,
            reason=ticket.reason,
            assignee=ticket.assignee,
            escalation_note=note,
            staff_chat_id=ticket.staff_chat_id,
            topic_id=ticket.topic_id,
            created_at=as_utc(ticket.created_at),
            first_response_at=as_utc(ticket.first_response_at) if ticket.first_response_at else None,
            resolved_at=as_utc(ticket.resolved_at) if ticket.resolved_at else None,
            rating=ticket.rating,
            messages=lines,
        )

    def _line(self, author: str, text: str, kind: str = "text") -> TicketMessage:
        return TicketMessage(author=author, kind=kind, text=self._sealer.seal(text))

    def _open_in(self, chat_id: int) -> Select[Ticket]:
        """The query for the chat's open ticket."""
        return select(Ticket).where(Ticket.chat_hash == self._sealer.chat_hash(chat_id), Ticket.state != "resolved")

    async def open_ticket(
        self, chat_id: int, language: str, reason: str, transcript: Sequence[tuple[str, str]] = ()
    ) -> tuple[TicketView, bool]:
        """The chat's open ticket, creating it (with the transcript so far) if none; (ticket, created)."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        async with self._sessions() as session, session.begin():
            existing = await session.scalar(self._open_in(chat_id))
            if existing is not None:
                return self._view(existing, chat_id), False
            ticket = Ticket(
                chat_hash=self._sealer.chat_hash(chat_id),
                chat_sealed=self._sealer.seal_chat(chat_id),
                language=language,
                reason=reason,
                queue="support",
                state="waiting",
            )
            ticket.messages = [self._line(author, text) for author, text in transcript]
            session.add(ticket)
            await session.flush()
            return self._view(ticket, chat_id), True

    async def open_ticket_for(self, chat_id: int) -> TicketView | None:
        async with self._sessions() as session:
            ticket = await session.scalar(self._open_in(chat_id))
            return self._view(ticket, chat_id) if ticket is not None else None

    async def get(self, ticket_id: int) -> TicketView | None:
        async with self._sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
            return self._view(ticket) if ticket is not None else None

    async def claim_topic(self, ticket_id: int, staff_chat_id: int, topic_id: int) -> bool:
        """Gives the ticket this topic unless it already has one (another process may have made it first)."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.topic_id.is_(None), Ticket.state != "resolved")
                .values(staff_chat_id=staff_chat_id, topic_id=topic_id)
            )
            return result.rowcount == 1

    async def forget_topic(self, ticket_id: int, topic_id: int) -> None:
        """The topic is gone (deleted or closed by hand in Telegram): the next relay makes a new one."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.topic_id == topic_id)
                .values(staff_chat_id=None, topic_id=None)
            )

    async def without_topic(self) -> list[int]:
        """Open tickets that still need their staff topic (Telegram failed when they were opened)."""
        async with self._sessions() as session:
            rows = await session.scalars(select(Ticket.id).where(Ticket.state != "resolved", Ticket.topic_id.is_(None)))
            return list(rows)

    async def by_topic(self, staff_chat_id: int, topic_id: int) -> TicketView | None:
        async with self._sessions() as session:
            ticket = await session.scalar(
                select(Ticket).where(Ticket.staff_chat_id == staff_chat_id, Ticket.topic_id == topic_id)
            )
            return self._view(ticket) if ticket is not None else None

    async def add_message(self, ticket_id: int, author: str, text: str, kind: str = "text") -> None:
        """Records a line; the first line from staff to the user (not a staff note) sets the first-response time."""
        async with self._sessions() as session, session.begin():
            self._record(await self._ticket(session, ticket_id), author, text, kind)

    async def staff_replied(self, ticket_id: int, staff: str, text: str, kind: str = "text") -> None:
        """Records what staff sent the user; the first reply to a waiting ticket takes it for whoever wrote it (in
        the same transaction as the line)."""
        async with self._sessions() as session, session.begin():
            ticket = await self._ticket(session, ticket_id)
            self._record(ticket, f"staff:{staff}", text, kind)
            if ticket.state == "waiting":
                ticket.state, ticket.assignee = "assigned", staff

    def _record(self, ticket: Ticket, author: str, text: str, kind: str) -> None:
        if ticket.state == "resolved":
            raise HandoffError("This ticket is resolved.")
        ticket.messages.append(self._line(author, text, kind))
        if author.startswith("staff:") and kind != "note" and ticket.first_response_at is None:
            ticket.first_response_at = _now()

    async def take(self, ticket_id: int, staff: str) -> TicketView:
        async with self._sessions() as session, session.begin():
            ticket = await self._ticket(session, ticket_id)
            if ticket.state == "resolved":
                raise HandoffError("This ticket is resolved.")
            if ticket.state == "assigned" and ticket.assignee != staff:
                raise HandoffError(f"{ticket.assignee} has already taken this ticket.")
            ticket.state, ticket.assignee = "assigned", staff
            await session.flush()
            return self._view(ticket)

    async def escalate(self, ticket_id: int, staff: str, note: str) -> TicketView:
        """Support hands the ticket to the officers' queue with a note; it waits there to be taken."""
        if not note.strip():
            raise HandoffError("Say in a note why officers are needed.")
        async with self._sessions() as session, session.begin():
            ticket = await self._ticket(session, ticket_id)
            if ticket.state == "resolved":
                raise HandoffError("This ticket is resolved.")
            if ticket.queue == "officers":
                raise HandoffError("This ticket is already with the officers.")
            ticket.queue, ticket.state, ticket.assignee = "officers", "waiting", None
            ticket.escalation_note = self._sealer.seal(note)
            ticket.staff_chat_id = ticket.topic_id = None  # the officers' group gives it a topic of its own
            ticket.messages.append(self._line("system", f"escalated by {staff}: {note}"))
            await session.flush()
            return self._view(ticket)

    async def resolve(self, ticket_id: int, staff: str) -> TicketView:
        async with self._sessions() as session, session.begin():
            ticket = await self._ticket(session, ticket_id)
            if ticket.state == "resolved":
                raise HandoffError("This ticket is resolved already.")
            ticket.state, ticket.resolved_at = "resolved", _now()
            ticket.assignee = ticket.assignee or staff
            await session.flush()
            return self._view(ticket)

    async def rate(self, ticket_id: int, chat_id: int, value: int) -> bool:
        """The user's rating of the people's help: once, only by the ticket's own chat, only when resolved."""
        if value not in (1, -1):
            return False
        async with self._sessions() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id)
            if (
                ticket is None
                or ticket.chat_hash != self._sealer.chat_hash(chat_id)
                or ticket.state != "resolved"
                or ticket.rating
            ):
                return False
            ticket.rating = value
            return True

    async def transcript(self, ticket_id: int) -> tuple[TicketView, list[tuple[str, str, str, dt.datetime]]] | None:
        """A ticket and its whole transcript, redacted: (author, kind, text, when) per line."""
        ticket = await self.get(ticket_id)
        if ticket is None:
            return None
        return ticket, [(m.author, m.kind, redact(m.text), m.created_at) for m in ticket.messages]

    @staticmethod
    def _listed(queue: str | None, state: str | None) -> Select[Ticket]:
        if queue is not None and queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        stmt = select(Ticket)
        if queue:
            stmt = stmt.where(Ticket.queue == queue)
        if state:
            stmt = stmt.where(Ticket.state == state)
        return stmt

    async def count(self, queue: str | None = None, state: str | None = None) -> int:
        async with self._sessions() as session:
            return await session.scalar(select(func.count()).select_from(self._listed(queue, state).subquery())) or 0

    async def listing(
        self, queue: str | None = None, state: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[dict]:
        """Tickets for the queue view, the newest first, with the transcript's last lines redacted; `offset` and
        `limit`: one page of them (only that page's transcripts are read and decrypted)."""
        async with self._sessions() as session:
            stmt = self._listed(queue, state).order_by(Ticket.created_at.desc(), Ticket.id.desc())
            tickets = (await session.scalars(stmt.offset(offset).limit(limit))).all()
            listed = []
            for t in tickets:
                unreadable: list[str] = []
                preview = [
                    (m.author, redact(self._open(m.text, "transcript line", unreadable))) for m in t.messages[-3:]
                ]
                self._report(t.id, unreadable)
                listed.append(
                    {
                        "id": t.id,
                        "queue": t.queue,
                        "state": t.state,
                        "language": t.language,
                        "reason": t.reason,
                        "assignee": t.assignee,
                        "created_at": as_utc(t.created_at),
                        "rating": t.rating,
                        "first_response_at": as_utc(t.first_response_at) if t.first_response_at else None,
                        "resolved_at": as_utc(t.resolved_at) if t.resolved_at else None,
                        "preview": preview,
                    }
                )
            return listed

    async def timing(self, queue: str | None = None) -> Timing:
        """Median seconds to the first staff reply and to resolution, over the tickets that have them."""
        stmt = select(Ticket.created_at, Ticket.first_response_at, Ticket.resolved_at)
        async with self._sessions() as session:
            rows = (await session.execute(stmt if queue is None else stmt.where(Ticket.queue == queue))).all()
        return timing_of(rows)

    async def _ticket(self, session, ticket_id: int) -> Ticket:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise HandoffError("No such ticket.")
        return ticket
