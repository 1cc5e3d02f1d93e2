"""A message read with the conversation's subject (engine/context.py): the marker the model is trained with, the
parse the engine's channel hands the actions, and how the actions read it."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from engine.context import (
    CONTEXT,
    from_metadata,
    marked,
    marker,
    plainly_not_a_question,
    to_metadata,
    with_context,
)
from engine.questions import Parsed
from knowledge.schema import SEED_DIR, load_dir
from knowledge.training_data import render_nlu
from tests.support.engine_env import run_in_engine_env
from training.trainer import other_intents


def test_a_marker_is_one_word_whatever_the_subject():
    assert marker("work_permit") == "ctxworkpermit"
    assert marked("temporary_residence", "  and  the fee? ") == "ctxtemporaryresidence and the fee?"


def test_the_context_parse_survives_the_metadata_and_junk_is_ignored():
    parsed = Parsed("faq", 0.9, tuple((f"entry_{i}", 1 / 40) for i in range(40)))
    subject, back = from_metadata({CONTEXT: to_metadata("visa", parsed)}) or ("", None)
    assert subject == "visa" and back is not None
    assert back.intent == "faq" and len(back.entries) == 25  # only the likeliest entries are kept
    for junk in (None, {}, {CONTEXT: "x"}, {CONTEXT: {"subject": 5}}, {CONTEXT: {"subject": "v", "entries": [[1]]}}):
        assert from_metadata(junk) is None


def test_the_reading_mixes_the_entries_and_takes_the_question_the_conversation_makes():
    plain = Parsed("out_of_scope", 0.2, (("temporary_residence_fees", 0.6), ("work_permit_fees_quota", 0.1)))
    in_context = Parsed("faq", 0.9, (("work_permit_fees_quota", 0.8), ("work_permit_how", 0.1)))
    mixed = with_context(plain, in_context, 0.25)
    assert (mixed.intent, mixed.faq_share) == ("faq", 0.9)  # "and how much?" is a question in a conversation
    assert mixed.top == ("work_permit_fees_quota", pytest.approx(0.625))
    assert dict(mixed.entries)["temporary_residence_fees"] == pytest.approx(0.15)
    # Read as "no" in the conversation too, or a question too faintly: the message's own reading stays.
    for other in (replace(in_context, intent="deny", faq_share=0.3), replace(in_context, faq_share=0.4)):
        assert (with_context(plain, other, 0.25).intent, with_context(plain, other, 0.25).faq_share) == (
            "out_of_scope",
            0.2,
        )
    # Asking for a person or for the status stays that, however unsure.
    for own in ("human_handoff", "check_status"):
        assert with_context(replace(plain, intent=own), in_context, 0.25).intent == own
    # A question stays a question whatever the conversation makes of it.
    question = Parsed("faq", 0.7, plain.entries)
    assert with_context(question, replace(in_context, intent="thanks", faq_share=0.01), 0.5).intent == "faq"


def test_a_confident_greeting_is_not_read_again_but_an_unsure_one_is():
    assert plainly_not_a_question(Parsed("thanks", 0.0, (), 0.99))
    assert not plainly_not_a_question(Parsed("cancel", 0.1, (), 0.4))  # "kəbin kəsdirsək kifayətdir?"
    assert not plainly_not_a_question(Parsed("out_of_scope", 0.1, (), 0.99))  # out of scope alone: maybe not here


def examples() -> dict[str, list[str]]:
    document = yaml.safe_load(render_nlu(load_dir(SEED_DIR)))
    return {item["intent"].removeprefix("faq/"): item["examples"].splitlines() for item in document["nlu"]}


def test_follow_ups_are_trained_after_their_subjects_marker_and_questions_after_others():
    trained = examples()
    fees = trained["work_permit_fees_quota"]
    follow_ups = [x for x in fees if x.startswith("- ctxworkpermit ")]
    others = [x for x in fees if x.startswith("- ctx") and not x.startswith("- ctxworkpermit ")]
    assert len(follow_ups) >= 3 * 8  # the follow-ups of every language
    assert 3 <= len(others) <= 9  # a few full questions after another subject's marker, per language
    assert trained == examples()  # the same examples on every run: the model's fingerprint depends on them
    every = [x for lines in trained.values() for x in lines]
    assert len(every) == len(set(every))  # no example under two entries


def test_the_other_intents_are_trained_after_a_subjects_marker_too():
    written = other_intents()
    assert {"thanks", "deny", "out_of_scope", "greet", "check_status"} <= set(written)
    document = yaml.safe_load(render_nlu(load_dir(SEED_DIR), written))
    marked_ = {i["intent"]: i["examples"].splitlines() for i in document["nlu"] if not i["intent"].startswith("faq")}
    subjects = {marker(e.subjects[0] if e.subjects else e.topic) for e in load_dir(SEED_DIR)}
    for intent, examples_ in written.items():
        lines = marked_[intent]
        # About the knowledge base's share of all examples, each after one of the subjects' markers.
        assert 0.4 * len(examples_) <= len(lines) <= 0.8 * len(examples_), intent
        assert all(line.split()[1] in subjects and " ".join(line.split()[2:]) in examples_ for line in lines)
    assert "ctx" in " ".join(marked_["choose_language"]) and "](language)" in " ".join(marked_["choose_language"])
    assert yaml.safe_load(render_nlu(load_dir(SEED_DIR), written)) == document  # the same on every run


CHANNEL = """
import asyncio, json, time
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from engine import channel

