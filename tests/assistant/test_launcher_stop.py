"""Stopping the stack is bounded as a whole: a reply in flight holds a gateway and then the engine, and their
waits must not add up (a Ctrl-C during a slow status lookup once took 12 s to return to the shell)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from assistant.launcher import Service, Stack, child_setup, http_ok, loopback_settings

# A service that finishes its work before it goes: SIGTERM is noted and ignored.
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


async def stubborn(name: str) -> Service:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        STUBBORN,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=child_setup,
    )
    assert process.stdout is not None
    await process.stdout.readline()  # its handler is in place
    return Service(name, [], http_ok("http://127.0.0.1:9/"), {}, process=process)


async def test_one_deadline_for_the_gateways_and_the_rest(tmp_path: Path) -> None:
    stack = Stack(loopback_settings(tmp_path), Path("unused"), with_emulator=False)
    stack.services = [await stubborn("engine"), await stubborn("actions"), await stubborn("gateway")]
    started = time.monotonic()
    await stack.stop(timeout_s=2.0)
    took = time.monotonic() - started
    assert all(s.process is not None and s.process.returncode is not None for s in stack.services)
    assert took < 3.0, f"{took:.1f} s: the gateways' wait and the others' wait added up"
