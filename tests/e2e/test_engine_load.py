"""The engine loads its DIET and ResponseSelector models without Rasa's one-example training step
(engine/serve.py, `load_models_without_a_training_step`): the shipped model, loaded both ways in the engine's
environment, must give the same intents, rankings and FAQ selections for held-out texts in every language."""

from __future__ import annotations

import json

import pytest

from benchmarks.heldout import heldout
from knowledge.seeding import knowledge_base
from tests.e2e.conftest import e2e_settings
from tests.support.engine_env import run_in_engine_env
from training.trainer import ensure_model

SCRIPT = """
import asyncio, json, time
import skops.io
from rasa.core.agent import Agent
from rasa.utils.tensorflow.models import RasaModel
from engine.serve import load_models_without_a_training_step

MODEL, TEXTS = json.loads({arguments!r})

async def load_and_parse():
    started = time.monotonic()
    agent = Agent.load(MODEL)
    seconds = time.monotonic() - started
    parsed = []
    for text in TEXTS:
        result = await agent.parse_message(text)
        parsed.append({{"intent": result["intent"], "ranking": result.get("intent_ranking"),
                       "faq": (result.get("response_selector") or {{}}).get("faq", {{}}).get("ranking")}})
    return seconds, parsed

async def main():
    rasa_load = RasaModel.__dict__["load"]
    load_models_without_a_training_step()
    ours_s, ours = await load_and_parse()  # ours first: the first load also pays one-off costs
    replaced = RasaModel.__dict__["load"] is not rasa_load
    RasaModel.load = rasa_load
    rasa_s, rasa = await load_and_parse()
    print(json.dumps({{"ours": ours, "rasa": rasa, "replaced": replaced, "ours_s": ours_s, "rasa_s": rasa_s}}))

asyncio.run(main())
"""


def _same(ours, rasa, path="") -> list[str]:
    """Where the two parses differ (names exactly, confidences to 1e-6)."""
    if isinstance(ours, dict) and isinstance(rasa, dict):
        if ours.keys() != rasa.keys():
            return [f"{path}: keys {sorted(ours)} vs {sorted(rasa)}"]
        return [d for key in ours for d in _same(ours[key], rasa[key], f"{path}/{key}")]
    if isinstance(ours, list) and isinstance(rasa, list):
        if len(ours) != len(rasa):
            return [f"{path}: {len(ours)} vs {len(rasa)} items"]
        return [d for i, (a, b) in enumerate(zip(ours, rasa, strict=True)) for d in _same(a, b, f"{path}[{i}]")]
    if isinstance(ours, float) and isinstance(rasa, float):
        return [] if abs(ours - rasa) <= 1e-6 else [f"{path}: {ours} vs {rasa}"]
    return [] if ours == rasa else [f"{path}: {ours!r} vs {rasa!r}"]


@pytest.mark.e2e
async def test_the_engine_loads_models_faster_and_predicts_exactly_as_rasa_does(tmp_path):
    settings = e2e_settings(tmp_path)
    async with knowledge_base(settings) as kb:
        model = (await ensure_model(settings, kb)).model  # the suite's model, cached by fingerprint
    texts = [example.text for language in ("az", "ru", "en") for example in heldout((language,))[::12]]
    texts += ["", "ok", "😀😀", "x" * 500]
    outcome = run_in_engine_env(SCRIPT.format(arguments=json.dumps([str(model), texts])), timeout_s=600)
    assert outcome["replaced"]
    assert len(outcome["ours"]) == len(texts) > 40
    assert _same(outcome["ours"], outcome["rasa"]) == []
    intents = {parse["intent"]["name"] for parse in outcome["ours"]}
    assert {"faq", "greet"} <= intents  # a real model answering, not a constant
