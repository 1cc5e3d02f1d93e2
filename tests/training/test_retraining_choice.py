"""Which training a retraining run gets: a quick update (the served model fine-tuned on the new data) or a
training from scratch. The real fine-tuning runs in tests/e2e/test_retraining.py; here the choice itself,
with a fake build step that records what it was asked for."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.settings import Settings
from knowledge.seeding import open_seeded
from training.retraining import Retrainer
from training.trainer import TrainingResult, can_finetune, generated_dir, lineage_of, structure, write_lineage


def _faq(settings: Settings, keys: list[str]) -> None:
    path = generated_dir(settings) / "faq.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    responses = {f"utter_faq/{key}": [{"custom": {"type": "faq_ref", "entry": key}}] for key in keys}
    path.write_text(yaml.safe_dump({"version": "3.1", "responses": responses}), encoding="utf-8")


def test_a_quick_update_needs_the_same_structure_and_a_limit_on_updates_in_a_row(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, models_dir=tmp_path / "models", finetunes_before_full=2)
    _faq(settings, ["fees", "visa"])
    settings.models_dir.mkdir()
    base = settings.models_dir / "model-base.tar.gz"
    base.write_bytes(b"a model")
    assert not can_finetune(settings, None)
    assert lineage_of(base) == {} and not can_finetune(settings, base)  # made before lineages were kept
    write_lineage(base, {"structure": structure(settings), "finetunes": 0, "base": None})
    assert can_finetune(settings, base)
    write_lineage(base, {"structure": structure(settings), "finetunes": 1, "base": "model-older.tar.gz"})
    assert can_finetune(settings, base)
    write_lineage(base, {"structure": structure(settings), "finetunes": 2, "base": "model-older.tar.gz"})
    assert not can_finetune(settings, base)  # two quick updates in a row: the next trains from scratch
    write_lineage(base, {"structure": structure(settings), "finetunes": 0, "base": None})
    assert not can_finetune(settings.model_copy(update={"finetunes_before_full": 0}), base)  # turned off
    _faq(settings, ["fees", "visa", "work_permit"])  # a new entry is a new label
    assert not can_finetune(settings, base)
    _faq(settings, ["fees", "visa"])
    assert can_finetune(settings, base)
    base.unlink()
    assert not can_finetune(settings, base)


async def test_publishes_update_the_served_model_and_staff_can_ask_for_a_training_from_scratch(db_settings, tmp_path):
    settings = db_settings.model_copy(update={"models_dir": tmp_path / "models"})
    settings.models_dir.mkdir()
    (settings.models_dir / "model-a.tar.gz").write_bytes(b"served")
    database = await open_seeded(settings)
    served: dict = {"name": "model-a.tar.gz"}
    calls: list[tuple[bool, str | None]] = []

    async def build(settings: Settings, kb, *, force: bool, base: Path | None) -> TrainingResult:
        calls.append((force, base.name if base else None))
        model = settings.models_dir / f"model-{len(calls)}.tar.gz"
        model.write_bytes(b"trained")
        return TrainingResult(model, "digest", True, 1.0, finetuned_from=base.name if base else None)

    async def reload(result: TrainingResult, run_id: int) -> None:
        served["name"] = result.model.name

    async def served_model() -> str | None:
        if served["name"] == "unreachable":
            raise ConnectionError("engine down")
        return served["name"]

    retrainer = Retrainer(settings, database.sessions, reload, served_model, build)
    # Asked for before the worker runs: one run serves both, and one asked for a training from scratch.
    await retrainer.request("rita")
    await retrainer.request("adam", full=True)
    await retrainer.start()
    try:
        await retrainer.wait_idle(10)
        await retrainer.request("rita")  # a publish: the served model (model-1, just loaded) is updated
        await retrainer.wait_idle(10)
        served["name"] = "model-elsewhere.tar.gz"  # served, but not from our models folder
        await retrainer.request("rita")
        await retrainer.wait_idle(10)
        served["name"] = "unreachable"
        await retrainer.request("rita")
        await retrainer.wait_idle(10)
        runs = list(reversed(await retrainer.runs()))
    finally:
        await retrainer.stop()
        await database.close()
    assert calls == [(True, None), (False, "model-1.tar.gz"), (False, None), (False, None)]
    assert [(r.full, r.finetuned_from, r.model, r.status) for r in runs] == [
        (False, None, "model-1.tar.gz", "succeeded"),
        (True, None, "model-1.tar.gz", "succeeded"),
        (False, "model-1.tar.gz", "model-2.tar.gz", "succeeded"),
        (False, None, "model-3.tar.gz", "succeeded"),
        (False, None, "model-4.tar.gz", "succeeded"),
    ]
