"""Runs a snippet in the engine's environment (.venv-rasa: Rasa, TensorFlow, scikit-learn live there, not in
the test environment) and returns the JSON it prints last."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from core.settings import Settings
from training.trainer import PROJECT_ROOT, rasa_env, rasa_python


def run_in_engine_env(script: str, timeout_s: float = 300) -> Any:
    settings = Settings()
    done = subprocess.run(
        [str(rasa_python(settings)), "-c", script],
        cwd=PROJECT_ROOT,
        env=rasa_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:  # what went wrong, not the script back
        raise AssertionError(f"the engine-side script failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
