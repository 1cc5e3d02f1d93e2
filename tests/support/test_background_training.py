"""The background training of the shipped data's model (tests/support/background_training.py): stopping it must not
leave Rasa running, an orphaned training would hold both cores for minutes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from core.settings import PROJECT_ROOT
from tests.support.background_training import BackgroundTraining


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not running.
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_stopping_kills_the_training_with_its_children(tmp_path):
    log = tmp_path / "training.log"
    # A parent that starts a child and waits, as `python -m tests.support.background_training` waits for `rasa train`.
    process = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout is not None
    child = int(process.stdout.readline())
    log.write_text("training…\n", encoding="utf-8")
    training = BackgroundTraining(process, log)
    training.stop()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child) and process.returncode is not None
    assert training.summary().startswith(f"exit {process.returncode}, not waited for: training…")


def test_waiting_reports_the_exit_code_and_how_long_the_tests_waited(tmp_path):
    log = tmp_path / "training.log"
    log.write_text("trained model-x.tar.gz in 1 s\n", encoding="utf-8")
    training = BackgroundTraining(subprocess.Popen(["sh", "-c", "sleep 0.3; exit 3"], start_new_session=True), log)
    assert training.wait() == 3
    assert training.waited_s is not None and training.waited_s >= 0.2
    assert training.summary().startswith("exit 3, waited for 0 s: trained model-x.tar.gz in 1 s")


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_stopping_reaches_rasa_in_its_own_session(tmp_path):
    # As in a real run: the wrapper's run_rasa starts the engine's Python in a session of its own, where a
    # signal to the wrapper's group does not reach (an orphaned training once ran on after a test session).
    marker = f"background-training-test-{uuid.uuid4().hex}"
    script = (
        "import sys; from core.settings import Settings; from training.trainer import run_rasa; "
        "from tests.support.background_training import run_until_terminated; "
        "run_until_terminated(run_rasa(Settings(), '-c', 'import time, sys; time.sleep(120)', sys.argv[1], "
        "python=True))"
    )
    process = subprocess.Popen([sys.executable, "-c", script, marker], cwd=PROJECT_ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not [p for p in _processes_with(marker) if p != process.pid]:
        time.sleep(0.1)
    rasa = [p for p in _processes_with(marker) if p != process.pid]
    assert rasa, "the engine's Python did not start"
    log = tmp_path / "training.log"
    log.write_text("training…\n", encoding="utf-8")
    BackgroundTraining(process, log).stop()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in rasa) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in rasa)
    assert process.returncode == 0  # it ended by cancelling its training, not by a kill