def answer(subject, age):
    return BotUttered("", {"custom": {"type": "answer", "entry": "work_permit_how", "subject": subject}},
                      timestamp=time.time() - age)

class Store:
    def __init__(self, events): self.events = events
    async def retrieve(self, sender_id):
        return DialogueStateTracker.from_events(sender_id, self.events) if self.events is not None else None

class Agent:
    def __init__(self, events):
        self.tracker_store, self.parsed = Store(events), []
    async def parse_message(self, text):
        self.parsed.append(text)
        return {"intent": {"name": "faq"}, "intent_ranking": [{"name": "faq", "confidence": 0.9}],
                "response_selector": {"faq": {"ranking": [
                    {"intent_response_key": "faq/work_permit_fees_quota", "confidence": 0.8}]}}}

QUESTION = {"intent": {"name": "out_of_scope", "confidence": 0.7},
            "intent_ranking": [{"name": "out_of_scope", "confidence": 0.7}], "entities": [{"entity": "x"}]}
THANKS = {"intent": {"name": "thanks", "confidence": 0.99}, "intent_ranking": [{"name": "thanks", "confidence": 0.99}]}
UNSURE = {"intent": {"name": "cancel", "confidence": 0.3}, "intent_ranking": [{"name": "cancel", "confidence": 0.3}]}
FAQ = {"intent": {"name": "faq", "confidence": 0.6}, "intent_ranking": [{"name": "faq", "confidence": 0.6}]}

async def case(events, text="and how much is it?", parse=QUESTION):
    agent = Agent(events)
    handed, context = await channel.read_in_context(agent, "7001", text, parse)
    return handed["intent"]["name"], context, agent.parsed, handed.get("entities")

async def main():
    recent = [UserUttered("how do I get a work permit"), answer("work_permit", 60), ActionExecuted("action_listen")]
    out = {}
    out["recent"] = await case(recent)
    out["stale"] = await case([answer("work_permit", 3600)])
    out["none"] = await case(None)
    out["no_subject"] = await case([answer(None, 5)])
    out["button"] = await case(recent, '/faq{"entry": "work_permit_how"}')
    out["thanks"] = await case(recent, "thank you!", THANKS)
    out["unsure"] = await case(recent, "kebin kesdirsek kifayetdir?", UNSURE)
    out["faq"] = await case(recent, "and the documents?", FAQ)
    in_form = recent + [ActiveLoop("status_form")]
    out["in_form"] = await case(in_form, "AZE1234567")
    # Read directly, so that a failure to read the form shows rather than passing for "no context".
    out["subjects"] = [await channel.subject_of_last_answer(Agent(events), "7001") for events in (recent, in_form)]
    class Broken:
        @property
        def tracker_store(self): raise RuntimeError("store down")
    handed, context = await channel.read_in_context(Broken(), "7001", "and the fee?", QUESTION)
    out["broken"] = [handed["intent"]["name"], context]
    return out

print(json.dumps(asyncio.run(main())))
"""


def test_the_engine_parses_a_message_with_the_subject_of_a_recent_answer():
    result = run_in_engine_env(CHANNEL)
    intent, context, parsed, entities = result["recent"]
    assert parsed == ["ctxworkpermit and how much is it?"]
    assert context["subject"] == "work_permit" and context["entries"][0][0] == "work_permit_fees_quota"
    # Out of scope alone, a question in the conversation: Rasa acts on the question; the entities stay the
    # message's own (the marker would shift their positions).
    assert intent == "faq" and entities == [{"entity": "x"}]
    assert result["unsure"][0] == "faq" and result["unsure"][2] == ["ctxworkpermit kebin kesdirsek kifayetdir?"]
    assert result["faq"][0] == "faq" and result["faq"][1]["subject"] == "work_permit"
    expected = {"stale": "out_of_scope", "none": "out_of_scope", "no_subject": "out_of_scope", "button": "out_of_scope",
                "thanks": "thanks", "in_form": "out_of_scope"}  # fmt: skip
    for case, alone in expected.items():
        # No answer, an old one, a button, a plain "thanks", a form's question answered: the message alone.
        assert result[case][:3] == [alone, None, []], case
    assert result["subjects"] == ["work_permit", None]  # inside a form, no subject
    assert result["broken"] == ["out_of_scope", None]  # the conversation unreadable: the message is still handled
