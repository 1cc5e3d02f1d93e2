"""Does a quick update answer as well as a training from scratch? Staff publish new ways to ask; the
console fine-tunes the served model on the new data (training.trainer, `finetune_epoch_fraction` of the
epochs) instead of training it again. This adds new phrasings to three entries, makes both models of the
changed data, and scores them and the served model on the development set and on the new phrasings.

    .venv/bin/python -m benchmarks.quick_update       # ~10 min on 2 cores (two trainings, three scorings)

Prints a table and writes var/benchmarks/quick-update.json. The served model is the cached model of the
shipped data (trained first if missing); the two new models go to a scratch folder.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
from pathlib import Path
from typing import Any

from benchmarks.heldout import Example, development
from benchmarks.metrics import REPORTS, fmt, table, write_report
from benchmarks.nlu_accuracy import predict, score_by_language
from core.settings import Settings
from knowledge.seeding import knowledge_base
from training.trainer import ensure_model

# New ways to ask, as staff would add them: none of them is in the training, development or test data.
NEW_VARIANTS = {
    "citizenship_naturalisation": {
        "en": [
            "which steps lead a long-time resident to an Azerbaijani passport of his own",
            "after many years living here can I become a citizen",
        ],
        "ru": ["как иностранцу через много лет жизни здесь стать гражданином"],
        "az": ["uzun illər burada yaşayan əcnəbi vətəndaş ola bilərmi"],
    },
    "registration_who_when_how": {
        "en": ["my landlord says I must be put on record at the flat, how is that done"],
        "ru": ["хозяин квартиры говорит что меня надо поставить на учёт, как это сделать"],
    },
    "temporary_residence_documents_extension": {
        "en": ["what papers do I bring to prolong my stay card"],
        "az": ["yaşama kartımın müddətini uzatmaq üçün hansı sənədləri gətirim"],
    },
}


def new_phrasings() -> list[Example]:
    return [
        Example(language, text, "faq", key)
        for key, by_language in NEW_VARIANTS.items()
        for language, texts in by_language.items()
        for text in texts
    ]


async def make_models(work: Path, served: Path) -> dict[str, tuple[Path, float]]:
    """The changed data's model, fine-tuned from `served` and trained from scratch, in separate folders."""
    made: dict[str, tuple[Path, float]] = {}
    for kind in ("quick update", "from scratch"):
        folder = work / kind.replace(" ", "-")
        shutil.rmtree(folder, ignore_errors=True)
        settings = Settings(data_dir=folder, models_dir=folder / "models", log_level="WARNING")
        async with knowledge_base(settings) as kb:
            for key, by_language in NEW_VARIANTS.items():
                entry = await kb.get(key)
                if entry is None:
                    raise KeyError(f"{key} is not in the knowledge base: NEW_VARIANTS needs updating")
                for language, texts in by_language.items():
                    entry.texts[language].variants.extend(texts)
                await kb.upsert([entry])
            result = await ensure_model(settings, kb, force=True, base=served if kind == "quick update" else None)
        if kind == "quick update" and result.finetuned_from is None:
            raise RuntimeError(f"the quick update fell back to a whole training; see {folder}/logs/train.log")
        print(f"· {kind}: {result.seconds:.0f} s", flush=True)
        made[kind] = (result.model, result.seconds)
    return made


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = REPORTS / "quick-update"
    work.mkdir(parents=True, exist_ok=True)
    served_settings = Settings(log_level="WARNING")
    async with knowledge_base(served_settings) as kb:
        served = (await ensure_model(served_settings, kb)).model
    made = await make_models(work, served)
    dev, added = development(), new_phrasings()
    report: dict[str, Any] = {"epoch_fraction": Settings().finetune_epoch_fraction, "models": {}}
    for kind, (model, seconds) in {"served (before)": (served, 0.0), **made}.items():
        predictions = await predict(served_settings, model, [e.text for e in dev + added], work)
        dev_scores = score_by_language(dev, predictions[: len(dev)])
        report["models"][kind] = {
            "seconds": round(seconds, 1),
            "dev": {
                lang: {k: s[k] for k in ("intent_accuracy", "faq_top1", "faq_top3", "fallbacks")}
                for lang, s in dev_scores.items()
            },
            "new_phrasings_top1": sum(
                p["faq_ranking"][:1] == [e.entry] for e, p in zip(added, predictions[len(dev) :], strict=True)
            )
            / len(added),
        }
    return report


def print_report(report: dict[str, Any]) -> None:
    rows = []
    for kind, result in report["models"].items():
        dev = result["dev"]
        rows.append(
            [
                kind,
                result["seconds"] or "",
                *(fmt(dev[lang]["intent_accuracy"]) for lang in ("az", "en", "ru")),
                fmt(dev["all"]["faq_top1"]),
                fmt(dev["all"]["faq_top3"]),
                fmt(result["new_phrasings_top1"]),
            ]
        )
    print(
        table(["model", "train s", "dev intent az", "en", "ru", "dev FAQ top-1", "top-3", "new phrasings top-1"], rows)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    print_report(report)
    print(f"\nreport: {write_report('quick-update', report, args.report)}")


if __name__ == "__main__":
    main()
