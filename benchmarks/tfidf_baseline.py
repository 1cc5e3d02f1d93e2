"""The baseline: TF-IDF (word and character n-grams) + logistic regression, the very model the engine's
LexicalBlend component mixes in (engine/lexical.py): one classifier over every intent and every FAQ entry
(`faq/<entry>`). Runs in .venv-rasa, which has scikit-learn.

    .venv-rasa/bin/python -m benchmarks.tfidf_baseline --train train.json --C 10 --solver lbfgs \
        --input texts.json --output preds.json

train.json: [{"text", "intent", "entry"}]; the output has the same shape as benchmarks/rasa_predict.py's.
With `--sentence-features S` (> 0) it is the engine's lexical model as config.yml has it: the linear model
also reads each text's sentence vector (engine/sentence_encoder.py) times S; the time per text then includes
computing the vector.
"""

from __future__ import annotations

import json
import time

from benchmarks.rasa_predict import run_cli
from engine.blend import split_fine
from engine.lexical import Scorer, build, fit


def predict_all(args, texts: list[str]) -> list[dict]:
    with open(args.train, encoding="utf-8") as f:
        train = json.load(f)
    labels = [f"faq/{t['entry']}" if t.get("entry") else t["intent"] for t in train]
    scale = float(args.sentence_features)
    encoder = None
    if scale:
        from engine.sentence_encoder import SentenceEncoder

        encoder = SentenceEncoder()
    vectors = (lambda batch: encoder.encode(batch) * scale) if encoder else (lambda batch: None)
    train_texts = [t["text"] for t in train]
    scorer = Scorer(fit(build(float(args.C), args.solver), train_texts, labels, vectors(train_texts)))
    results = []
    for text in texts:
        started = time.perf_counter()
        row = scorer([text], vectors([text]))[0]
        elapsed_ms = (time.perf_counter() - started) * 1000
        intents, entries = split_fine(dict(zip(scorer.labels, (float(p) for p in row), strict=True)))
        ranked = sorted(intents.items(), key=lambda x: -x[1])
        results.append(
            {
                "intent": ranked[0][0],
                "confidence": ranked[0][1],
                "ranking": [[k, p] for k, p in ranked[:5]],
                "faq_ranking": [k for k, _ in sorted(entries.items(), key=lambda x: -x[1])[:5]],
                "intent_scores": intents,
                "faq_scores": entries,
                "entities": [],
                "ms": elapsed_ms,
            }
        )
    return results


def main() -> None:
    run_cli(
        predict_all,
        {"sentence-features": "0"},
        train='JSON list of {"text", "intent", "entry"}',
        C="the inverse regularisation strength",
        solver="scikit-learn's solver (lbfgs: multinomial; liblinear: one-vs-rest)",
    )


if __name__ == "__main__":
    main()
