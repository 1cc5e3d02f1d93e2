"""The knowledge CLI as scripts and CI use it: a real subprocess per command."""

import os
import subprocess
import sys

import pytest
import yaml

from core.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow  # a Python process per command


def cli(tmp_path, *args, check=True):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "knowledge", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_export_edit_validate_import_publish(tmp_path):
    exported = tmp_path / "kb.yml"
    cli(tmp_path, "export", str(exported))
    entries = yaml.safe_load(exported.read_text())
    assert len(entries) >= 16
    entries[0]["texts"]["en"]["answer"] += " Changed by a script."
    changed = tmp_path / "changed.yml"
    changed.write_text(yaml.safe_dump(entries[:1], allow_unicode=True))
    assert "1 entries are valid" in cli(tmp_path, "validate", str(changed)).stdout
    assert "drafts in review" in cli(tmp_path, "import", str(changed)).stdout
    key = entries[0]["key"]
    assert "Published" in cli(tmp_path, "publish", key).stdout
    again = yaml.safe_load(cli(tmp_path, "export").stdout)
    assert again[0]["texts"]["en"]["answer"].endswith("Changed by a script.")


def test_invalid_file_is_refused(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump([{"key": "x", "topic": "nope"}]))
    result = cli(tmp_path, "validate", str(bad), check=False)
    assert result.returncode == 1 and "Invalid entries" in result.stderr
    result = cli(tmp_path, "publish", "registration_who_when_how", check=False)
    assert result.returncode == 1 and "no draft" in result.stderr
