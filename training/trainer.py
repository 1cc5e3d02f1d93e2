"""Training the engine's model: generate FAQ data from the knowledge base, fingerprint, train only if needed.

The fingerprint covers everything the model is made from (domain, config, hand-written NLU data, the data
generated from the knowledge base, the Rasa version), so a model is trained once per distinct input and
reused by the launcher, the tests and the benchmarks alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.settings import PROJECT_ROOT, Settings
from core.tasks import kill_process_group
from engine.vector_cache import DIRECTORY_VARIABLE
from knowledge.store import KnowledgeBase
from knowledge.training_data import render_nlu

log = logging.getLogger(__name__)
RASA_VERSION = "3.6.21"
DOMAIN = PROJECT_ROOT / "domain.yml"
CONFIG = PROJECT_ROOT / "config.yml"
# Custom pipeline components: a change to their code is a change to the model.
ENGINE_CODE = tuple(
    PROJECT_ROOT / "engine" / f"{name}.py"
    for name in ("tokenizer", "folding", "lexical", "blend", "embedding", "sentence_encoder")
)
NLU_DIR = PROJECT_ROOT / "nlu_data"


@dataclass(frozen=True)
class TrainingResult:
    model: Path
    fingerprint: str
    trained: bool  # False when an existing model with the same fingerprint was reused
    seconds: float
    finetuned_from: str | None = None  # the model a quick update started from; None: trained from scratch
    # (for a reused model, what its lineage says)


def generated_dir(settings: Settings) -> Path:
    return settings.data_dir / "generated"


def rasa_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        TF_CPP_MIN_LOG_LEVEL="2",
        TF_INTRA_OP_PARALLELISM_THREADS="2",
        TF_INTER_OP_PARALLELISM_THREADS="1",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        RASA_TELEMETRY_ENABLED="false",
        LOG_LEVEL_LIBRARIES="ERROR",
    )
    return env


def rasa_python(settings: Settings) -> Path:
    """The engine environment's interpreter (the engine's entry point, scripts that need Rasa)."""
    return settings.rasa_venv / "bin" / "python"


def other_intents() -> dict[str, list[str]]:
    """The written intents' examples (nlu_data/nlu_<lang>.yml): greetings, thanks, "no", out of scope…"""
    intents: dict[str, list[str]] = {}
    for path in sorted(NLU_DIR.glob("nlu_*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" in item:
                lines = str(item.get("examples") or "").splitlines()
                examples = [line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")]
                intents.setdefault(str(item["intent"]), []).extend(examples)
    return intents


async def write_generated_data(settings: Settings, kb: KnowledgeBase) -> Path:
    target = generated_dir(settings)
    target.mkdir(parents=True, exist_ok=True)
    path = target / "faq.yml"
    content = render_nlu(await kb.export(), other_intents())
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")
    return path


def data_files(settings: Settings) -> list[Path]:
    return [*sorted(NLU_DIR.glob("*.yml")), generated_dir(settings) / "faq.yml"]


def _digest(paths: list[Path], *extra: bytes) -> str:
    """Rasa's version, each file's name and content, then `extra`: 20 hex digits."""
    digest = hashlib.sha256(RASA_VERSION.encode())
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for data in extra:
        digest.update(data)
    return digest.hexdigest()[:20]


def fingerprint(settings: Settings) -> str:
    return _digest([DOMAIN, CONFIG, *ENGINE_CODE, *data_files(settings)])


def model_for(settings: Settings, digest: str) -> Path:
    return settings.models_dir / f"model-{digest}.tar.gz"


def structure(settings: Settings) -> str:
    """What a fine-tuned model must share with the model it starts from: everything but the examples
    (configuration, domain, our components' code, Rasa's version and the FAQ entries, which are labels)."""
    generated = yaml.safe_load((generated_dir(settings) / "faq.yml").read_text(encoding="utf-8")) or {}
    return _digest([DOMAIN, CONFIG, *ENGINE_CODE], json.dumps(sorted(generated.get("responses") or {})).encode())


def _lineage_path(model: Path) -> Path:
    return model.with_name(model.name.removesuffix(".tar.gz") + ".lineage.json")


def lineage_of(model: Path) -> dict:
    """What a model was made from, written beside it: {"structure", "finetunes" (quick updates in a row
    since the last training from scratch), "base"}; {} for a model trained before lineages were kept."""
    try:
        lineage = json.loads(_lineage_path(model).read_text())
    except (OSError, ValueError):
        return {}
    return lineage if isinstance(lineage, dict) else {}


def write_lineage(model: Path, lineage: dict) -> None:
    _lineage_path(model).write_text(json.dumps(lineage))


def can_finetune(settings: Settings, base: Path | None) -> bool:
    if base is None or not base.exists() or settings.finetunes_before_full == 0:
        return False
    lineage = lineage_of(base)
    return (
        lineage.get("structure") == structure(settings)
        and int(lineage.get("finetunes", 0)) < settings.finetunes_before_full
    )


async def run_rasa(
    settings: Settings, *args: str, log_file: Path | None = None, python: bool = False, niceness: int = 0
) -> int:
    """Runs `rasa ARGS` (through engine/serve.py, which speeds Rasa up) or, with `python`, `python ARGS`
    in the engine's environment, at `niceness` (`nice`: a lower CPU priority); the exit code.

    Cancelled (the console stopping mid-training, a test's teardown), the run is killed with its children:
    an orphaned training would hold both cores for minutes. A killed training leaves no model (ensure_model
    trains into a scratch folder), so SIGKILL loses nothing."""
    if not python:
        args = ("-m", "engine.serve", *args)
    command = [str(rasa_python(settings)), *args]
    if niceness:
        command = ["nice", "-n", str(niceness), *command]
    # Handed to the child and closed below; a local file in append mode opens at once.
    out = open(log_file, "ab") if log_file else None  # noqa: SIM115, ASYNC230
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=PROJECT_ROOT,
            env={**rasa_env(settings), DIRECTORY_VARIABLE: str(settings.models_dir / "cache")},
            stdout=asyncio.subprocess.DEVNULL if out is None else out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return await process.wait()
        except BaseException:
            kill_process_group(process)
            raise
    finally:
        if out is not None:
            out.close()


async def validate_data(settings: Settings, kb: KnowledgeBase) -> int:
    await write_generated_data(settings, kb)
    log_file = settings.data_dir / "logs" / "validate.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    data = [str(p) for p in data_files(settings)]
    return await run_rasa(
        settings,
        "data",
        "validate",
        "--fail-on-warnings",
        "--domain",
        str(DOMAIN),
        "--config",
        str(CONFIG),
        "--data",
        *data,
        log_file=log_file,
    )


async def ensure_model(
    settings: Settings, kb: KnowledgeBase, *, force: bool = False, base: Path | None = None
) -> TrainingResult:
    """Returns the model for the current data, training it first when no model has its fingerprint.

    With `base` (the model being served) the training is a quick update when `can_finetune`: Rasa
    fine-tunes `base` on the current data for a fraction of the epochs; the vocabularies grow with new
    words. A fine-tuning that fails falls back to a training from scratch."""
    await write_generated_data(settings, kb)
    digest = fingerprint(settings)
    model = model_for(settings, digest)
    if model.exists() and not force:
        return TrainingResult(model, digest, trained=False, seconds=0.0, finetuned_from=lineage_of(model).get("base"))
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.data_dir / "logs" / "train.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    shape = structure(settings)
    finetuned_from = None
    if base is not None and can_finetune(settings, base):
        if await _train(
            settings,
            model,
            log_file,
            "--finetune",
            str(base),
            "--epoch-fraction",
            str(settings.finetune_epoch_fraction),
        ):
            finetuned_from = base.name
        else:
            log.warning("fine-tuning %s failed (see %s); training from scratch", base.name, log_file)
    if finetuned_from is None and not await _train(settings, model, log_file):
        raise RuntimeError(f"training failed; see {log_file}")
    finetunes = int(lineage_of(base).get("finetunes", 0)) + 1 if finetuned_from and base else 0
    write_lineage(model, {"structure": shape, "finetunes": finetunes, "base": finetuned_from})
    seconds = time.monotonic() - started
    log.info(
        "%s model %s in %.0f s",
        f"fine-tuned {finetuned_from} into" if finetuned_from else "trained",
        model.name,
        seconds,
    )
    return TrainingResult(model, digest, trained=True, seconds=seconds, finetuned_from=finetuned_from)


async def _train(settings: Settings, model: Path, log_file: Path, *extra: str) -> bool:
    """One `rasa train` into `model`; False when it failed. It trains into a scratch folder and moves the
    result in, so a failed or interrupted run never leaves a half-written model under the final name."""
    scratch = settings.data_dir / "training-out"
    shutil.rmtree(scratch, ignore_errors=True)
    code = await run_rasa(
        settings,
        "train",
        "--domain",
        str(DOMAIN),
        "--config",
        str(CONFIG),
        "--data",
        *[str(p) for p in data_files(settings)],
        "--out",
        str(scratch),
        "--fixed-model-name",
        model.name.removesuffix(".tar.gz"),
        *extra,
        log_file=log_file,
        niceness=settings.training_niceness,
    )
    produced = scratch / model.name
    if code != 0 or not produced.exists():
        log.warning("rasa train %s exited with %s", " ".join(extra[:1]) or "(from scratch)", code)
        return False
    shutil.move(produced, model)
    shutil.rmtree(scratch, ignore_errors=True)
    return True
