"""What staff type and press, read the same whichever chat it comes from, and what it does to a ticket."""

import pytest

from core.bootstrap import open_database
from core.data_key import sealer
from handoff.service import Handoff, HandoffError
from handoff.staff import StaffAction, StaffCommand, carry_out, staff_note


@pytest.fixture
async def handoff(db_settings):
    database = await open_database(db_settings)
    yield Handoff(database.sessions, sealer(db_settings))
    await database.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/take", StaffCommand(StaffAction.TAKE)),
        ("/TAKE@MigrationBot", StaffCommand(StaffAction.TAKE)),
        ("/escalate  needs a decision ", StaffCommand(StaffAction.ESCALATE, "needs a decision")),
        ("/resolve", StaffCommand(StaffAction.RESOLVE)),
        ("/start", None),
        ("/takeover", None),
        ("take", None),
        ("", None),
    ],
)
def test_commands_are_read_and_others_left_alone(text, expected):
    assert StaffCommand.parse(text) == expected


def test_escalating_needs_a_reason_and_notes_stay_among_staff():
    assert StaffCommand(StaffAction.ESCALATE).lacks_note
    assert not StaffCommand(StaffAction.ESCALATE, "why").lacks_note
    assert not StaffCommand(StaffAction.RESOLVE).lacks_note
    assert staff_note("! check the passport first") == "check the passport first"
    assert staff_note("Hello, how can I help?") is None
    # The buttons' codes are the actions' values: a press and a typed command are one thing.
    assert {action.value for action in StaffAction} == {"take", "esc", "done"}


async def test_the_first_reply_takes_a_waiting_ticket_for_its_writer(handoff):
    ticket, _ = await handoff.open_ticket(5, "az", "asked")
    await handoff.staff_replied(ticket.id, "sam", "Salam, necə kömək edə bilərəm?")
    taken = await handoff.get(ticket.id)
    assert taken.state == "assigned" and taken.assignee == "sam"
    assert [line.author for line in taken.messages] == ["staff:sam"]
    # Another's reply is recorded but does not take it from sam.
    await handoff.staff_replied(ticket.id, "kim", "I am here too")
    assert (await handoff.get(ticket.id)).assignee == "sam"
    assert (await handoff.timing()).median_first_response_s is not None


async def test_carrying_out_commands_follows_the_ticket_state(handoff):
    ticket, _ = await handoff.open_ticket(6, "ru", "not_understood")
    assert (await carry_out(handoff, ticket.id, "sam", StaffCommand(StaffAction.TAKE))).assignee == "sam"
    with pytest.raises(HandoffError, match="note"):
        await carry_out(handoff, ticket.id, "sam", StaffCommand(StaffAction.ESCALATE))
    escalated = await carry_out(handoff, ticket.id, "sam", StaffCommand(StaffAction.ESCALATE, "a decision"))
    assert escalated.queue == "officers" and escalated.state == "waiting"
    resolved = await carry_out(handoff, ticket.id, "olga", StaffCommand(StaffAction.RESOLVE))
    assert resolved.state == "resolved" and resolved.assignee == "olga"
    with pytest.raises(HandoffError, match="resolved"):
        await carry_out(handoff, ticket.id, "olga", StaffCommand(StaffAction.TAKE))
