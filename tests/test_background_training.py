"""The background training of the shipped data's model (tests/background_training.py): stopping it must not
leave Rasa running, an orphaned training would hold both cores for minutes."""

from __future__ import annotations

import os
import subprocess
import time

from tests.background_training import BackgroundTraining


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
    # A parent that starts a child and waits, as `python -m tests.background_training` waits for `rasa train`.
    process = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
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
