"""NLU accuracy on the held-out test set, per language: our pipeline vs Rasa's default vs TF-IDF + LR.

    .venv/bin/python -m benchmarks.nlu_accuracy                 # full run (~30 min on 2 cores)
    .venv/bin/python -m benchmarks.nlu_accuracy --smoke         # tiny: 1 epoch, 2 folds, a quarter of the data
    .venv/bin/python -m benchmarks.nlu_accuracy --pipelines ours,tfidf-lr --seeds 43,44 --folds 0
                                            # ours trained with three seeds, and their mean per language
    .venv/bin/python -m benchmarks.nlu_accuracy --pipelines ours --folds 0 --model models/model-<…>.tar.gz
                                            # the model `make train` made, scored without training

For each pipeline it trains on the shipped training data (nlu_data/ and the knowledge base's seed entries),
parses every held-out example (nlu_test/, never trained on) and reports, per language: intent accuracy and
macro-F1 (the final intent, after the fallback classifier: a fallback on an in-scope message counts as
wrong), FAQ retrieval top-1 and top-3 (the response selector's ranking), out-of-scope precision and recall,
application-number entity F1 and parse time. Dates and FINs are read by the status form's parser
(cases/verification.py), scored on nlu_test/verification.yml. Then k-fold cross-validation of our
pipeline on the training data. Prints tables, writes var/benchmarks/nlu_accuracy.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import math
import random
import re
import shutil
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from benchmarks.heldout import Example, development, heldout, normalized, read_examples, verification_cases
from benchmarks.metrics import REPORTS, accuracy, f1, fmt, macro_f1, percentile, precision_recall, table, write_report
from benchmarks.typing_noise import noisy_set
from cases.verification import parse_verification
from core.protocol import FaqRef, encode
from core.settings import LANGUAGES, PROJECT_ROOT, Settings
from engine.blend import mix
from knowledge.conversation import DIRECT_RULE, DirectRule
from knowledge.schema import EntryData, load_dir
from knowledge.training_data import render_nlu
from training.trainer import ENGINE_CODE, NLU_DIR, other_intents, run_rasa

SEED = PROJECT_ROOT / "knowledge" / "seed"
PIPELINES = {"ours": PROJECT_ROOT / "config.yml", "rasa-default": PROJECT_ROOT / "benchmarks/configs/rasa_default.yml"}
WORK = PROJECT_ROOT / "var" / "benchmarks" / "nlu"
SPLITS = {"heldout": heldout, "dev": development, "dev-noisy": lambda languages: noisy_set(development(languages))}


# ------------------------------------------------------------------ data


def training_examples(entries: list[EntryData]) -> list[Example]:
    examples = [e for lang in LANGUAGES for e in read_examples(NLU_DIR / f"nlu_{lang}.yml", lang)]
    for entry in entries:
        for lang, text in entry.texts.items():
            for line in dict.fromkeys([text.question, *text.variants]):
                examples.append(Example(lang, " ".join(line.split()), "faq", entry.key))
    return examples


def write_full_training_data(target: Path, entries: list[EntryData]) -> Path:
    """Exactly what the engine is trained on, minus the dialogue rules."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in NLU_DIR.glob("*.yml"):
        if path.name != "rules.yml":
            shutil.copy(path, target / path.name)
    (target / "faq.yml").write_text(render_nlu(entries, other_intents()), encoding="utf-8")
    return target


def write_fold_training_data(target: Path, examples: list[Example], entries: list[EntryData]) -> Path:
    """A fold's training data: its examples (annotations are not needed: entities come from regexes)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in ("regex.yml", "synonyms.yml"):
        shutil.copy(NLU_DIR / name, target / name)
    by_label: dict[str, list[str]] = defaultdict(list)
    for example in examples:
        by_label[f"faq/{example.entry}" if example.entry else example.intent].append(example.text)
    document = {
        "version": "3.1",
        "nlu": [
            {"intent": label, "examples": "".join(f"- {t}\n" for t in dict.fromkeys(texts))}
            for label, texts in by_label.items()
        ],
        "responses": {
            f"utter_faq/{e.key}": [{"custom": encode(FaqRef(e.key))}] for e in entries if f"faq/{e.key}" in by_label
        },
    }
    (target / "data.yml").write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def folds(examples: list[Example], k: int, seed: int = 7) -> list[list[Example]]:
    """Stratified by label: each fold gets every label's examples in turn."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_label[example.entry or example.intent].append(example)
    result: list[list[Example]] = [[] for _ in range(k)]
    rng = random.Random(seed)
    offset = 0
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        for i, example in enumerate(group):
            result[(offset + i) % k].append(example)
        offset += len(group)
    return result


