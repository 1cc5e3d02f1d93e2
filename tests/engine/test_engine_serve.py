"""The engine's entry point (engine/serve.py) replaces two of Rasa's per-message steps with cheaper ones:
validating action server replies with one reused validator, and joining sparse features without SciPy's
hstack. Each must give exactly what Rasa's gives. It also hands Rasa the API token from the environment,
makes the gateway channel refuse unsigned messages and signs the calls to the action server.
Runs in the engine's environment (Rasa lives there), all parts in one interpreter (start-up is seconds)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from assistant.launcher import ENGINE_TOKEN_VARIABLE, Stack, loopback_settings
from core.settings import PROJECT_ROOT
from tests.support.engine_env import run_in_engine_env

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


# The gateway channel served by Sanic as Rasa serves it, and called as anyone on the network could call it.
CHANNEL = """
import asyncio, json, socket, time
import aiohttp
from sanic import Sanic
from rasa.core.channels.channel import register
from engine.channel import GatewayInput
from core.hop_auth import HopGuard, sign

SECRET = "s3cret-for-the-channel"

class Agent:
    def __init__(self):
        self.senders, self.parses = [], []
    async def parse_message(self, text):
        return {"text": text, "intent": {"name": "inform", "confidence": 1.0}, "entities": []}
    async def handle_message(self, message):
        self.senders.append(message.sender_id)
        self.parses.append((message.parse_data or {}).get("text"))
        await message.output_channel.send_text_message(message.sender_id, "Status: approved")

async def probe(guard):
    GatewayInput.require_signatures(guard)
    app = Sanic("hop_probe")
    app.ctx.agent = Agent()
    register([GatewayInput()], app, route="/webhooks/")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    url = f"http://127.0.0.1:{port}/webhooks/gateway/webhook"
    body = json.dumps({"sender": "424242", "message": "02.11.1985"}).encode()
    calls = {
        "unsigned": {},
        "forged": sign("guessed", body),
        "stale": sign(SECRET, body, now=time.time() - 3600),
        "signed": sign(SECRET, body),
    }
    statuses, replies = {}, []
    async with aiohttp.ClientSession() as session:
        for name, headers in calls.items():
            async with session.post(url, data=body, headers={"Content-Type": "application/json", **headers}) as r:
                statuses[name] = r.status
                replies.append(await r.json(content_type=None))
        async with session.get(f"http://127.0.0.1:{port}/webhooks/gateway/") as r:
            statuses["health"] = r.status
    server.close()
    return {"statuses": statuses, "replies": replies, "handled": app.ctx.agent.senders,
            "parses": app.ctx.agent.parses,
            "refused": dict(GatewayInput.guard.refusals.counts)}

unconfigured = GatewayInput.guard.refusal(sign(SECRET, b"{}"), b"{}")  # `rasa run` without engine.serve
result = {**asyncio.run(probe(HopGuard("gateway -> engine", SECRET))), "unconfigured": unconfigured}
"""

# Rasa's endpoint client (RemoteAction's) against a server that keeps the raw bytes it received.
SIGNING = """
import asyncio, json, socket, zlib
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig
from engine.serve import sign_action_server_calls
from core.hop_auth import verify

SECRET = "actions-secret"

async def probe():
    seen = []
    async def webhook(request):
        body = await request.read()
        deflated = request.headers.get("Content-Encoding") == "deflate"
        seen.append({"refusal": verify(SECRET, request.headers, body), "deflated": deflated,
                     "call": json.loads(zlib.decompress(body) if deflated else body)})
        return web.json_response({"events": [], "responses": []})
    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app, auto_decompress=False)  # as rasa-sdk's Sanic: the bytes as sent
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    endpoint = EndpointConfig.from_dict({"url": f"http://127.0.0.1:{port}/webhook"})
    call = {"next_action": "action_status", "sender_id": "7001", "tracker": {"text": "Привет"}}
    replies = [await endpoint.request(json=call, method="post", timeout=5)]
    sign_action_server_calls(SECRET)
    replies.append(await endpoint.request(json=call, method="post", timeout=5))
    replies.append(await endpoint.request(json=call, method="post", timeout=5, compress=True))
    await runner.cleanup()
    return {"replies": replies, "seen": seen, "call": call}

