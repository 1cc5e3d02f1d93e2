"""The engine's entry point (engine/serve.py) validates action server replies with one reused validator
instead of Rasa's `jsonschema.validate` per reply. It must accept and refuse exactly what Rasa does.
Runs in the engine's environment (Rasa lives there, not here)."""

from __future__ import annotations

import pytest

from tests.engine_env import run_in_engine_env

SCRIPT = """
import json
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from engine.serve import validate_action_results_with_one_validator

replies = {
    "empty": {},
    "answer": {"events": [{"event": "slot", "name": "language", "value": "az"},
                          {"event": "bot", "text": "Salam", "data": {}}],
               "responses": [{"text": "Salam", "buttons": [{"title": "1", "payload": "/x"}]}]},
    "unknown event": {"events": [{"event": "not-an-event"}]},
    "events not a list": {"events": {"event": "slot"}},
    "response not an object": {"responses": ["text"]},
}

def outcomes():
    action, result = RemoteAction("action_x", None), {}
    for name, reply in replies.items():
        try:
            result[name] = action._validate_action_result(reply)
        except ValidationError as error:
            result[name] = error.message
    return result

rasa = outcomes()
validate_action_results_with_one_validator()
print(json.dumps({"rasa": rasa, "ours": outcomes(),
                  "replaced": RemoteAction._validate_action_result.__module__ == "engine.serve"}))
"""


@pytest.fixture(scope="module")
def outcomes() -> dict:
    return run_in_engine_env(SCRIPT)


def test_the_engine_validates_action_replies_as_rasa_does(outcomes):
    assert outcomes["replaced"]
    assert outcomes["ours"] == outcomes["rasa"]
    assert outcomes["ours"]["empty"] is True and outcomes["ours"]["answer"] is True
    refused = [name for name, outcome in outcomes["ours"].items() if outcome is not True]
    assert sorted(refused) == ["events not a list", "response not an object", "unknown event"]
    assert all("Failed to validate Action server response" in outcomes["ours"][name] for name in refused)
