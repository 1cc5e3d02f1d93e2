"""Where each process's CPU goes under load: the latency benchmark's stack and simulated users, with py-spy
sampling the engine, the gateway and the action server at the same time.

    .venv/bin/python -m benchmarks.profile                       # 100 users, 60 s of samples
    .venv/bin/python -m benchmarks.profile --users 50 --seconds 30 --top 40 --processes engine

py-spy (a test extra in pyproject.toml) reads the processes' memory from outside, so it needs ptrace rights
(root, or kernel.yama.ptrace_scope 0); it does not pause them. For each process this prints the functions
with the most samples, inclusive (the function and what it calls) and self (its own lines), as shares of all
samples, and writes var/benchmarks/profile.json with the raw stacks beside it. Waiting is sampled too: an
event loop waiting for work shows as self time of its run function (sanic's `serve`, `EpollSelector.select`),
a worker thread waiting for a job as self time of its loop (aiosqlite's): read the other shares against
the samples that are not waiting. Numbers from a profile are for finding costs; latency.py measures the effect.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.load import driver_for, running_stack, simulate
from benchmarks.metrics import REPORTS, table, write_report
from core.tasks import cancel_and_wait

_LINE = re.compile(r":\d+\)$")
_PROCESS = re.compile(r'^process \d+:"')  # with --subprocesses, each stack starts with its process


def summarise(raw: Iterable[str], top: int = 25) -> dict[str, Any]:
    """py-spy's raw output ("outer (file:line);...;inner (file:line) COUNT" per stack) -> the `top` functions
    by inclusive and by self samples, as shares of all samples. Lines of one function count together."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_LINE.sub(")", frame) for frame in stack.split(";") if not _PROCESS.match(frame)]
        if not frames:
            continue
        for frame in set(frames):  # a recursive function counts once per stack
            inclusive[frame] += n
        own[frames[-1]] += n

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(n / total, 4)) for name, n in counter.most_common(top)] if total else []

    # The outer frames of the main thread (the process, `main`, the event loop's run) all have the same,
    # largest count and say nothing: left out. Other threads' samples make that count less than the total.
    outermost = max(inclusive.values(), default=0)
    for name in [name for name, n in inclusive.items() if n == outermost]:
        del inclusive[name]
    return {"samples": total, "inclusive": shares(inclusive), "self": shares(own)}


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: `make setup` installs it with the test extras")
    return found


async def record(pid: int, seconds: int, rate: int, out: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        py_spy(),
        "record",
        "-p",
        str(pid),
        "-d",
        str(seconds),
        "-r",
        str(rate),
        "--format",
        "raw",
        "-o",
        str(out),
        "--nonblocking",
        "--subprocesses",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, error = await process.communicate()
    if process.returncode != 0 or not out.exists():  # noqa: ASYNC240 - py-spy has exited: nothing else to wait for
        raise RuntimeError(f"py-spy failed on pid {pid} (ptrace rights?): {error.decode(errors='replace')[-500:]}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = REPORTS / "profile-stack"
    shutil.rmtree(work, ignore_errors=True)
    # Enough messages that nobody has finished before the sampling ends (users read 5-15 s between them).
    messages = int((args.warmup + args.seconds) / 5) + 2
    report: dict[str, Any] = {"users": args.users, "seconds": args.seconds, "rate_hz": args.rate, "processes": {}}
    async with running_stack(work) as (stack, _), driver_for(stack.settings) as driver:
        pids = {s.name: s.process.pid for s in stack.services if s.name in args.processes and s.process is not None}
        load = asyncio.create_task(simulate(driver, args.users, messages, (5.0, 15.0), 1_000_000))
        try:
            await asyncio.sleep(args.warmup)  # users arrive over their first reading time
            print(f"· sampling {', '.join(pids)} for {args.seconds} s under {args.users} users…", flush=True)
            await asyncio.gather(
                *(record(pid, args.seconds, args.rate, work / f"{name}.raw") for name, pid in pids.items())
            )
        finally:
            await cancel_and_wait(load)
    for name in pids:
        raw = work / f"{name}.raw"
        report["processes"][name] = {
            **summarise(raw.read_text(encoding="utf-8").splitlines(), args.top),
            "raw": str(raw),
        }
    return report


def print_report(report: dict[str, Any]) -> None:
    for name, profile in report["processes"].items():
        print(
            f"\n{name}: {profile['samples']} samples at {report['rate_hz']} Hz over {report['seconds']} s "
            f"({report['users']} users)"
        )
        for kind in ("inclusive", "self"):
            rows = [[function[:110], f"{share:.1%}"] for function, share in profile[kind]]
            print(table([f"function (file), by {kind} samples", "share"], rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60, help="how long to sample")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of load before sampling")
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--top", type=int, default=25, help="functions listed per process")
    parser.add_argument("--processes", default=["engine", "gateway", "actions"], type=lambda s: s.split(","))
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    print_report(report)
    print(f"\nreport: {write_report('profile', report, args.report)}")


if __name__ == "__main__":
    main()
