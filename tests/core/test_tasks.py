"""Background jobs stop even when something inside them swallows the cancellation (redis-py did, once:
a stopping inbox then waited forever for its sweeper)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from core.periodic import Periodic
from core.settings import Settings
from core.tasks import cancel_and_wait
from training.trainer import run_rasa


async def stubborn(swallow: int, started: asyncio.Event) -> str:
    """Shrugs off the first `swallow` cancellations, the way a library catching CancelledError would."""
    started.set()
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallow == 0:
                raise
            swallow -= 1


async def test_a_task_that_swallows_cancellations_is_cancelled_until_it_stops():
    started = asyncio.Event()
    task = asyncio.create_task(stubborn(2, started))
    await started.wait()
    await asyncio.wait_for(cancel_and_wait(task, every_s=0.05), timeout=5)
    assert task.cancelled()


async def test_cancelling_nothing_or_a_finished_task_is_harmless():
    await cancel_and_wait(None)
    done = asyncio.create_task(asyncio.sleep(0))
    await done
    await cancel_and_wait(done)

    async def fail() -> None:
        raise RuntimeError("already failed")

    failed = asyncio.create_task(fail())
    await asyncio.wait({failed})
    await cancel_and_wait(failed)  # its exception is retrieved, not raised here


async def test_a_periodic_job_whose_call_swallows_the_cancellation_still_stops():
    calls = 0
    in_call = asyncio.Event()

    async def job() -> None:
        nonlocal calls
        calls += 1
        in_call.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return  # swallowed: the loop would go on sleeping and running the job

    periodic = Periodic("stubborn", job, 0.01)
    periodic.start()
    await in_call.wait()
    await asyncio.wait_for(periodic.stop(), timeout=5)
    assert calls == 1


async def test_a_periodic_job_runs_again_after_it_fails(caplog):
    calls = 0
    third = asyncio.Event()

    async def job() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        raise RuntimeError("not yet")

    periodic = Periodic("failing", job, 0.01)
    periodic.start()
    await asyncio.wait_for(third.wait(), 5)
    await periodic.stop()
    assert "failing failed" in caplog.text


def _venv_of_this_python(tmp_path: Path) -> Path:
    """run_rasa starts programs from the engine's environment: here a "venv" whose python is this one."""
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(sys.executable)
    return tmp_path / "venv"


async def test_a_cancelled_training_run_kills_its_process(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, rasa_venv=_venv_of_this_python(tmp_path))
    pid_file = tmp_path / "pid"
    child = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    task = asyncio.create_task(run_rasa(settings, "-c", child, python=True))
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())
    await asyncio.wait_for(cancel_and_wait(task), timeout=5)
    assert task.cancelled()
    for _ in range(100):  # reaped by asyncio's child watcher shortly after the kill
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"training process {pid} outlived its cancelled task")


async def test_a_training_run_takes_a_lower_cpu_priority(tmp_path):
    # The priority takes effect; whether it shortens replies is measured, not tested (docs/benchmarks.md).
    settings = Settings(
        _env_file=None, data_dir=tmp_path, rasa_venv=_venv_of_this_python(tmp_path), training_niceness=7
    )
    log = tmp_path / "child.log"
    code = await run_rasa(
        settings, "-c", "import os; print(os.nice(0))", python=True, log_file=log, niceness=settings.training_niceness
    )
    assert code == 0
    assert int(log.read_text().strip()) == min(os.nice(0) + 7, 19)


async def test_within_asks_until_yes_or_the_deadline():
    from core.tasks import within

    answers = iter([False, False, True])
    asked = 0

    async def third_time() -> bool:
        nonlocal asked
        asked += 1
        return next(answers)

    assert await within(5, 0.01, third_time) and asked == 3

    async def never() -> bool:
        return False

    started = asyncio.get_running_loop().time()
    assert not await within(0.1, 0.01, never)
    assert asyncio.get_running_loop().time() - started >= 0.1
