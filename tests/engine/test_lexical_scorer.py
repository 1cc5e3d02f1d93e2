"""The engine's lexical model scores a message with its own product of the weights (engine/lexical.py Scorer)
instead of scikit-learn's predict_proba, which copies the weight matrix on every call. The two must agree.
Runs in the engine's environment (scikit-learn lives there, not here)."""

from __future__ import annotations

import pytest

from tests.support.engine_env import run_in_engine_env

pytestmark = pytest.mark.slow  # runs code in Rasa's environment: seconds of imports per test

SCRIPT = """
import json
from engine.lexical import Scorer, build

texts = ["how much is the fee", "fee for a permit", "rüsum nə qədərdir", "сколько стоит пошлина",
         "hello", "salam", "привет", "hi there", "thanks a lot", "çox sağ ol", "спасибо",
         "where is the office", "ofis haradadır", "где находится отдел"]
labels = ["faq/fee", "faq/fee", "faq/fee", "faq/fee", "greet", "greet", "greet", "greet", "thanks", "thanks",
          "thanks", "faq/office", "faq/office", "faq/office"]
probe = ["what fee do I pay", "salam, rüsum?", "спасибо, где отдел", "", "🙂", "x" * 5000]
result = {}
for name, solver, data in (("multinomial", "lbfgs", (texts, labels)), ("ovr", "liblinear", (texts, labels)),
                           ("binary", "lbfgs", (texts[:8], labels[:8]))):
    model = build(100.0, solver).fit(*data)
    scorer = Scorer(model)
    ours, theirs = scorer(probe), model.predict_proba(probe)
    result[name] = {"fast": scorer._weights is not None, "labels": scorer.labels == list(model.classes_),
                    "difference": float(abs(ours - theirs).max()), "sums": [float(s) for s in ours.sum(axis=1)]}
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def comparison() -> dict:
    return run_in_engine_env(SCRIPT)


def test_the_fast_path_gives_scikit_learns_probabilities(comparison):
    multinomial = comparison["multinomial"]
    assert multinomial["fast"] and multinomial["labels"]
    assert multinomial["difference"] < 1e-12
    assert all(abs(s - 1) < 1e-9 for s in multinomial["sums"])


def test_other_models_go_through_scikit_learn_unchanged(comparison):
    for name in ("ovr", "binary"):
        assert not comparison[name]["fast"] and comparison[name]["labels"]
        assert comparison[name]["difference"] == 0.0


UNKNOWN_WORDS = """
import json
from rasa.shared.nlu.training_data.message import Message
from engine.lexical import LexicalBlend, build

texts = ["how much is the fee", "fee for a permit", "hello", "salam", "thanks a lot", "спасибо"]
labels = ["faq/fee", "faq/fee", "greet", "greet", "thanks", "thanks"]
model = build(100.0).fit(texts, labels)
on, off = LexicalBlend({"unknown_words_fallback": 3}, None, None, model), LexicalBlend({}, None, None, model)
probe = ["zxqv blorft wuggle", "Салом, ба ман кӯмак лозим", "salam blorft wuggle", "blorft wuggle", "heyo", "",
         "🙂 🙂 🙂"]
messages = []
for text in ("zxqv blorft wuggle", "how much is the fee"):
    ranking = [{"name": "out_of_scope", "confidence": 0.6}, {"name": "greet", "confidence": 0.4}]
    message = Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})
    on.process([message])
    messages.append([i["name"] for i in message.get("intent_ranking")][:3])
print(json.dumps({"on": [on.unknown_words(t) for t in probe], "off": [off.unknown_words(t) for t in probe],
                  "rankings": messages}))
"""


@pytest.fixture(scope="module")
def unknown() -> dict:
    return run_in_engine_env(UNKNOWN_WORDS)


def test_three_or_more_words_none_known_are_not_understood(unknown):
    # gibberish and Tajik: not understood; one known word, two words, one, none: left to the models
    assert unknown["on"] == [True, True, False, False, False, False, False]
    assert unknown["off"] == [False] * 7


def test_a_message_not_understood_keeps_the_models_ranking_after_the_fallback(unknown):
    gibberish, question = unknown["rankings"]
    assert gibberish[0] == "nlu_fallback" and "nlu_fallback" not in gibberish[1:]
    assert question[0] == "faq"
