"""Memory and start-up: RSS of every process after start and under load, time from start to the first
answer, training time and model size.

    .venv/bin/python -m benchmarks.resources             # trains a fresh model too (~5 min)
    .venv/bin/python -m benchmarks.resources --no-train  # measure the cached model only
    .venv/bin/python -m benchmarks.resources --smoke     # tiny, for CI

Prints a table and writes var/benchmarks/resources.json.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.load import PeakMemory, driver_for, rss_by_service, running_stack, simulate, stack_settings
from benchmarks.metrics import REPORTS, table, write_report
from knowledge.seeding import knowledge_base
from training.trainer import ensure_model


async def training(work) -> dict[str, Any]:
    """A fresh training run of the shipped data, into a scratch models folder."""
    settings = stack_settings(work / "train").model_copy(update={"models_dir": work / "models"})
    shutil.rmtree(settings.models_dir, ignore_errors=True)
    async with knowledge_base(settings) as kb:
        started = time.monotonic()
        result = await ensure_model(settings, kb, force=True)
    return {"seconds": round(time.monotonic() - started, 1), "model_mb": round(result.model.stat().st_size / 2**20, 1)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = REPORTS / "resources-stack"
    shutil.rmtree(work, ignore_errors=True)
    report: dict[str, Any] = {}
    if args.train:
        print("· training a fresh model…", flush=True)
        report["training"] = await training(work)
    async with running_stack(work / "stack") as (stack, startup_s):
        report["start_to_first_answer_s"] = round(startup_s, 1)
        report["model_mb"] = round(stack.model.stat().st_size / 2**20, 1)
        await asyncio.sleep(args.settle)
        report["rss_idle_mb"] = rss_by_service(stack)
        print(f"· {args.users} users × {args.messages} messages…", flush=True)
        async with driver_for(stack.settings) as driver, PeakMemory(stack) as memory:
            result = await simulate(driver, args.users, args.messages, (0.5, 1.5), 2_000_000)
        report["load"] = {"users": args.users, "messages": result.messages, "errors": result.errors}
        report["rss_peak_under_load_mb"] = memory.peak
    return report


def print_report(report: dict[str, Any]) -> None:
    print(f"\nStart to first answer: {report['start_to_first_answer_s']} s; model {report['model_mb']} MB")
    if "training" in report:
        print(
            f"Training (fresh, shipped data): {report['training']['seconds']} s → {report['training']['model_mb']} MB"
        )
    load = report["load"]
    names = list(report["rss_idle_mb"])
    rows = [[n, report["rss_idle_mb"].get(n, 0.0), report["rss_peak_under_load_mb"].get(n, 0.0)] for n in names]
    rows.append(["total", sum(r[1] for r in rows), sum(r[2] for r in rows)])
    print(table(["process", "RSS idle MB", f"RSS peak MB ({load['users']} users)"], rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before the idle sample")
    parser.add_argument("--no-train", dest="train", action="store_false")
    parser.add_argument("--report", type=Path, default=None, help="where the JSON report goes")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no training, for CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.messages, args.settle, args.train = 3, 1, 0.5, False
    report = asyncio.run(run(args))
    print_report(report)
    print(f"\nreport: {write_report('resources' + ('-smoke' if args.smoke else ''), report, args.report)}")


if __name__ == "__main__":
    main()
