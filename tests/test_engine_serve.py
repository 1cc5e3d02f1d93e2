"""The engine's entry point (engine/serve.py) replaces two of Rasa's per-message steps with cheaper ones:
validating action server replies with one reused validator, and joining sparse features without SciPy's
hstack. Each must give exactly what Rasa's gives. Runs in the engine's environment (Rasa lives there)."""

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


FEATURES = """
import json
import numpy as np
import scipy.sparse
from rasa.shared.nlu.training_data.features import Features
from engine.serve import combine_sparse_features_directly

def pairs():
    a = scipy.sparse.random(5, 40, density=0.2, format="coo", random_state=1)
    b = scipy.sparse.random(5, 70, density=0.1, format="coo", random_state=2)
    yield "float", a, b
    yield "int and float", scipy.sparse.coo_matrix(np.arange(10).reshape(5, 2)), b
    yield "empty", scipy.sparse.coo_matrix((5, 3)), a
    yield "csr", a.tocsr(), b
    yield "mismatch", a, scipy.sparse.random(4, 7, density=0.5, format="coo", random_state=3)

def joined():
    result = {}
    for name, left, right in pairs():
        first, second = Features(left, "sequence", "text", "x"), Features(right, "sequence", "text", "y")
        try:
            first.combine_with_features(second)
        except ValueError as error:
            result[name] = str(error)
            continue
        m = first.features
        result[name] = {"format": m.format, "shape": list(m.shape), "dtype": str(m.dtype), "data": m.data.tolist(),
                        "row": m.row.tolist(), "col": m.col.tolist()}
    return result

rasa = joined()
combine_sparse_features_directly()
print(json.dumps({"rasa": rasa, "ours": joined(), "replaced": Features._combine_sparse_features.__module__}))
"""


@pytest.fixture(scope="module")
def joined() -> dict:
    return run_in_engine_env(FEATURES)


def test_the_engine_joins_sparse_features_as_rasa_does(joined):
    assert joined["replaced"] == "engine.serve"
    assert joined["ours"] == joined["rasa"]
    assert joined["ours"]["float"]["shape"] == [5, 110] and joined["ours"]["int and float"]["dtype"] == "float64"
    assert "do not match" in joined["ours"]["mismatch"]
