"""`python -m training` as an operator runs it by hand: the shipped data's model is found by its fingerprint
and reused, not trained again."""

import os
import subprocess
import sys

from core.settings import PROJECT_ROOT


def test_retraining_by_hand_reuses_the_model_of_unchanged_data(tmp_path):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "training"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Up to date: model-"), result.stdout
    assert "Trained" not in result.stdout and "The engine now serves it" not in result.stdout
