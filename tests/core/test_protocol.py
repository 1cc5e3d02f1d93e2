"""The wire between the engine and the gateway: every message kind and button kind encodes and decodes back,
and what is not ours is refused rather than half-read."""

from __future__ import annotations

import json

import pytest

from bot.rendering import render
from core import protocol

MESSAGES = [
    protocol.Say("too_long", {"length": 5000, "limit": 4000}, offer_human=True),
    protocol.Say("greet"),
    protocol.Answer(
        "visa_free_stay",
        "en",
        "How long can I stay?",
        "Up to 90 days.",
        "Migration Code, Art. 1",
        "https://migration.gov.az/en",
        "2026-11-24",
        "needs_review",
        "visa",
        (protocol.Option("visa_evisa_asan", "How do I get an e-visa?"),),
    ),
    protocol.DidYouMean((protocol.Option("a", "A?"), protocol.Option("b", "B?"))),
    protocol.Clarify("time", (protocol.Option("a", "A?", "work_permit"), protocol.Option("b", "B?", "visa"))),
    protocol.CaseStatus(
        "TRP-2026-000001", "temporary_residence", "approved", "2026-01-02", missing_documents=("photo",)
    ),
    protocol.CaseStatus("TRP-2026-000002", "work_permit", "in_review", subscribe=17),
    protocol.Handoff("asked"),
    protocol.SetLanguage("ru"),
    protocol.LanguageMenu(),
    protocol.FaqRef("visa_free_stay"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.kind)
def test_every_message_kind_survives_the_wire(message):
    travelled = json.loads(json.dumps(protocol.encode(message)))
    assert travelled["type"] == message.kind
    assert protocol.decode(travelled) == message


def test_flags_travel_only_when_set_and_unknown_fields_are_ignored():
    assert protocol.encode(protocol.Say("greet")) == {"type": "say", "key": "greet", "args": {}}
    assert protocol.decode({"type": "say", "key": "greet", "from_the_future": 1}) == protocol.Say("greet")


@pytest.mark.parametrize(
    "data",
    [
        None,
        "answer",
        {"type": "nonsense"},
        {"type": "say"},  # no key
        {"type": "answer"},  # no entry
        {"type": "case_status", "subscribe": "17"},
        {"type": "case_status", "subscribe": True},
    ],
)
def test_what_is_not_a_message_of_ours_is_refused(data):
    with pytest.raises(protocol.Malformed):
        protocol.decode(data)


def test_options_without_an_entry_are_dropped_not_rendered():
    message = protocol.decode({"type": "did_you_mean", "options": [{"question": "?"}, {"entry": "a", "question": "A"}]})
    assert message == protocol.DidYouMean((protocol.Option("a", "A"),))
    assert protocol.decode({"type": "did_you_mean", "options": "a,b"}) == protocol.DidYouMean(())


def test_the_gateway_leaves_out_what_it_cannot_read_and_renders_the_rest():
    rendered = render("en", [{"custom": {"type": "answer"}}, {"custom": protocol.encode(protocol.Say("greet"))}])
    assert len(rendered.messages) == 1 and not rendered.not_understood
    assert render("en", [{"custom": {"type": "faq_ref", "entry": "x"}}]).not_understood  # nothing shown


BUTTONS = [
    protocol.RateAnswer("visa_free_stay", True),
    protocol.RateAnswer("visa_free_stay", False),
    protocol.ChooseLanguage("az"),
    protocol.Subscribe(42),
    protocol.RateHandoff(7, False),
    protocol.TicketAction("esc", 9),
    protocol.SayToEngine.pick("visa_free_stay"),
    protocol.HUMAN_HANDOFF,
]
KINDS = (
    protocol.RateAnswer, protocol.ChooseLanguage, protocol.Subscribe, protocol.RateHandoff, protocol.TicketAction,
    protocol.SayToEngine,
)  # fmt: skip


@pytest.mark.parametrize("button", BUTTONS, ids=lambda b: b.data)
def test_every_button_parses_back_as_its_own_kind_only(button):
    assert len(button.data.encode()) <= protocol.MAX_BUTTON_BYTES
    assert type(button).parse(button.data) == button
    assert [kind for kind in KINDS if kind.matches(button.data)] == [type(button)]


@pytest.mark.parametrize(
    "data",
    ["", "rate:*:x", "rate:+:", "lang:english", "sub:abc", "sub:1;2", "hr:+:x", "tk:steal:1", "tk:take:", "x" * 64,
     "/" + "x" * 64, "ref:abcdef", "lang:ru\n"],
)  # fmt: skip
def test_forged_button_data_is_no_button_of_ours(data):
    assert not any(kind.matches(data) for kind in KINDS)
