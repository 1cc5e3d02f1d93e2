"""`python -m training [--reload] [--quick]`: train the model if its data changed (the knowledge base's
questions, nlu_data/, domain, config), and with --reload put it in the model store and roll it out to the
running engines. --quick fine-tunes the model the engines serve when that is allowed
(training.trainer.can_finetune)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.settings import Settings
from knowledge.seeding import open_seeded
from knowledge.store import KnowledgeBase
from training.model_store import ModelStore
from training.publishing import RolloutFailed, publish
from training.trainer import ensure_model, validate_data


async def retrain(settings: Settings, *, reload: bool, quick: bool) -> int:
    database = await open_seeded(settings)
    try:
        kb, store = KnowledgeBase(database.sessions), ModelStore(database.sessions)
        if await validate_data(settings, kb) != 0:
            print(f"Training data is invalid; see {settings.data_dir}/logs/validate.log", file=sys.stderr)
            return 1
        served = await store.pointer() if quick else None
        base = await store.fetch(served, settings.models_dir) if served else None
        result = await ensure_model(settings, kb, base=base)
        how = f"Fine-tuned {result.finetuned_from} into" if result.finetuned_from else "Trained"
        print(
            f"{how if result.trained else 'Up to date:'} {result.model.name}"
            + (f" in {result.seconds:.0f} s" if result.trained else "")
        )
        if reload:
            await publish(store, result, "python -m training")
            print("Every engine now serves it.")
        return 0
    finally:
        await database.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reload", action="store_true", help="roll the model out to the running engines")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fine-tune the model the engine serves, when allowed, instead of training from scratch",
    )
    args = parser.parse_args(argv)
    try:
        return asyncio.run(retrain(Settings(), reload=args.reload, quick=args.quick))
    except (RolloutFailed, ValueError, OSError) as error:
        print(f"Refused: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