result = asyncio.run(probe())
"""

# What engine/serve.py's main does with the environment before Rasa starts.
HOPS = """
from rasa.utils.endpoints import EndpointConfig
from engine.channel import GatewayInput
from engine.serve import authenticate_hops

environ = {"ENGINE_HOP_SECRET": "inbound", "ACTIONS_HOP_SECRET": "outbound", "HOME": "/h"}
authenticate_hops(environ)
result = {"environ": environ, "inbound": GatewayInput.guard.secret, "signing": EndpointConfig.request.__module__}
"""


@pytest.fixture(scope="module")
def engine() -> dict:
    """Each part's `result`, each part run in its own namespace (HOPS last: it patches Rasa for good)."""
    parts = {
        "validate": SCRIPT,
        "features": FEATURES,
        "token": TOKEN,
        "channel": CHANNEL,
        "signing": SIGNING,
        "hops": HOPS,
    }
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


def test_the_gateway_channel_answers_only_signed_messages(engine):
    """Before: anyone who reached the engine got a case status for any sender, invented ones too."""
    probe = engine["channel"]
    assert probe["statuses"] == {"unsigned": 401, "forged": 401, "stale": 401, "signed": 200, "health": 200}
    assert probe["handled"] == ["424242"]  # the signed one only
    assert probe["parses"] == ["02.11.1985"]  # parsed once by the channel, and Rasa is handed that parse
    assert probe["replies"][-1] == [{"recipient_id": "424242", "text": "Status: approved"}]
    assert probe["refused"] == {"missing": 1, "invalid": 1, "stale": 1}
    # An engine started without the secret answers nobody rather than everybody.
    assert probe["unconfigured"] == "unconfigured"


def test_the_engine_signs_the_exact_bytes_it_sends_the_action_server(engine):
    unsigned, signed, deflated = engine["signing"]["seen"]
    assert unsigned["refusal"] == "missing"  # Rasa's own client, before the patch
    assert signed["refusal"] is None and not signed["deflated"]
    assert deflated["refusal"] is None and deflated["deflated"]  # compression before signing
    assert signed["call"] == deflated["call"] == engine["signing"]["call"]  # the same call as Rasa's
    assert engine["signing"]["replies"] == [{"events": [], "responses": []}] * 3


def test_the_engine_takes_its_hop_secrets_out_of_its_environment(engine):
    hops = engine["hops"]
    assert hops["environ"] == {"HOME": "/h"}  # not passed on to anything the engine starts
    assert hops["inbound"] == "inbound"
    assert hops["signing"] == "engine.serve"


def test_rasa_reads_the_store_passwords_from_the_engines_environment_not_from_the_file(tmp_path):
    """endpoints.yml once held the database's and Redis' passwords; now it names the engine's variables."""
    settings = loopback_settings(
        tmp_path,
        database_url="postgresql+asyncpg://assistant:db-pa$$-w0rd@127.0.0.1:5432/assistant",
        redis_url="redis://:redis-pa55@127.0.0.1:6379/0",
    )
    engine = next(s for s in Stack(settings, tmp_path / "m.tar.gz", with_emulator=False).plan() if s.name == "engine")
    endpoints = engine.argv[engine.argv.index("--endpoints") + 1]
    written = Path(endpoints).read_text(encoding="utf-8")
    assert "db-pa$$-w0rd" not in written and "redis-pa55" not in written
    script = f"""
import json
from rasa.utils.endpoints import read_endpoint_config
stores = [read_endpoint_config({endpoints!r}, kind) for kind in ("tracker_store", "lock_store")]
print(json.dumps([store.kwargs["password"] for store in stores]))
"""
    done = subprocess.run(
        [engine.argv[0], "-c", script], cwd=PROJECT_ROOT, env=engine.env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["db-pa$$-w0rd", "redis-pa55"]
