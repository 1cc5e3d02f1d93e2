"""Stopping background tasks for sure, and waiting for a condition with a deadline.

A cancelled task can swallow its cancellation: a library may catch CancelledError inside a call (redis-py
did so here, in a Redis call cancelled mid-flight) and the task carries on to its next `await`. A single
`cancel()` followed by `await task` then waits forever, which is how a stopping inbox once hung a test run.
So cancel again until the task is really done.

A child process does not die with the task that awaited it: `kill_process_group` ends it and its children.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task | None, *, every_s: float = 0.5) -> None:
    """Cancels `task` and waits until it has finished, cancelling again if it shrugs the cancellation off."""
    if task is None:
        return
    attempts = 0
    while not task.done():
        task.cancel()
        attempts += 1
        await asyncio.wait({task}, timeout=every_s)
    if attempts > 1:
        log.warning("task %s needed %d cancellations to stop", task.get_name(), attempts)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


def kill_process_group(process: asyncio.subprocess.Process | subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signals a child started with `start_new_session=True`, and everything it started; gone is fine."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)


async def within(seconds: float, every_s: float, done: Callable[[], Awaitable[bool]]) -> bool:
    """Asks `done` every `every_s` until it says yes (True), or until `seconds` have passed (False)."""
    deadline = time.monotonic() + seconds
    while not await done():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every_s)
    return True
