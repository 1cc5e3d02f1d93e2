"""The benchmarks' arithmetic, and a smoke run of each benchmark with tiny sizes so they do not rot
(no timing is asserted: the numbers are the benchmarks' output, not a test's)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks import nlu_accuracy
from benchmarks.heldout import Example, strip_annotations
from benchmarks.metrics import REPORTS, accuracy, macro_f1, percentile, precision_recall
from benchmarks.nlu_accuracy import (
    PIPELINES,
    SEED,
    best_direct_rules,
    blended,
    direct_answers,
    direct_rule_grid,
    folds,
    held_and_rest,
    misses,
    score,
    seed_config,
    seed_means,
    training_examples,
    write_fold_training_data,
)
from benchmarks.typing_noise import noisy
from core.settings import PROJECT_ROOT
from engine.blend import mix, split_fine
from engine.folding import fold
from knowledge.conversation import DirectRule
from knowledge.schema import load_dir


def test_metrics_match_hand_computed_values():
    truth = ["a", "a", "b", "c"]
    predicted = ["a", "b", "b", "b"]
    assert accuracy(truth, predicted) == 0.5
    # F1: a = 2/3, b = 2/(2+2+0) = 0.5 (tp 1, fp 2), c = 0
    assert macro_f1(truth, predicted) == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    assert precision_recall(truth, predicted, "b") == pytest.approx((1 / 3, 1.0))
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5], 99) == 5 and math.isnan(percentile([], 50))


def test_annotations_are_stripped_and_kept_as_entities():
    text, entities = strip_annotations("status of [TRP-2026-000102](application_number) please")
    assert text == "status of TRP-2026-000102 please"
    assert entities == (("application_number", "TRP-2026-000102"),)


def test_scores_count_fallbacks_as_wrong_and_rank_faq_entries():
    examples = [
        Example("en", "x", "faq", "visa_free_stay"),
        Example("en", "y", "greet"),
        Example("en", "z", "check_status", entities=(("application_number", "TRP-2026-000102"),)),
    ]
    predictions = [
        {"intent": "faq", "faq_ranking": ["visa_evisa_asan", "visa_free_stay"], "entities": [], "ms": 5.0},
        {"intent": "nlu_fallback", "faq_ranking": [], "entities": [], "ms": 6.0},
        {
            "intent": "check_status",
            "faq_ranking": [],
            "entities": [["application_number", "trp 2026 000102"]],
            "ms": 7.0,
        },
    ]
    scores = score(examples, predictions)
    assert scores["intent_accuracy"] == pytest.approx(2 / 3) and scores["fallbacks"] == 1
    assert scores["faq_top1"] == 0.0 and scores["faq_top3"] == 1.0
    assert scores["application_number_f1"] == 1.0


def test_misses_list_wrong_intents_and_entries_outside_the_top_3_but_never_on_the_held_out_set():
    examples = [
        Example("en", "x", "faq", "visa_free_stay"),
        Example("en", "y", "greet"),
        Example("az", "z", "faq", "fees_overview"),
        Example("ru", "w", "thanks"),
    ]
    predictions = [
        {"intent": "faq", "faq_ranking": ["a", "b", "c", "visa_free_stay"]},
        {"intent": "out_of_scope", "faq_ranking": []},
        {"intent": "faq", "faq_ranking": ["b", "fees_overview"]},
        {"intent": "thanks", "faq_ranking": []},
    ]
    assert misses(examples, predictions) == [
        {"language": "en", "text": "x", "expected": "faq/visa_free_stay", "got": "top 3: a, b, c"},
        {"language": "en", "text": "y", "expected": "greet", "got": "out_of_scope"},
    ]
    with pytest.raises(SystemExit):
        nlu_accuracy.main(["--split", "heldout", "--misses"])


def test_folding_makes_azerbaijani_typed_without_its_letters_the_same_text():
    assert (
        fold("İcazə almaq üçün ŞƏHADƏTNAMƏ") == fold("icaze almaq ucun sehadetname") == "icaze almaq ucun sehadetname"
    )
    assert fold("Вид на жительство, ещё") == "вид на жительство, еще"
    # One character for one, so the tokenizer's offsets into the original text stay valid.
    assert len(fold("İşçi Ğ ı ö ü ç ş ə")) == len("İşçi Ğ ı ö ü ç ş ə")


def test_typing_noise_is_repeatable_and_leaves_numbers_exact():
    example = Example(
        "az",
        "TRP-2026-003310 nömrəli müraciətimin statusu nədir? Doğum tarixim 12.03.1990",
        "check_status",
        entities=(("application_number", "TRP-2026-003310"),),
    )
    twin = noisy(example)
    assert twin == noisy(example) and twin.intent == "check_status" and twin.entities == example.entities
    assert "trp-2026-003310" in twin.text and "12.03.1990" in twin.text
    assert not set(twin.text) & set("əığşçöüİ") and twin.text == twin.text.lower()
    assert noisy(Example("en", "How long can I stay without a visa?", "faq", "visa_free_stay")).text[-1] != "?"


def test_lexical_fine_labels_split_into_intents_and_a_normalised_entry_ranking():
    intents, entries = split_fine({"greet": 0.2, "faq/visa_free_stay": 0.6, "faq/visa_evisa_asan": 0.2})
    assert intents == {"greet": 0.2, "faq": pytest.approx(0.8)}
    assert entries == {"visa_free_stay": pytest.approx(0.75), "visa_evisa_asan": pytest.approx(0.25)}
    assert split_fine({"greet": 1.0}) == ({"greet": 1.0}, {})


def test_mixing_weights_the_two_opinions_over_the_union_of_labels():
    learned, lexical = {"faq": 0.6, "greet": 0.4}, {"greet": 0.7, "thanks": 0.3}
    assert mix(learned, lexical, 1.0)[:2] == [("faq", 0.6), ("greet", 0.4)]
    assert mix(learned, lexical, 0.0)[0] == ("greet", 0.7)
    mixed = dict(mix(learned, lexical, 0.5))
    assert mixed == {"faq": pytest.approx(0.3), "greet": pytest.approx(0.55), "thanks": pytest.approx(0.15)}


def test_the_benchmark_blends_like_the_engine_then_applies_the_fallback_rule():
    learned = {
        "intent": "faq",
        "entities": [],
        "ms": 1.0,
        "intent_scores": {"faq": 0.5, "greet": 0.5},
        "faq_scores": {"a": 0.6, "b": 0.4},
    }
    lexical = {"intent_scores": {"greet": 0.9, "faq": 0.1}, "faq_scores": {"b": 0.9, "c": 0.1}}
    fallback = {"threshold": 0.45, "ambiguity_threshold": 0.05}
    assert blended(learned, lexical, 0.5, 0.5, fallback)["intent"] == "greet"  # 0.7 vs 0.3
    assert blended(learned, lexical, 0.5, 0.5, fallback)["faq_ranking"] == ["b", "a", "c"]
    assert blended(learned, lexical, 1.0, 1.0, fallback)["intent"] == "nlu_fallback"  # a tie is ambiguous
    # thanks 0.5 against faq and greet at 0.25 each: sure enough
    assert (
        blended(learned, {"intent_scores": {"thanks": 1.0}, "faq_scores": {}}, 0.5, 0.5, fallback)["intent"] == "thanks"
    )


def test_direct_answers_use_the_actions_rule_and_count_only_faq_readings():
    def prediction(intent, scores):
        return {"intent": intent, "faq_scores": scores}

    faq = [
        (Example("en", "a?", "faq", "a"), prediction("faq", {"a": 0.62, "b": 0.30})),  # sure, right
        (Example("en", "b?", "faq", "b"), prediction("faq", {"a": 0.34, "b": 0.11})),  # far ahead, wrong
        (Example("en", "c?", "faq", "c"), prediction("faq", {"c": 0.34, "b": 0.30})),  # close: choices
        (Example("en", "d?", "faq", "d"), prediction("greet", {"d": 0.90})),  # not read as a question
    ]
    assert direct_answers(faq) == (0.5, 0.5)
    rate, precision = direct_answers(faq[2:])
    assert rate == 0.0 and math.isnan(precision)  # nothing answered at once: no precision to speak of
    # A looser rule answers the close call too (rightly), a stricter one only the sure answer.
    assert direct_answers(faq, DirectRule(0.3, 0.2, 1.1)) == pytest.approx((0.75, 2 / 3))
    assert direct_answers(faq, DirectRule(0.6, 0.5, 2.5)) == (0.25, 1.0)
    grid = direct_rule_grid([([e for e, _ in faq], [p for _, p in faq])])
    assert grid["0.5/0.3/2.5"] == [0.5, 0.5] and grid["0.6/0.4/3.0"] == [0.25, 1.0]
    front = best_direct_rules(grid)
    # Only rules no other beats on both counts, most answered first; every other rule is dominated.
    assert [(d, r) for _, d, r in front] == sorted({(d, r) for _, d, r in front}, key=lambda x: -x[0])
    assert (0.25, 1.0) in [(d, r) for _, d, r in front]
    assert all(any(d2 >= d and r2 >= r for _, d2, r2 in front) for d, r in grid.values() if not math.isnan(r))
    assert not any(
        (d2 > d and r2 >= r) or (d2 >= d and r2 > r)
        for _, d, r in front
        for d2, r2 in grid.values()
        if not math.isnan(r2)
    )


def test_cross_validation_folds_are_stratified_disjoint_and_trainable(tmp_path):
    entries = load_dir(Path(SEED))
    examples = training_examples(entries)
    parts = folds(examples, 5)
    assert sum(len(p) for p in parts) == len(examples)
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1
    assert all({e.intent for e in p} >= {"greet", "faq", "check_status"} for p in parts)
    # --max-folds scores fewer folds, but each still trains on everything else (four fifths, not one)
    for held, rest in held_and_rest(parts, 2):
        assert len(held) + len(rest) == len(examples) and not set(map(id, held)) & set(map(id, rest))
    assert len(held_and_rest(parts, 2)) == 2 and len(held_and_rest(parts)) == 5
    data = write_fold_training_data(tmp_path / "fold", [e for p in parts[1:] for e in p], entries)
    document = yaml.safe_load((data / "data.yml").read_text(encoding="utf-8"))
    labels = {block["intent"] for block in document["nlu"]}
    assert "faq/visa_free_stay" in labels and "greet" in labels
    assert set(document["responses"]) == {f"utter_{label}" for label in labels if label.startswith("faq/")}


def test_seed_runs_retrain_our_pipeline_with_other_seeds_and_average_per_language(tmp_path):
    ours = yaml.safe_load(PIPELINES["ours"].read_text(encoding="utf-8"))
    path = seed_config(PIPELINES["ours"], 43, tmp_path)
    other = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert path.stem == "ours-seed43"
    seeds = {c["name"]: c["random_seed"] for c in other["pipeline"] if "random_seed" in c}
    assert seeds == {"DIETClassifier": 43, "ResponseSelector": 43}
    for component in (*ours["pipeline"], *other["pipeline"]):
        component.pop("random_seed", None)
    assert ours == other  # nothing else changed

    def run(intent: float, top3: float) -> dict:
        return {"en": {"intent_accuracy": intent, "intent_macro_f1": 0.5, "faq_top1": 0.5, "faq_top3": top3}}

    means = seed_means([run(0.938, 1.0), run(0.954, 0.993), run(0.946, 1.0)])
    assert means["en"]["intent_accuracy"] == pytest.approx(0.946)
    assert means["en"]["faq_top3"] == pytest.approx(0.9977, abs=1e-4)


def _run(*args: str, timeout_s: float = 900) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout_s
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout


@pytest.mark.e2e
def test_nlu_accuracy_smoke(tmp_path):
    report = tmp_path / "nlu.json"
    # The development split: the held-out one differs only in the file read, and this one also tunes.
    out = _run(
        "benchmarks.nlu_accuracy",
        "--smoke",
        "--split",
        "dev",
        "--pipelines",
        "ours,tfidf-lr",
        "--folds",
        "0",
        "--work",
        str(tmp_path / "work"),
        "--report",
        str(report),
    )
    assert "FAQ top-3" in out and "date F1" in out and "fallback threshold" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["split"] == "dev" and set(data["pipelines"]) == {"ours", "tfidf-lr"}
    assert data["tuning"]["best_intent_weight"] in [w / 10 for w in range(11)]
    assert set(data["tuning"]["threshold_grid"]) >= {"0.3", "0.45", "0.6"}
    assert set(data["tuning"]["ambiguity_grid"]) >= {"0.0", "0.05", "0.1"}
    assert data["overlap_with_training"] == []
    for pipeline in data["pipelines"].values():
        assert set(pipeline["scores"]) == {"az", "ru", "en", "all"}
        assert 0.0 <= pipeline["scores"]["all"]["intent_accuracy"] <= 1.0


@pytest.mark.e2e
@pytest.mark.usefixtures("shipped_model")  # serves it
def test_latency_smoke():
    out = _run("benchmarks.latency", "--smoke", "--during-training")
    assert "p95 ms" in out and "During a whole training at niceness 10" in out
    data = json.loads((REPORTS / "latency-smoke.json").read_text(encoding="utf-8"))
    assert [r["users"] for r in data["runs"]] == [2, 3]
    assert all(r["answered"] + r["errors"] >= 1 for r in data["runs"])
    assert all("training_still_running" in r for r in data["runs"])
    assert data["engine_parse_ms"]["sequential"]["n"] == 10


@pytest.mark.e2e
@pytest.mark.usefixtures("shipped_model")  # serves it
def test_resources_smoke():
    out = _run("benchmarks.resources", "--smoke")
    assert "RSS idle MB" in out
    data = json.loads((REPORTS / "resources-smoke.json").read_text(encoding="utf-8"))
    assert {"engine", "gateway", "actions"} <= set(data["rss_idle_mb"]) and data["model_mb"] > 0


@pytest.mark.e2e
@pytest.mark.usefixtures("shipped_model")  # serves it
def test_reliability_under_faults_smoke(tmp_path):
    """The fault run at small size, asserting what must hold whatever the timing: with the action server,
    an engine and a gateway killed and Redis killed mid-run, no answer is lost, doubled or reordered."""
    report = tmp_path / "reliability.json"
    out = _run("benchmarks.reliability", "--smoke", "--report", str(report), "--work", str(tmp_path / "run"))
    assert "out of order" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["messages"] == 36 and len(data["faults"]) == 4
    assert (data["lost"], data["doubled"], data["out_of_order"], data["wrong"]) == (0, 0, 0, 0), data
    assert data["answered"] + data["apologies"] == 36


@pytest.mark.e2e
@pytest.mark.usefixtures("shipped_model")  # fine-tunes it: tests/e2e/test_retraining.py reuses the update
def test_rollout_smoke():
    """A publish under a little traffic, one engine: the new model replaces the old blue/green, and no
    exchange fails meanwhile."""
    # A quick update of the shipped model: 4-14 min on 2 cores, depending on what else runs.
    out = _run("benchmarks.rollout", "--smoke", timeout_s=1800)
    assert "training end → all engines" in out
    data = json.loads((REPORTS / "rollout-smoke.json").read_text(encoding="utf-8"))
    (result,) = data["scenarios"]
    assert result["run"]["status"] == "succeeded" and result["rollout"]["status"] == "done", result
    assert [(s["how"], s["status"]) for s in result["rollout"]["switches"]] == [("blue/green", "serving")]
    windows = {w: result[w] for w in ("before", "during_training", "during_rollout", "after")}
    assert sum(w["failed"] for w in windows.values()) == 0, (windows, result["rollout"], out)
    assert result["before"]["replies"] > 0 and result["after"]["replies"] > 0


def test_a_profile_sums_samples_by_function_inclusive_and_self():
    from benchmarks.profile import summarise

    raw = [
        'process 7:"python -m engine.serve";serve (sanic/runners.py:10) 50',
        "serve (sanic/runners.py:10);handle (rasa/processor.py:5);validate (jsonschema/validators.py:1) 30",
        "serve (sanic/runners.py:10);handle (rasa/processor.py:7);parse (rasa/graph.py:2) 10",
        "serve (sanic/runners.py:12);walk (x.py:1);walk (x.py:2);walk (x.py:3) 10",
        "not a stack line",
    ]
    profile = summarise(raw, top=3)
    assert profile["samples"] == 100
    # serve is in every stack: left out of the inclusive list
    assert profile["inclusive"] == [
        ("handle (rasa/processor.py)", 0.4),
        ("validate (jsonschema/validators.py)", 0.3),
        ("parse (rasa/graph.py)", 0.1),
    ]
    assert profile["self"][:2] == [("serve (sanic/runners.py)", 0.5), ("validate (jsonschema/validators.py)", 0.3)]
    assert dict(summarise(raw, top=10)["inclusive"])["walk (x.py)"] == 0.1  # recursion counts once per stack
    assert summarise([])["inclusive"] == []


@pytest.mark.e2e
@pytest.mark.usefixtures("shipped_model")  # serves it
def test_dialogues_smoke():
    out = _run("benchmarks.dialogues", "--smoke", "--languages", "en")
    assert "follow-up" in out and "2-in-1 both" in out
    data = json.loads((REPORTS / "dialogues_heldout_stack-smoke.json").read_text(encoding="utf-8"))
    assert data["mode"] == "stack" and data["scores"]["en"]["first_turns"] is not None
