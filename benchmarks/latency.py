"""Reply latency and throughput with N simulated users talking at once, through the whole stack.

    .venv/bin/python -m benchmarks.latency                       # 10, 100 and 500 users
    .venv/bin/python -m benchmarks.latency --users 100 --messages 10
    .venv/bin/python -m benchmarks.latency --smoke               # tiny, for CI
    .venv/bin/python -m benchmarks.latency --users 100 --during-training   # while staff's publish retrains

Users write held-out questions in az/ru/en through the Telegram emulator → gateway → engine → action
server → knowledge base, wait for the answer, read it for 5–15 s (`--think`), and write again. Latency is measured from
sending to the first reply arriving in the chat (what a user feels, minus Telegram's own network).
Also the engine's own parse latency (its HTTP API, no dialogue, no actions). With `--during-training`, a
whole training of the shipped data runs on the same cores meanwhile, at `--training-niceness` (the
setting `training_niceness`), as when staff publish; the report says whether it was still running at the end of
each load run. Prints a table and writes var/benchmarks/latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import shutil
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from benchmarks.load import (
    PeakMemory,
    cpu_by_service,
    driver_for,
    message_pool,
    rss_by_service,
    running_stack,
    simulate,
    stack_settings,
)
from benchmarks.metrics import REPORTS, summary, table, write_report
from core.settings import Settings
from core.tasks import cancel_and_wait
from knowledge.seeding import knowledge_base
from training.trainer import ensure_model


async def engine_parse_latency(settings, texts: list[str], concurrency: int) -> dict[str, float]:
    token = settings.engine_api_token.get_secret_value()
    url = f"http://127.0.0.1:{settings.engine_port}/model/parse"
    latencies: list[float] = []
    queue = list(texts)

    async def worker(session: ClientSession) -> None:
        while queue:
            text = queue.pop()
            started = time.perf_counter()
            async with session.post(url, params={"token": token}, json={"text": text}) as response:
                response.raise_for_status()
                await response.read()
            latencies.append((time.perf_counter() - started) * 1000)

    async with ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return summary(latencies)


async def train_meanwhile(work: Path, niceness: int) -> None:
    """A whole training of the shipped data into a scratch models folder, as a publish starts one."""
    settings = stack_settings(work / "training").model_copy(
        update={"models_dir": work / "training" / "models", "training_niceness": niceness}
    )
    async with knowledge_base(settings) as kb:
        await ensure_model(settings, kb, force=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = REPORTS / "latency-stack"
    shutil.rmtree(work, ignore_errors=True)
    report: dict[str, Any] = {"think_s": args.think, "messages_per_user": args.messages, "runs": []}
    async with running_stack(work) as (stack, startup_s), contextlib.AsyncExitStack() as meanwhile:
        training = None
        if args.during_training:
            report["during_training"] = {"niceness": args.training_niceness}
            training = asyncio.create_task(train_meanwhile(work, args.training_niceness))
            meanwhile.push_async_callback(cancel_and_wait, training)  # run_rasa kills Rasa with its children
            await asyncio.sleep(1 if args.smoke else 20)  # past the data checks, into the featurizers and DIET
        report["start_to_first_answer_s"] = round(startup_s, 1)
        report["rss_after_start_mb"] = rss_by_service(stack)
        pool = [t for texts in message_pool().values() for t in texts]
        texts = list(itertools.islice(itertools.cycle(pool), args.parse))
        report["engine_parse_ms"] = {
            "sequential": await engine_parse_latency(stack.settings, texts, 1),
            "concurrency_10": await engine_parse_latency(stack.settings, texts, 10),
        }
        next_user = 1_000_000
        async with driver_for(stack.settings) as driver:
            for users in args.users:
                print(f"· {users} users × {args.messages} messages…", flush=True)
                cpu_before = cpu_by_service(stack)
                async with PeakMemory(stack) as memory:
                    result = await simulate(driver, users, args.messages, tuple(args.think), next_user)
                cpu_after = cpu_by_service(stack)
                answered = max(len(result.latencies_ms), 1)
                next_user += users
                report["runs"].append(
                    {
                        "users": users,
                        "messages": result.messages,
                        "answered": len(result.latencies_ms),
                        "errors": result.errors,
                        "handed_over": result.handed_over,
                        "unanswered": result.unanswered,
                        "seconds": round(result.seconds, 1),
                        "messages_per_s": round(result.throughput, 2),
                        "latency_ms": summary(result.latencies_ms),
                        "peak_rss_mb": memory.peak,
                        "cpu_ms_per_answer": {
                            name: round((cpu_after.get(name, 0) - cpu_before.get(name, 0)) * 1000 / answered, 1)
                            for name in cpu_after
                        },
                        **({"training_still_running": not training.done()} if training else {}),
                    }
                )
        if training is not None and training.done() and training.exception():
            raise RuntimeError("the training run meanwhile failed") from training.exception()
    return report


def print_report(report: dict[str, Any]) -> None:
    if "during_training" in report:
        still = [r["users"] for r in report["runs"] if r.get("training_still_running")]
        print(
            f"\nDuring a whole training at niceness {report['during_training']['niceness']}; still training at "
            f"the end of the runs with {', '.join(map(str, still)) or 'none of the'} users"
        )
    print(
        f"\nStart to first answer: {report['start_to_first_answer_s']} s; "
        f"think time {report['think_s'][0]}–{report['think_s'][1]} s, {report['messages_per_user']} messages per user"
    )
    rows = [
        [
            r["users"],
            r["messages"],
            r["latency_ms"]["p50"],
            r["latency_ms"]["p95"],
            r["latency_ms"]["p99"],
            r["latency_ms"]["max"],
            r["messages_per_s"],
            r["errors"],
            r["handed_over"],
            r["peak_rss_mb"].get("engine", 0.0),
        ]
        for r in report["runs"]
    ]
    print(
        table(
            [
                "users",
                "messages",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "msg/s",
                "errors",
                "handed over",
                "engine RSS MB",
            ],
            rows,
        )
    )
    print(
        "CPU per answered message (ms), by process: "
        + "; ".join(
            f"{r['users']} users: " + ", ".join(f"{n} {v}" for n, v in r["cpu_ms_per_answer"].items())
            for r in report["runs"]
        )
    )
    for mode, s in report["engine_parse_ms"].items():
        print(
            f"engine /model/parse ({mode}, {s['n']} texts): p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms, "
            f"p99 {s['p99']:.1f} ms"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default=[10, 100, 500], type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--messages", type=int, default=5, help="messages per user")
    parser.add_argument(
        "--think",
        default=[5.0, 15.0],
        type=lambda s: [float(x) for x in s.split(",")],
        help="min,max seconds a user reads before writing again",
    )
    parser.add_argument("--parse", type=int, default=300, help="texts for the engine's parse latency")
    parser.add_argument("--report", type=Path, default=None, help="where the JSON report goes")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--during-training", action="store_true", help="a whole training runs meanwhile")
    parser.add_argument(
        "--training-niceness",
        type=int,
        default=Settings.model_fields["training_niceness"].default,
        help="its CPU priority (nice); the setting training_niceness by default",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.messages, args.think, args.parse = [2, 3], 2, [0.1, 0.3], 10
    report = asyncio.run(run(args))
    print_report(report)
    print(f"\nreport: {write_report('latency' + ('-smoke' if args.smoke else ''), report, args.report)}")


if __name__ == "__main__":
    main()
