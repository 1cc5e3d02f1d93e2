"""Runs inside the engine's environment (.venv-rasa): parses texts with a trained Rasa model.

    .venv-rasa/bin/python -m benchmarks.rasa_predict --model M.tar.gz --input texts.json --output preds.json

Input: a JSON list of texts. Output: one object per text with the final intent (after the fallback
classifier), the intent ranking, the FAQ entries ranked by the response selector, the entities, and the
parse time in milliseconds. This environment has Rasa's pinned libraries only: of ours, only `engine` (the
code the engine itself runs), whose Rasa patches apply here as in the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


async def predict(model: str, texts: list[str]) -> list[dict]:
    from engine.serve import patch_rasa

    patch_rasa()
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    results = []
    for text in texts:
        started = time.perf_counter()
        parsed = await agent.parse_message(text)
        elapsed_ms = (time.perf_counter() - started) * 1000
        selectors = parsed.get("response_selector") or {}
        # Our config names the retrieval intent; Rasa's default pipeline trains one selector called "default".
        selector = selectors.get("faq") or selectors.get("default") or {}
        faq_scores = {
            r.get("intent_response_key", "").partition("/")[2]: r.get("confidence")
            for r in selector.get("ranking") or []
        }
        faq_scores.pop("", None)
        results.append(
            {
                "intent": (parsed.get("intent") or {}).get("name"),
                "confidence": (parsed.get("intent") or {}).get("confidence"),
                "ranking": [[r.get("name"), r.get("confidence")] for r in parsed.get("intent_ranking") or []][:5],
                "faq_ranking": list(faq_scores)[:5],
                # Whole distributions (as far as the config reports them), for mixing in the benchmark.
                "intent_scores": {
                    r.get("name"): r.get("confidence")
                    for r in parsed.get("intent_ranking") or []
                    if r.get("name") != "nlu_fallback"
                },
                "faq_scores": faq_scores,
                "entities": [[e.get("entity"), str(e.get("value"))] for e in parsed.get("entities") or []],
                "ms": elapsed_ms,
            }
        )
    return results


def quiet_structlog() -> None:
    """Rasa's structlog events (a parsed message's text among them) at ERROR and above, through logging.

    Unconfigured, structlog prints every event, debug included, straight to stdout: past the redacting log
    record factory (`engine` installs it), so the texts parsed here reached the benchmark's log in clear.
    `rasa run` configures it like this itself; loading a model through `Agent` does not."""
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)


def run_cli(predict_all, optional: dict[str, str] | None = None, **options: str) -> None:
    """--input texts.json --output predictions.json plus `options` (name -> help), and `optional` ones
    (name -> default); shared with the baseline."""
    parser = argparse.ArgumentParser()
    for name, help_text in {**options, "input": "JSON list of texts", "output": "where predictions go"}.items():
        parser.add_argument(f"--{name}", required=True, help=help_text)
    for name, default in (optional or {}).items():
        parser.add_argument(f"--{name}", default=default, help=f"default {default}")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    quiet_structlog()
    with open(args.input, encoding="utf-8") as f:
        texts = json.load(f)
    results = predict_all(args, texts)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


def main() -> None:
    run_cli(lambda args, texts: asyncio.run(predict(args.model, texts)), model="a trained model (.tar.gz)")


if __name__ == "__main__":
    main()
