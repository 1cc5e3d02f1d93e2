"""A message read with the conversation's subject (engine/context.py): the marker the model is trained with, the
parse the engine's channel hands the actions, and how the actions read it."""

from __future__ import annotations

import pytest
import yaml

from engine.context import CONTEXT, from_metadata, marked, marker, to_metadata, with_context
from engine.questions import Parsed
from knowledge.schema import SEED_DIR, load_dir
from knowledge.training_data import render_nlu
from tests.engine_env import run_in_engine_env


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


def test_the_reading_mixes_the_entries_but_keeps_the_plain_intent():
    plain = Parsed("out_of_scope", 0.2, (("temporary_residence_fees", 0.6), ("work_permit_fees_quota", 0.1)))
    in_context = Parsed("faq", 0.9, (("work_permit_fees_quota", 0.8), ("work_permit_how", 0.1)))
    mixed = with_context(plain, in_context, 0.25)
    assert (mixed.intent, mixed.faq_share) == ("out_of_scope", 0.2)  # "no" after an answer stays "no"
    assert mixed.top == ("work_permit_fees_quota", pytest.approx(0.625))
    assert dict(mixed.entries)["temporary_residence_fees"] == pytest.approx(0.15)


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


CHANNEL = """
import asyncio, json, time
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
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

QUESTION = {"intent": {"name": "out_of_scope"}, "intent_ranking": [{"name": "out_of_scope", "confidence": 0.7}]}
THANKS = {"intent": {"name": "thanks"}, "intent_ranking": [{"name": "thanks", "confidence": 0.99}]}

async def case(events, text="and how much is it?", parse=QUESTION):
    agent = Agent(events)
    return await channel.read_in_context(agent, "7001", text, parse), agent.parsed

async def main():
    recent = [UserUttered("how do I get a work permit"), answer("work_permit", 60), ActionExecuted("action_listen")]
    out = {}
    out["recent"] = await case(recent)
    out["stale"] = await case([answer("work_permit", 3600)])
    out["none"] = await case(None)
    out["no_subject"] = await case([answer(None, 5)])
    out["button"] = await case(recent, '/faq{"entry": "work_permit_how"}')
    out["thanks"] = await case(recent, "thank you!", THANKS)
    class Broken:
        @property
        def tracker_store(self): raise RuntimeError("store down")
    out["broken"] = await channel.read_in_context(Broken(), "7001", "and the fee?", QUESTION)
    return out

print(json.dumps(asyncio.run(main())))
"""


def test_the_engine_parses_a_message_with_the_subject_of_a_recent_answer():
    result = run_in_engine_env(CHANNEL)
    context, parsed = result["recent"]
    assert parsed == ["ctxworkpermit and how much is it?"]
    assert context["subject"] == "work_permit" and context["entries"][0][0] == "work_permit_fees_quota"
    for case in ("stale", "none", "no_subject", "button", "thanks"):
        assert result[case] == [None, []], case  # no answer, an old one, a button, no question: the message alone
    assert result["broken"] is None  # the conversation unreadable: the message is still handled
