"""The shipped data's model, trained in the background while the tests that do not need it run.

Why: a whole training is 4-8 minutes of the 2 cores, and the end-to-end tests and the benchmarks' smoke
runs wait for it. Started when the session starts (tests/conftest.py), at the lower CPU priority every
training runs at (`training_niceness`) so the tests running meanwhile keep theirs, it trains exactly what
`ensure_model` would: the same data, into the shared models/ folder under the same fingerprint, where the
tests' own `ensure_model` then finds it.

    .venv/bin/python -m tests.support.background_training DATA_DIR     # what the session starts
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from core.settings import PROJECT_ROOT
from core.tasks import kill_process_group


class BackgroundTraining:
    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self._process = process
        self.log = log
        self.waited_s: float | None = None  # how long the tests that need the model waited for it

    @classmethod
    def start(cls, data_dir: Path) -> BackgroundTraining:
        log = data_dir / "background-training.log"
        # A Rasa cache of its own: Rasa's is one SQLite file, and a training that finds it locked by another
        # (the accuracy benchmark's smoke run trains meanwhile) fails.
        env = {**os.environ, "RASA_CACHE_DIRECTORY": str(data_dir / "rasa-cache")}
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.background_training", str(data_dir)],
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(process, log)

    def wait(self) -> int:
        """The training's exit code, once it has finished."""
        started = time.monotonic()
        code = self._process.wait()
        if self.waited_s is None:
            self.waited_s = time.monotonic() - started
        return code

    def stop(self) -> None:
        """Stops the training, Rasa included, should the session end first.

        Rasa runs in a session of its own (`run_rasa`), out of reach of a signal to this process's group: SIGTERM
        makes the wrapper cancel its training, and `run_rasa` kills Rasa's group on the way out. The wrapper's
        own group is killed as well, should it not have finished in time."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_process_group(self._process)
                self._process.wait()
            # Whatever is left in the wrapper's group. The group's id cannot have been reused: the kernel keeps
            # it while any member lives, and with none left this finds nothing.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)

    def summary(self) -> str:
        """How it went, for the session's report: where CI's minutes go."""
        lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        waited = "not waited for" if self.waited_s is None else f"waited for {self.waited_s:.0f} s"
        return f"exit {self._process.returncode}, {waited}: {lines[-1] if lines else 'no output'} ({self.log})"


async def _train(data_dir: Path) -> None:
    from assistant.launcher import loopback_settings
    from knowledge.seeding import knowledge_base
    from training.trainer import ensure_model

    settings = loopback_settings(data_dir, log_level="WARNING")
    async with knowledge_base(settings) as kb:
        result = await ensure_model(settings, kb)
    print(f"{'trained' if result.trained else 'found'} {result.model.name} in {result.seconds:.0f} s", flush=True)


def run_until_terminated(main: Coroutine[Any, Any, None]) -> None:
    """Runs `main`; SIGTERM cancels it (asyncio's default would end the process with no clean-up at all)."""

    async def guarded() -> None:
        task = asyncio.current_task()
        assert task is not None  # a coroutine run by asyncio.run is a task
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await main

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(guarded())


if __name__ == "__main__":
    run_until_terminated(_train(Path(sys.argv[1])))
