"""The life of a ticket: opened once per chat, taken, escalated to officers, resolved; timed throughout.

A chat has at most one open ticket: asking for a person twice does not make two. While it is open the
assistant stays silent for that chat (the gateway asks `open_ticket_for`), and the state lives in the
database, so a restarted gateway goes on relaying.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from assistant.db import as_utc
from assistant.privacy import redact
from handoff.models import QUEUES, REASONS, Ticket, TicketMessage


class HandoffError(Exception):
    """A refused step, with a message fit for staff."""


@dataclass(frozen=True)
class Timing:
    tickets: int
    median_first_response_s: float | None
    median_resolution_s: float | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Handoff:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def open_ticket(
        self, chat_id: int, language: str, reason: str, transcript: Sequence[tuple[str, str]] = ()
    ) -> tuple[Ticket, bool]:
        """The chat's open ticket, creating it (with the transcript so far) if none; (ticket, created)."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        async with self._sessions() as session, session.begin():
            existing = await session.scalar(select(Ticket).where(Ticket.chat_id == chat_id, Ticket.state != "resolved"))
            if existing is not None:
                return existing, False
            ticket = Ticket(chat_id=chat_id, language=language, reason=reason, queue="support", state="waiting")
            ticket.messages = [TicketMessage(author=author, text=text) for author, text in transcript]
            session.add(ticket)
            await session.flush()
            return ticket, True

    async def open_ticket_for(self, chat_id: int) -> Ticket | None:
        async with self._sessions() as session:
            return await session.scalar(select(Ticket).where(Ticket.chat_id == chat_id, Ticket.state != "resolved"))

    async def get(self, ticket_id: int) -> Ticket | None:
        async with self._sessions() as session:
            return await session.get(Ticket, ticket_id)

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

    async def by_topic(self, staff_chat_id: int, topic_id: int) -> Ticket | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(Ticket).where(Ticket.staff_chat_id == staff_chat_id, Ticket.topic_id == topic_id)
            )

    async def add_message(self, ticket_id: int, author: str, text: str, kind: str = "text") -> None:
        """Records a line; the first line from staff to the user (not a staff note) sets the first-response time."""
        async with self._sessions() as session, session.begin():
            ticket = await self._ticket(session, ticket_id)
            if ticket.state == "resolved":
                raise HandoffError("This ticket is resolved.")
            session.add(TicketMessage(ticket_id=ticket.id, author=author, text=text, kind=kind))
            if author.startswith("staff:") and kind != "note" and ticket.first_response_at is None:
                ticket.first_response_at = _now()

    async def take(self, ticket_id: int, staff: str) -> Ticket:
        async with self._sessions() as session, session.begin():
            ticket = await self._ticket(session, ticket_id)
            if ticket.state == "resolved":
                raise HandoffError("This ticket is resolved.")
            if ticket.state == "assigned" and ticket.assignee != staff:
                raise HandoffError(f"{ticket.assignee} has already taken this ticket.")
            ticket.state, ticket.assignee = "assigned", staff
            return ticket

    async def escalate(self, ticket_id: int, staff: str, note: str) -> Ticket:
        """Support hands the ticket to the officers' queue with a note; it waits there to be taken."""
        if not note.strip():
            raise HandoffError("Say in a note why officers are needed.")
        async with self._sessions() as session, session.begin():
            ticket = await self._ticket(session, ticket_id)
            if ticket.state == "resolved":
                raise HandoffError("This ticket is resolved.")
            if ticket.queue == "officers":
                raise HandoffError("This ticket is already with the officers.")
            ticket.queue, ticket.state, ticket.assignee, ticket.escalation_note = "officers", "waiting", None, note
            ticket.staff_chat_id = ticket.topic_id = None  # the officers' group gives it a topic of its own
            session.add(TicketMessage(ticket_id=ticket.id, author="system", text=f"escalated by {staff}: {note}"))
            return ticket

    async def resolve(self, ticket_id: int, staff: str) -> Ticket:
        async with self._sessions() as session, session.begin():
            ticket = await self._ticket(session, ticket_id)
            if ticket.state == "resolved":
                raise HandoffError("This ticket is resolved already.")
            ticket.state, ticket.resolved_at = "resolved", _now()
            ticket.assignee = ticket.assignee or staff
            return ticket

    async def rate(self, ticket_id: int, chat_id: int, value: int) -> bool:
        """The user's rating of the people's help: once, only by the ticket's own chat, only when resolved."""
        if value not in (1, -1):
            return False
        async with self._sessions() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None or ticket.chat_id != chat_id or ticket.state != "resolved" or ticket.rating:
                return False
            ticket.rating = value
            return True

    async def transcript(self, ticket_id: int) -> tuple[Ticket, list[tuple[str, str, str, dt.datetime]]] | None:
        """A ticket and its whole transcript, redacted: (author, kind, text, when) per line."""
        async with self._sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                return None
            return ticket, [(m.author, m.kind, redact(m.text), as_utc(m.created_at)) for m in ticket.messages]

    async def listing(self, queue: str | None = None, state: str | None = None) -> list[dict]:
        """Tickets for the queue view, with the transcript's last lines redacted."""
        if queue is not None and queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        async with self._sessions() as session:
            stmt = select(Ticket).order_by(Ticket.created_at)
            if queue:
                stmt = stmt.where(Ticket.queue == queue)
            if state:
                stmt = stmt.where(Ticket.state == state)
            tickets = (await session.scalars(stmt)).all()
            return [
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
                    "preview": [(m.author, redact(m.text)) for m in t.messages[-3:]],
                }
                for t in tickets
            ]

    async def timing(self, queue: str | None = None) -> Timing:
        """Median seconds to the first staff reply and to resolution, over the tickets that have them."""
        async with self._sessions() as session:
            stmt = select(Ticket) if queue is None else select(Ticket).where(Ticket.queue == queue)
            tickets = (await session.scalars(stmt)).all()
        first = [
            (as_utc(t.first_response_at) - as_utc(t.created_at)).total_seconds() for t in tickets if t.first_response_at
        ]
        resolved = [(as_utc(t.resolved_at) - as_utc(t.created_at)).total_seconds() for t in tickets if t.resolved_at]
        return Timing(len(tickets), median(first) if first else None, median(resolved) if resolved else None)

    async def _ticket(self, session, ticket_id: int) -> Ticket:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise HandoffError("No such ticket.")
        return ticket
