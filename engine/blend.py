"""Mixing two classifiers' opinions: DIET/ResponseSelector (learned) and TF-IDF + LR (lexical).

Pure functions with no dependencies, so the gateway's tests and the benchmarks use the very code the engine
runs. The lexical model is trained on fine labels: every intent, and every FAQ entry as `faq/<entry>`.
Summed, its `faq/*` probabilities are the probability of the `faq` intent; renormalised, they rank entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def split_fine(
    probabilities: Mapping[str, float], retrieval_intent: str = "faq"
) -> tuple[dict[str, float], dict[str, float]]:
    """Fine-label probabilities -> (intent probabilities, entry probabilities summing to 1)."""
    prefix = f"{retrieval_intent}/"
    intents: dict[str, float] = {}
    entries: dict[str, float] = {}
    for label, p in probabilities.items():
        if label.startswith(prefix):
            entries[label[len(prefix) :]] = p
            intents[retrieval_intent] = intents.get(retrieval_intent, 0.0) + p
        else:
            intents[label] = intents.get(label, 0.0) + p
    total = sum(entries.values())
    if total > 0:
        entries = {k: v / total for k, v in entries.items()}
    return intents, entries


def mix(learned: Mapping[str, float], lexical: Mapping[str, float], weight: float) -> list[tuple[str, float]]:
    """weight·learned + (1 − weight)·lexical over the union of labels, best first (ties by name)."""
    labels: Iterable[str] = set(learned) | set(lexical)
    mixed = {k: weight * learned.get(k, 0.0) + (1 - weight) * lexical.get(k, 0.0) for k in labels}
    return sorted(mixed.items(), key=lambda kv: (-kv[1], kv[0]))
