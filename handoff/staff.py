"""What staff do to a ticket, whichever chat they do it from: the commands they type (`/take`, `/escalate
why`, `/resolve`), the buttons that do the same, and notes that stay among staff ("!…")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handoff.service import Handoff, TicketView


class StaffAction(StrEnum):
    # The values are the buttons' codes (core.protocol.TicketAction).
    TAKE = "take"
    ESCALATE = "esc"
    RESOLVE = "done"


COMMANDS = {"take": StaffAction.TAKE, "escalate": StaffAction.ESCALATE, "resolve": StaffAction.RESOLVE}
NOTE_MARK = "!"


@dataclass(frozen=True)
class StaffCommand:
    action: StaffAction
    note: str = ""

    @classmethod
    def parse(cls, text: str) -> StaffCommand | None:
        """`/escalate@OurBot the reason` → (escalate, "the reason"); None for any other text or command (the
        staff's own business)."""
        if not text.startswith("/"):
            return None
        command, _, rest = text.partition(" ")
        action = COMMANDS.get(command[1:].split("@", 1)[0].lower())
        return cls(action, rest.strip()) if action else None

    @property
    def lacks_note(self) -> bool:
        """Escalating needs a word for the officers on why."""
        return self.action is StaffAction.ESCALATE and not self.note


def staff_note(text: str) -> str | None:
    """The note of a message meant for staff only, or None for a reply to the user."""
    return text[len(NOTE_MARK) :].strip() if text.startswith(NOTE_MARK) else None


async def carry_out(tickets: Handoff, ticket_id: int, staff: str, command: StaffCommand) -> TicketView:
    """Applies the command to the ticket; raises HandoffError with the reason when the ticket's state refuses it."""
    if command.action is StaffAction.TAKE:
        return await tickets.take(ticket_id, staff)
    if command.action is StaffAction.ESCALATE:
        return await tickets.escalate(ticket_id, staff, command.note)
    return await tickets.resolve(ticket_id, staff)