def held_and_rest(parts: list[list[Example]], limit: int | None = None) -> list[tuple[list[Example], list[Example]]]:
    """(held-out fold, training examples) for the first `limit` folds: each trains on all the other folds,
    whether or not those are scored themselves."""
    return [
        (held, [e for j, part in enumerate(parts) if j != i for e in part])
        for i, held in enumerate(parts[: limit or None])
    ]


# ------------------------------------------------------------------ running Rasa and the baseline


def _config(base: Path, epochs: int | None, work: Path, drop: tuple[str, ...] = ()) -> Path:
    """`base` with other epochs and/or without the components named in `drop` (policies are not needed)."""
    if epochs is None and not drop:
        return base
    config = yaml.safe_load(base.read_text(encoding="utf-8"))
    config["pipeline"] = [c for c in config["pipeline"] if c["name"].rsplit(".", 1)[-1] not in drop]
    for component in config["pipeline"]:
        trains = "epochs" in component or component["name"] in ("DIETClassifier", "ResponseSelector")
        if epochs is not None and trains:
            component["epochs"] = epochs
    config["policies"] = []
    path = work / f"{base.stem}{'-epochs' + str(epochs) if epochs else ''}{''.join('-no' + d for d in drop)}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def seed_config(base: Path, seed: int, work: Path) -> Path:
    """Our pipeline (`base`) with DIET's and the response selector's random seed set to `seed`: the same
    pipeline trained again, to tell a change from what a retraining alone moves (about a point per language)."""
    config = yaml.safe_load(base.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if "random_seed" in component or component["name"] in ("DIETClassifier", "ResponseSelector"):
            component["random_seed"] = seed
    path = work / f"ours-seed{seed}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def seed_means(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per language, the mean over several trainings' scores (`score_by_language` results) of the figures
    the targets are about."""
    return {
        lang: {
            key: statistics.fmean(run[lang][key] for run in runs)
            for key in ("intent_accuracy", "intent_macro_f1", "faq_top1", "faq_top3")
        }
        for lang in runs[0]
    }


def _component(config: Path, name: str) -> dict[str, Any]:
    pipeline = yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]
    return next((c for c in pipeline if c["name"].rsplit(".", 1)[-1] == name), {})


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in (*paths, *ENGINE_CODE):  # the custom components' code is part of the model
        for file in sorted(path.rglob("*.yml")) if path.is_dir() else [path]:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


async def _run(settings: Settings, work: Path, *args: str, python: bool = False) -> None:
    log_file = work / "rasa.log"
    log_file.unlink(missing_ok=True)
    if await run_rasa(settings, *args, log_file=log_file, python=python) != 0:
        output = log_file.read_text(encoding="utf-8", errors="replace")
        raise RuntimeError(f"{' '.join(args[:3])} failed:\n{output[-3000:]}")


async def train(settings: Settings, config: Path, data: Path, work: Path) -> tuple[Path, float, bool]:
    """(model, seconds, trained): models are cached in `work` by the digest of config and data."""
    name = f"{config.stem}-{_digest(config, data)}"
    model = work / "models" / f"{name}.tar.gz"
    if model.exists():
        return model, 0.0, False
    started = time.monotonic()
    await _run(
        settings,
        work,
        "train",
        "nlu",
        "--config",
        str(config),
        "--nlu",
        str(data),
        "--out",
        str(work / "models"),
        "--fixed-model-name",
        name,
    )
    return model, time.monotonic() - started, True


async def predict(settings: Settings, model: Path, texts: list[str], work: Path) -> list[dict]:
    source, target = work / "texts.json", work / "predictions.json"
    source.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    await _run(
        settings,
        work,
        "-m",
        "benchmarks.rasa_predict",
        "--model",
        str(model),
        "--input",
        str(source),
        "--output",
        str(target),
        python=True,
    )
    return json.loads(target.read_text(encoding="utf-8"))


def lexical_params(config: Path) -> tuple[float, str, float]:
    """The lexical model's settings in `config` (LexicalBlend's C, solver and sentence_features)."""
    blend = _component(config, "LexicalBlend")
    return float(blend.get("C", 10.0)), str(blend.get("solver", "lbfgs")), float(blend.get("sentence_features", 0))


async def tfidf(
    settings: Settings, train_examples: list[Example], texts: list[str], work: Path, params: tuple[float, str, float]
) -> list[dict]:
    train_file, source, target = work / "tfidf-train.json", work / "texts.json", work / "tfidf-predictions.json"
    train_file.write_text(
        json.dumps(
            [{"text": e.text, "intent": e.intent, "entry": e.entry} for e in train_examples], ensure_ascii=False
        ),
        encoding="utf-8",
    )
    source.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    await _run(
        settings,
        work,
        "-m",
        "benchmarks.tfidf_baseline",
        "--train",
        str(train_file),
        "--input",
        str(source),
        "--output",
        str(target),
        "--C",
        str(params[0]),
        "--solver",
        params[1],
        "--sentence-features",
        str(params[2]),
        python=True,
    )
    return json.loads(target.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ scoring


def _number(value: str) -> str:
    return re.sub(r"[\s\-]", "", value).upper()


def direct_answers(faq: list[tuple[Example, dict]], rule: DirectRule = DIRECT_RULE) -> tuple[float, float]:
    """Of the knowledge-base questions, the share answered at once (read as `faq`, the top entry sure enough
    for actions/faq.py's `rule`) and the share of those answers that are the right entry."""
    direct = right = 0
    for example, prediction in faq:
        scores = sorted((prediction.get("faq_scores") or {}).items(), key=lambda kv: -(kv[1] or 0.0))
        if prediction["intent"] != "faq" or not scores:
            continue
        runner_up = scores[1][1] if len(scores) > 1 else 0.0
        if rule.answers(scores[0][1] or 0.0, runner_up or 0.0):
            direct += 1
            right += scores[0][0] == example.entry
    return (direct / len(faq) if faq else float("nan")), (right / direct if direct else float("nan"))


def score(examples: list[Example], predictions: list[dict]) -> dict[str, Any]:
    truth = [e.intent for e in examples]
    predicted = [p["intent"] for p in predictions]
    faq = [(e, p) for e, p in zip(examples, predictions, strict=True) if e.entry]
    oos_p, oos_r = precision_recall(truth, predicted, "out_of_scope")
    tp = fp = fn = 0
    for example, prediction in zip(examples, predictions, strict=True):
        gold = {_number(v) for k, v in example.entities if k == "application_number"}
        found = {_number(v) for k, v in prediction["entities"] if k == "application_number"}
        tp, fp, fn = tp + len(gold & found), fp + len(found - gold), fn + len(gold - found)
    direct, direct_right = direct_answers(faq)
    return {
        "examples": len(examples),
        "intent_accuracy": accuracy(truth, predicted),
        "intent_macro_f1": macro_f1(truth, predicted),
        "fallbacks": sum(p == "nlu_fallback" for p in predicted),
        "faq_top1": sum(p["faq_ranking"][:1] == [e.entry] for e, p in faq) / len(faq) if faq else float("nan"),
        "faq_top3": sum(e.entry in p["faq_ranking"][:3] for e, p in faq) / len(faq) if faq else float("nan"),
        "faq_direct": direct,
        "faq_direct_precision": direct_right,
        "oos_precision": oos_p,
        "oos_recall": oos_r,
        "application_number_f1": f1(tp, fp, fn),
        "parse_ms_p50": percentile([p["ms"] for p in predictions], 50),
        "confusions": _confusions(truth, predicted),
    }


def misses(examples: list[Example], predictions: list[dict]) -> list[dict[str, Any]]:
    """Each example read as the wrong intent, or whose entry is not in the top 3: what to write data for.
    Only for the development sets; the held-out set is never read this way."""
    found = []
    for e, p in zip(examples, predictions, strict=True):
        if p["intent"] != e.intent:
            found.append({"language": e.language, "text": e.text, "expected": e.intent, "got": p["intent"]})
        elif e.entry and e.entry not in p["faq_ranking"][:3]:
            found.append(
                {
                    "language": e.language,
                    "text": e.text,
                    "expected": f"faq/{e.entry}",
                    "got": "top 3: " + ", ".join(p["faq_ranking"][:3]),
                }
            )
    return found


def _confusions(truth: list[str], predicted: list[str], top: int = 8) -> list[list[Any]]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for t, p in zip(truth, predicted, strict=True):
        if t != p:
            counts[(t, p)] += 1
    return [[t, p, n] for (t, p), n in sorted(counts.items(), key=lambda x: -x[1])[:top]]


def score_by_language(examples: list[Example], predictions: list[dict]) -> dict[str, dict[str, Any]]:
    result = {}
    for lang in sorted({e.language for e in examples}):
        pairs = [(e, p) for e, p in zip(examples, predictions, strict=True) if e.language == lang]
        result[lang] = score([e for e, _ in pairs], [p for _, p in pairs])
    result["all"] = score(examples, predictions)
    return result


def score_verification(cases: list[dict], today: dt.date) -> dict[str, dict[str, float]]:
    """Date-of-birth and FIN extraction F1 per language, with the status form's parser."""
    result = {}
    for lang in sorted({c["lang"] for c in cases}):
        counts = {"date": [0, 0, 0], "fin": [0, 0, 0]}  # tp, fp, fn
        for case in (c for c in cases if c["lang"] == lang):
            found = parse_verification(str(case["text"]), today)
            got = {"date": found.date_of_birth if found else None, "fin": found.personal_id if found else None}
            for kind in ("date", "fin"):
                gold = case.get(kind)
                gold = dt.date.fromisoformat(str(gold)) if kind == "date" and gold else gold
                value = got[kind]
                if gold is not None and value == gold:
                    counts[kind][0] += 1
                else:
                    counts[kind][1] += value is not None
                    counts[kind][2] += gold is not None
        result[lang] = {f"{kind}_f1": f1(*counts[kind]) for kind in counts}
    return result


# ------------------------------------------------------------------ the run


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    entries = load_dir(SEED)
    test = SPLITS[args.split](tuple(args.languages))
    train_examples = training_examples(entries)
    if args.smoke:
        # 1 in 15 test texts and a stratified quarter of the training data: the same code path, quickly.
        test = [e for i, e in enumerate(test) if i % 15 == 0]
        train_examples = folds(train_examples, 4)[0]
        data = write_fold_training_data(work / "train-smoke", train_examples, entries)
    else:
        data = write_full_training_data(work / "train-full", entries)
    texts = [e.text for e in test]
    overlap = {normalized(e.text) for e in test} & {normalized(e.text) for e in train_examples}
    report: dict[str, Any] = {
        "split": args.split,
        "examples": len(test),
        "training_examples": len(train_examples),
        "overlap_with_training": sorted(overlap),
        "pipelines": {},
        "epochs": args.epochs,
    }
    lexical: list[dict] | None = None  # the engine's lexical model's predictions, reused by the dev-set tuning
    for name in args.pipelines:
        print(f"· {name}: training and parsing {len(texts)} {args.split} examples…", flush=True)
        if name == "tfidf-lr":
            started = time.monotonic()
            # The engine's lexical model (config.yml's C and solver) without the sentence vectors: a plain TF-IDF
            # baseline. Where config.yml gives the engine none either, the dev-set tuning reuses its predictions.
            c, solver, sentence_features = lexical_params(PIPELINES["ours"])
            predictions = await tfidf(settings, train_examples, texts, work, (c, solver, 0.0))
            lexical = None if sentence_features else predictions
            seconds, trained = time.monotonic() - started, True
        elif name == "ours" and args.model is not None:  # the model that ships, as trained by `make train`
            model, seconds, trained = args.model, 0.0, False
            predictions = await predict(settings, model, texts, work)
        else:
            config = _config(PIPELINES[name], args.epochs, work)
            model, seconds, trained = await train(settings, config, data, work)
            predictions = await predict(settings, model, texts, work)
        report["pipelines"][name] = {
            "train_seconds": round(seconds, 1) if trained else "cached",
            "scores": score_by_language(test, predictions),
        }
        if args.misses:
            report["pipelines"][name]["misses"] = misses(test, predictions)
        write_report("nlu_accuracy", report, args.report)  # partial results survive an interrupted run
    seeded = [n for n in ("ours", *(f"ours-seed{seed}" for seed in args.seeds)) if n in report["pipelines"]]
    if len(seeded) > 1:
        report["seed_means"] = {
            "pipelines": seeded,
            "scores": seed_means([report["pipelines"][n]["scores"] for n in seeded]),
        }
    report["verification"] = score_verification(verification_cases(), dt.date(2026, 11, 24))
    if args.split != "heldout":
        report["tuning"] = await tune_on(settings, args, test, train_examples, data, work, lexical)
    if args.folds > 1:
        report["cross_validation"] = await cross_validate(settings, args, entries, train_examples, work)
    return report


def blended(learned: dict, lexical: dict, intent_weight: float, entry_weight: float, fallback: dict[str, Any]) -> dict:
    """What LexicalBlend and then FallbackClassifier make of the two models' predictions (engine/blend.py)."""
    ranking = mix(learned["intent_scores"], lexical["intent_scores"], intent_weight)
    entries = mix(learned["faq_scores"], lexical["faq_scores"], entry_weight)
    top = ranking[0][1]
    second = ranking[1][1] if len(ranking) > 1 else 0.0
    unsure = top < fallback.get("threshold", 0.3) or top - second < fallback.get("ambiguity_threshold", 0.1)
    return {
        **learned,
        "intent": "nlu_fallback" if unsure else ranking[0][0],
        "faq_ranking": [k for k, _ in entries[:5]],
        "faq_scores": dict(entries),
    }


async def cross_validate(
    settings: Settings, args: argparse.Namespace, entries: list[EntryData], examples: list[Example], work: Path
) -> dict[str, Any]:
    """k folds of the training data. Each fold trains the learned part (the pipeline without LexicalBlend)
    and the lexical model separately, so one run scores both alone and every mixture of them."""
    parts = folds(examples, args.folds)
    if args.smoke:
        parts = [part[::10] for part in parts]
    base = PIPELINES[args.cv_pipeline]
    config = _config(base, args.epochs, work, drop=("LexicalBlend",))
    runs = []
    splits = held_and_rest(parts, args.max_folds)
    for i, (held, rest) in enumerate(splits):
        print(f"· cross-validation fold {i + 1}/{len(splits)} (of {len(parts)})…", flush=True)
        data = write_fold_training_data(work / f"train-fold{i}", rest, entries)
        model, _, _ = await train(settings, config, data, work)
        texts = [e.text for e in held]
        learned = await predict(settings, model, texts, work)
        runs.append((held, learned, await tfidf(settings, rest, texts, work, lexical_params(base))))

    # Every fold's predictions, for analysis without retraining (models are cached too).
    (work / "cv-predictions.json").write_text(
        json.dumps(
            [
                {"examples": [e.__dict__ for e in held], "learned": learned, "lexical": lexical}
                for held, learned, lexical in runs
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return {"folds": len(runs), "of": len(parts), **grids(runs, base)}


async def tune_on(
    settings: Settings,
    args: argparse.Namespace,
    test: list[Example],
    examples: list[Example],
    data: Path,
    work: Path,
    lexical: list[dict] | None,
) -> dict[str, Any]:
    """The blend's weights and the fallback threshold scored on the development set: the learned part and the
    lexical model trained on all the training data, mixed every way (Rasa's cache reuses the components
    that were just trained for the full pipeline; `lexical` is the TF-IDF baseline's run, when there was one
    and it is the engine's lexical model: the same model on the same texts)."""
    print("· tuning the blend and the fallback threshold on the development set…", flush=True)
    config = _config(PIPELINES["ours"], args.epochs, work, drop=("LexicalBlend",))
    model, _, _ = await train(settings, config, data, work)
    texts = [e.text for e in test]
    learned = await predict(settings, model, texts, work)
    if lexical is None:
        lexical = await tfidf(settings, examples, texts, work, lexical_params(PIPELINES["ours"]))
    return grids([(test, learned, lexical)], PIPELINES["ours"])


def grids(runs: list[tuple[list[Example], list[dict], list[dict]]], base: Path) -> dict[str, Any]:
    """Scores of (examples, learned predictions, lexical predictions) runs: each model alone, the mixture in
    `base`, and grids over the mixture's two weights and the fallback threshold (means over the runs)."""
    keys = ("intent_accuracy", "intent_macro_f1", "faq_top1", "faq_top3", "fallbacks")

    def summary(scored: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            k: {"mean": statistics.fmean(f[k] for f in scored), "sd": statistics.pstdev(f[k] for f in scored)}
            for k in keys
        }

    fallback = _component(base, "FallbackClassifier")

    def blends(
        wi: float, we: float, threshold: float | None = None, ambiguity: float | None = None
    ) -> list[tuple[list[Example], list[dict]]]:
        unsure = {
            **fallback,
            **({"threshold": threshold} if threshold is not None else {}),
            **({"ambiguity_threshold": ambiguity} if ambiguity is not None else {}),
        }
        return [
            (held, [blended(a, b, wi, we, unsure) for a, b in zip(learned, lexical, strict=True)])
            for held, learned, lexical in runs
        ]

    def mixed(
        wi: float, we: float, threshold: float | None = None, ambiguity: float | None = None
    ) -> list[dict[str, Any]]:
        return [score(held, predictions) for held, predictions in blends(wi, we, threshold, ambiguity)]

    blend = _component(base, "LexicalBlend")
    wi, we = blend.get("intent_weight", 0.5), blend.get("entry_weight", 0.5)
    grid = [round(x / 10, 1) for x in range(11)]
    thresholds = [round(x / 20, 2) for x in range(2, 15)]
    by_intent_weight = {w: summary(mixed(w, we)) for w in grid}
    by_entry_weight = {w: summary(mixed(wi, w)) for w in grid}
    by_threshold = {t: summary(mixed(wi, we, t)) for t in thresholds}
    # The other way to fall back: the top two intents within this margin of each other.
    by_ambiguity = {a: summary(mixed(wi, we, ambiguity=a)) for a in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2)}
    return {
        "direct_rule_grid": direct_rule_grid(blends(wi, we)),
        "learned": summary([score(h, a) for h, a, _ in runs]),
        "lexical": summary([score(h, b) for h, _, b in runs]),
        "blend": {
            "intent_weight": wi,
            "entry_weight": we,
            "threshold": fallback.get("threshold"),
            **summary(mixed(wi, we)),
        },
        "intent_weight_grid": {str(w): v["intent_accuracy"]["mean"] for w, v in by_intent_weight.items()},
        "entry_weight_grid": {
            str(w): [v["faq_top1"]["mean"], v["faq_top3"]["mean"]] for w, v in by_entry_weight.items()
        },
        "threshold_grid": {
            str(t): [v["intent_accuracy"]["mean"], v["fallbacks"]["mean"]] for t, v in by_threshold.items()
        },
        "ambiguity_grid": {
            str(a): [v["intent_accuracy"]["mean"], v["fallbacks"]["mean"]] for a, v in by_ambiguity.items()
        },
        "best_intent_weight": max(grid, key=lambda w: by_intent_weight[w]["intent_accuracy"]["mean"]),
        "best_entry_weight": max(
            grid, key=lambda w: (by_entry_weight[w]["faq_top3"]["mean"], by_entry_weight[w]["faq_top1"]["mean"])
        ),
    }


def rule_key(rule: DirectRule) -> str:
    """A rule's key in the grid: "confident/plausible/margin"."""
    return f"{rule.confident}/{rule.plausible}/{rule.margin}"


def direct_rule_grid(runs: list[tuple[list[Example], list[dict]]]) -> dict[str, list[float]]:
    """actions/faq.py's rule for answering at once, gridded on the blend's predictions: for each
    "confident/plausible/margin", the mean share of knowledge-base questions answered at once and the mean
    share of those answers that are right."""
    grid = {}
    for confident in (0.3, 0.4, 0.5, 0.6, 0.7):
        for plausible in (0.15, 0.2, 0.25, 0.3, 0.4):
            for margin in (1.5, 2.0, 2.5, 3.0, 4.0):
                if plausible >= confident:
                    continue
                rule = DirectRule(confident, plausible, margin)
                shares = [
                    direct_answers([(e, p) for e, p in zip(held, predictions, strict=True) if e.entry], rule)
                    for held, predictions in runs
                ]
                direct = statistics.fmean(d for d, _ in shares)
                rights = [r for _, r in shares if not math.isnan(r)]
                grid[rule_key(rule)] = [direct, statistics.fmean(rights) if rights else math.nan]
    return grid


def best_direct_rules(grid: dict[str, list[float]]) -> list[tuple[str, float, float]]:
    """The rules no other rule beats on both counts (more answered at once and at least as often right)."""
    points = [(k, d, r) for k, (d, r) in grid.items() if not math.isnan(r)]
    front = [
        (k, d, r) for k, d, r in points if not any((d2 > d and r2 >= r) or (d2 >= d and r2 > r) for _, d2, r2 in points)
    ]
    unique = {(round(d, 4), round(r, 4)): (k, d, r) for k, d, r in sorted(front, key=lambda x: x[0])}
    return sorted(unique.values(), key=lambda x: -x[1])


def print_report(report: dict[str, Any]) -> None:
    name = {"dev": "Development set", "dev-noisy": "Development set as typed on a phone (typing_noise.py)"}.get(
        report.get("split") or "", "Held-out test set"
    )
    print(
        f"\n{name}: {report['examples']} examples never trained on "
        f"({report['training_examples']} training examples; {len(report['overlap_with_training'])} overlaps)"
    )
    headers = [
        "pipeline / language",
        "intent acc",
        "macro-F1",
        "fallbacks",
        "FAQ top-1",
        "FAQ top-3",
        "FAQ direct",
        "direct right",
        "OOS prec",
        "OOS rec",
        "app-no F1",
        "parse ms p50",
    ]
    rows = []
    for name, result in report["pipelines"].items():
        for lang, s in result["scores"].items():
            rows.append(
                [
                    f"{name} / {lang}",
                    s["intent_accuracy"],
                    s["intent_macro_f1"],
                    s["fallbacks"],
                    s["faq_top1"],
                    s["faq_top3"],
                    s.get("faq_direct", float("nan")),
                    s.get("faq_direct_precision", float("nan")),
                    s["oos_precision"],
                    s["oos_recall"],
                    s["application_number_f1"],
                    round(s["parse_ms_p50"], 1),
                ]
            )
    print(table(headers, rows))
    for name, result in report["pipelines"].items():
        for miss in result.get("misses", []):
            print(f"  {name} {miss['language']}: {miss['expected']} -> {miss['got']} | {miss['text']}")
    if "seed_means" in report:
        means = report["seed_means"]
        print(
            f"\nMean of {', '.join(means['pipelines'])}: "
            + "; ".join(
                f"{lang} intent {fmt(s['intent_accuracy'])}, FAQ top-3 {fmt(s['faq_top3'])}"
                for lang, s in means["scores"].items()
            )
        )
    print("\nTraining time (s): " + ", ".join(f"{n} {r['train_seconds']}" for n, r in report["pipelines"].items()))
    print("\nDates of birth and FINs (cases/verification.py on nlu_test/verification.yml):")
    print(
        table(
            ["language", "date F1", "FIN F1"],
            [[lang, s["date_f1"], s["fin_f1"]] for lang, s in report["verification"].items()],
        )
    )
    if "tuning" in report:
        print_grids("The blend and the fallback threshold on the development set:", report["tuning"])
    if "cross_validation" in report:
        cv = report["cross_validation"]
        partial = cv.get("of", cv["folds"]) != cv["folds"]
        folds_run = f"{cv['folds']} of {cv['of']} folds" if partial else f"{cv['folds']}-fold"
        print_grids(f"{folds_run} cross-validation on the training data (mean ± sd):", cv, cv["folds"])


def print_grids(title: str, result: dict[str, Any], runs: int = 1) -> None:
    print(f"\n{title}")
    for part in ("learned", "lexical", "blend"):
        print(
            f"  {part:8} "
            + ", ".join(
                f"{k} {fmt(v['mean'])}" + (f" ± {fmt(v['sd'])}" if runs > 1 else "")
                for k, v in result[part].items()
                if isinstance(v, dict)
            )
        )
    print(
        "  blend weights — intent accuracy by DIET's share: "
        + ", ".join(f"{w}: {fmt(a)}" for w, a in result["intent_weight_grid"].items())
    )
    print(
        "  blend weights — FAQ top-1/top-3 by the selector's share: "
        + ", ".join(f"{w}: {fmt(a)}/{fmt(b)}" for w, (a, b) in result["entry_weight_grid"].items())
    )
    print(
        "  fallback threshold — intent accuracy/fallbacks: "
        + ", ".join(f"{t}: {fmt(a)}/{n:.1f}" for t, (a, n) in result["threshold_grid"].items())
    )
    print(
        "  ambiguity threshold — intent accuracy/fallbacks: "
        + ", ".join(f"{t}: {fmt(a)}/{n:.1f}" for t, (a, n) in result["ambiguity_grid"].items())
    )
    print(
        f"  best: intent_weight {result['best_intent_weight']}, entry_weight {result['best_entry_weight']} "
        f"(config.yml: {result['blend']['intent_weight']}, {result['blend']['entry_weight']})"
    )
    shipped = result["direct_rule_grid"].get(rule_key(DIRECT_RULE))
    print(
        "  answering at once (actions/faq.py), confident/plausible/margin: share answered at once/right;"
        f" in use {rule_key(DIRECT_RULE)}" + (f": {fmt(shipped[0])}/{fmt(shipped[1])}" if shipped else "")
    )
    print(
        "    rules no other beats on both: "
        + ", ".join(f"{k}: {fmt(d)}/{fmt(r)}" for k, d, r in best_direct_rules(result["direct_rule_grid"]))
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pipelines", default="ours,rasa-default,tfidf-lr", type=lambda s: [p for p in s.split(",") if p]
    )
    parser.add_argument("--languages", default=",".join(LANGUAGES), type=lambda s: s.split(","))
    parser.add_argument(
        "--split",
        choices=tuple(SPLITS),
        default="heldout",
        help="score on the held-out test set (to report) or the development set, as written or "
        "with typing noise (to choose on)",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--max-folds",
        type=int,
        default=None,
        help="score only the first N folds (a quicker, coarser comparison of candidates)",
    )
    parser.add_argument("--cv-pipeline", default="ours", help="the pipeline to cross-validate (ours or a candidate)")
    parser.add_argument("--epochs", type=int, default=None, help="override DIET/ResponseSelector epochs")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes: 1 epoch, 2 folds, a quarter of the training data, 1 in 15 test texts",
    )
    parser.add_argument(
        "--candidate",
        type=Path,
        action="append",
        default=[],
        help="another Rasa config to compare (named by its file name); repeatable",
    )
    parser.add_argument(
        "--seeds",
        default=[],
        type=lambda s: [int(x) for x in s.split(",") if x],
        help="also train ours with these random seeds (ours-seedN) and print the mean, e.g. 43,44",
    )
    parser.add_argument(
        "--misses",
        action="store_true",
        help="list each development example read wrongly (not allowed on the held-out set)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="score this trained model as ours (e.g. models/model-<fingerprint>.tar.gz) rather than training one",
    )
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.folds = args.epochs or 1, min(args.folds, 2)
    args.work.mkdir(parents=True, exist_ok=True)
    for candidate in [seed_config(PIPELINES["ours"], seed, args.work) for seed in args.seeds] + args.candidate:
        PIPELINES[candidate.stem] = candidate.resolve()
        args.pipelines.append(candidate.stem)
    unknown = [p for p in (*args.pipelines, args.cv_pipeline) if p not in (*PIPELINES, "tfidf-lr")]
    if unknown:
        parser.error(f"unknown pipelines {unknown}")
    if args.misses and args.split == "heldout":
        parser.error("--misses lists texts to write training data for: only on a development split")
    suffix = ("" if args.split == "heldout" else f"-{args.split}") + ("-smoke" if args.smoke else "")
    args.report = args.report or REPORTS / f"nlu_accuracy{suffix}.json"
    report = asyncio.run(run(args))
    print_report(report)
    print(f"\nreport: {write_report('nlu_accuracy', report, args.report)}")


if __name__ == "__main__":
    main()
