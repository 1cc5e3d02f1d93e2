"""The baseline: TF-IDF (word and character n-grams) + logistic regression, one model for intents and one
for the FAQ entries. Runs in .venv-rasa, which has scikit-learn.

    .venv-rasa/bin/python -m benchmarks.tfidf_baseline --train train.json --input texts.json --output preds.json

train.json: [{"text", "intent", "entry"}]; the output has the same shape as benchmarks/rasa_predict.py's.
"""

from __future__ import annotations

import json
import time

from benchmarks.rasa_predict import run_cli


def build():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", lowercase=True, ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", lowercase=True, ngram_range=(2, 4), sublinear_tf=True),
    )
    return make_pipeline(features, LogisticRegression(C=10.0, max_iter=2000))


def predict_all(args, texts: list[str]) -> list[dict]:
    with open(args.train, encoding="utf-8") as f:
        train = json.load(f)
    intents = build().fit([t["text"] for t in train], [t["intent"] for t in train])
    faq = [t for t in train if t.get("entry")]
    entries = build().fit([t["text"] for t in faq], [t["entry"] for t in faq])
    results = []
    for text in texts:
        started = time.perf_counter()
        intent_p = intents.predict_proba([text])[0]
        entry_p = entries.predict_proba([text])[0]
        elapsed_ms = (time.perf_counter() - started) * 1000
        ranked = sorted(zip(intents.classes_, intent_p), key=lambda x: -x[1])[:5]
        ranked_entries = [k for k, _ in sorted(zip(entries.classes_, entry_p), key=lambda x: -x[1])[:5]]
        results.append({
            "intent": ranked[0][0], "confidence": float(ranked[0][1]),
            "ranking": [[k, float(p)] for k, p in ranked], "faq_ranking": ranked_entries,
            "entities": [], "ms": elapsed_ms,
        })
    return results


def main() -> None:
    run_cli(predict_all, train='JSON list of {"text", "intent", "entry"}')


if __name__ == "__main__":
    main()
