"""The engine's entry point (engine/serve.py) replaces two of Rasa's per-message steps with cheaper ones:
validating action server replies with one reused validator, and joining sparse features without SciPy's
hstack. Each must give exactly what Rasa's gives. It also hands Rasa the API token from the environment.
Runs in the engine's environment (Rasa lives there), all parts in one interpreter (start-up is seconds)."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from assistant.launcher import ENGINE_TOKEN_VARIABLE, Stack, loopback_settings
from tests.engine_env import run_in_engine_env

pytestmark = pytest.mark.slow  # runs code in Rasa's environment: seconds of imports per test

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
result = {"rasa": rasa, "ours": outcomes(),
          "replaced": RemoteAction._validate_action_result.__module__ == "engine.serve"}
"""

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
result = {"rasa": rasa, "ours": joined(), "replaced": Features._combine_sparse_features.__module__}
"""

TOKEN = """
from rasa.__main__ import create_argument_parser
from engine.serve import TOKEN_VARIABLE, with_auth_token

def token(argv, environ):
    args = create_argument_parser().parse_args(with_auth_token(argv, environ)[1:])
    return {"token": args.auth_token, "environ": environ}

run = ["rasa", "run", "--enable-api"]
result = {
    "dash": token(run, {TOKEN_VARIABLE: "-Ab_c9", "HOME": "/h"}),
    "given": token([*run, "--auth-token", "mine"], {TOKEN_VARIABLE: "other"}),
    "none": token(run, {}),
}
"""


@pytest.fixture(scope="module")
def engine() -> dict:
    """Each part's `result`, each part run in its own namespace."""
    parts = {"validate": SCRIPT, "features": FEATURES, "token": TOKEN}
    return run_in_engine_env(f"""
import json
results = {{}}
for name, code in json.loads({json.dumps(json.dumps(parts))}).items():
    namespace = {{}}
    exec(code, namespace)
    results[name] = namespace["result"]
print(json.dumps(results))
""")


@pytest.fixture
def outcomes(engine) -> dict:
    return engine["validate"]


@pytest.fixture
def joined(engine) -> dict:
    return engine["features"]


def test_the_engine_validates_action_replies_as_rasa_does(outcomes):
    assert outcomes["replaced"]
    assert outcomes["ours"] == outcomes["rasa"]
    assert outcomes["ours"]["empty"] is True and outcomes["ours"]["answer"] is True
    refused = [name for name, outcome in outcomes["ours"].items() if outcome is not True]
    assert sorted(refused) == ["events not a list", "response not an object", "unknown event"]
    assert all("Failed to validate Action server response" in outcomes["ours"][name] for name in refused)


def test_the_engine_joins_sparse_features_as_rasa_does(joined):
    assert joined["replaced"] == "engine.serve"
    assert joined["ours"] == joined["rasa"]
    assert joined["ours"]["float"]["shape"] == [5, 110] and joined["ours"]["int and float"]["dtype"] == "float64"
    assert "do not match" in joined["ours"]["mismatch"]


def test_the_api_token_reaches_rasa_from_the_environment_even_when_it_starts_with_a_dash(engine):
    # Before: `--auth-token -Ab…` on the command line, which Rasa's parser refused (exit 2, 1 start in 64).
    assert engine["token"]["dash"] == {"token": "-Ab_c9", "environ": {"HOME": "/h"}}  # and not passed on
    assert engine["token"]["given"]["token"] == "mine"
    assert engine["token"]["none"]["token"] is None


def test_the_launcher_keeps_the_token_off_the_engine_command_line(tmp_path):
    settings = loopback_settings(tmp_path, engine_api_token=SecretStr("-s3cret"))
    engine = next(s for s in Stack(settings, tmp_path / "m.tar.gz", with_emulator=False).plan() if s.name == "engine")
    assert not any("s3cret" in arg for arg in engine.argv)  # `ps` shows argv to every local user
    assert engine.env[ENGINE_TOKEN_VARIABLE] == "-s3cret"
