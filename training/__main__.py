"""`python -m training [--reload] [--quick]`: train the model if its data changed (the knowledge base's
questions, nlu_data/, domain, config), and with --reload swap it into the running engine. --quick fine-tunes
the model the engine serves when that is allowed (training.trainer.can_finetune)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.settings import Settings
from knowledge.seeding import open_seeded
from knowledge.store import KnowledgeBase
from training.engine_admin import ReloadFailed, load_model, loaded_model
from training.trainer import ensure_model, validate_data


async def retrain(settings: Settings, *, reload: bool, quick: bool) -> int:
    database = await open_seeded(settings)
    try:
        kb = KnowledgeBase(database.sessions)
        if await validate_data(settings, kb) != 0:
            print(f"Training data is invalid; see {settings.data_dir}/logs/validate.log", file=sys.stderr)
            return 1
        served = await loaded_model(settings) if quick else None
        result = await ensure_model(settings, kb, base=settings.models_dir / served if served else None)
    finally:
        await database.close()
    how = f"Fine-tuned {result.finetuned_from} into" if result.finetuned_from else "Trained"
    print(
        f"{how if result.trained else 'Up to date:'} {result.model.name}"
        + (f" in {result.seconds:.0f} s" if result.trained else "")
    )
    if reload:
        await load_model(settings, result.model)
        print("The engine now serves it.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reload", action="store_true", help="swap the model into the running engine")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fine-tune the model the engine serves, when allowed, instead of training from scratch",
    )
    args = parser.parse_args(argv)
    try:
        return asyncio.run(retrain(Settings(), reload=args.reload, quick=args.quick))
    except (ReloadFailed, ValueError, OSError) as error:
        print(f"Refused: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
