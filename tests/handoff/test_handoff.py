"""Tickets on both database backends: one per chat, take, escalate, resolve, timing, redacted listing."""

import pytest

from core.bootstrap import open_database
from core.data_key import sealer
from handoff.service import Handoff, HandoffError


@pytest.fixture
async def handoff(db_settings):
    database = await open_database(db_settings)
    yield Handoff(database.sessions, sealer(db_settings))
    await database.close()


async def test_one_open_ticket_per_chat_with_the_transcript(handoff):
    ticket, created = await handoff.open_ticket(42, "ru", "asked", [("user", "помогите"), ("bot", "…")])
    again, created_again = await handoff.open_ticket(42, "ru", "asked")
    assert created and not created_again and again.id == ticket.id
    assert (await handoff.open_ticket_for(42)).id == ticket.id
    assert await handoff.open_ticket_for(43) is None
    assert [m.author for m in (await handoff.get(ticket.id)).messages] == ["user", "bot"]


async def test_take_escalate_resolve_and_timing(handoff):
    ticket, _ = await handoff.open_ticket(7, "en", "not_understood")
    await handoff.take(ticket.id, "sam")
    with pytest.raises(HandoffError, match="already taken"):
        await handoff.take(ticket.id, "kim")
    await handoff.add_message(ticket.id, "staff:sam", "Hello, how can I help?")
    with pytest.raises(HandoffError, match="note"):
        await handoff.escalate(ticket.id, "sam", " ")
    escalated = await handoff.escalate(ticket.id, "sam", "needs a decision on the permit")
    assert escalated.queue == "officers" and escalated.state == "waiting" and escalated.assignee is None
    with pytest.raises(HandoffError, match="already with the officers"):
        await handoff.escalate(ticket.id, "sam", "again")
    await handoff.take(ticket.id, "olga")
    resolved = await handoff.resolve(ticket.id, "olga")
    assert resolved.state == "resolved" and resolved.resolved_at is not None
    with pytest.raises(HandoffError, match="resolved"):
        await handoff.add_message(ticket.id, "user", "late message")
    timing = await handoff.timing()
    assert timing.tickets == 1 and timing.median_first_response_s is not None
    assert timing.median_resolution_s >= timing.median_first_response_s
    # A resolved ticket frees the chat: asking again opens a new one.
    fresh, created = await handoff.open_ticket(7, "en", "asked")
    assert created and fresh.id != ticket.id


async def test_listing_redacts_personal_data(handoff):
    ticket, _ = await handoff.open_ticket(9, "az", "sensitive_topic", [("user", "FIN 5ZK2L9B, pasport C01234567")])
    (row,) = await handoff.listing(queue="support", state="waiting")
    assert row["id"] == ticket.id
    preview = " ".join(text for _, text in row["preview"])
    assert "5ZK2L9B" not in preview and "C01234567" not in preview and "[ID]" in preview
    assert await handoff.listing(queue="officers") == []


async def test_topics_map_back_to_tickets(handoff):
    ticket, _ = await handoff.open_ticket(11, "en", "asked")
    assert await handoff.without_topic() == [ticket.id]
    assert await handoff.claim_topic(ticket.id, -100123, 55)
    assert not await handoff.claim_topic(ticket.id, -100123, 57), "a second process must not re-map the ticket"
    assert (await handoff.by_topic(-100123, 55)).id == ticket.id
    assert await handoff.by_topic(-100123, 56) is None
    assert await handoff.without_topic() == []
    await handoff.forget_topic(ticket.id, 55)
    assert await handoff.by_topic(-100123, 55) is None and await handoff.without_topic() == [ticket.id]


async def test_escalation_moves_the_ticket_out_of_its_topic_and_ratings_are_the_users_own(handoff):
    ticket, _ = await handoff.open_ticket(12, "ru", "asked")
    await handoff.claim_topic(ticket.id, -100123, 60)
    await handoff.add_message(ticket.id, "staff:rita", "internal", kind="note")
    assert (await handoff.get(ticket.id)).first_response_at is None, "a staff note is not a response"
    escalated = await handoff.escalate(ticket.id, "rita", "needs an officer")
    assert escalated.topic_id is None and escalated.queue == "officers"
    assert not await handoff.rate(ticket.id, 12, 1), "only a resolved ticket is rated"
    await handoff.resolve(ticket.id, "omar")
    assert not await handoff.rate(ticket.id, 99, 1), "another chat cannot rate it"
    assert await handoff.rate(ticket.id, 12, -1)
    assert not await handoff.rate(ticket.id, 12, 1), "rated once"
    assert (await handoff.get(ticket.id)).rating == -1
