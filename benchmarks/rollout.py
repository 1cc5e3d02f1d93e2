"""A publish under steady traffic: how long until every engine serves the new model, and what users feel
meanwhile (assistant/rollout.py).

    .venv/bin/python -m benchmarks.rollout                       # two engines, one (blue/green), one in place
    .venv/bin/python -m benchmarks.rollout --scenarios replicas --users 50
    .venv/bin/python -m benchmarks.rollout --smoke               # tiny, for the test suite

Each scenario starts the whole stack (two engines behind HAProxy on a PostgreSQL server and a Redis of the
run's own; or one engine on the embedded SQLite), lets `--users` users talk steadily (the latency benchmark's
users: a held-out question, the answer, 5-15 s of reading, again), and has staff publish a new way to ask in
the console. The console
retrains (a quick update; the model is cached by fingerprint, so later runs skip the training) and the
rollout controller moves the engines to the new model. Reported per scenario:
- the rollout: from the training's end (the pointer moved) to every engine serving the new model, and each
  engine's switch;
- the replies while it ran, against those before it: count, failures (no answer in 30 s), p50/p95/max
  latency and how many took over 1 s.
`in place` (one engine, `engine_blue_green` off) is what the engine's own loading does to replies: Rasa's
`PUT /model` and its model-server pull both load in the event loop that serves messages.
Prints a table and writes var/benchmarks/rollout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.load import driver_for, message_pool, running_stack, told_of_handover
from benchmarks.metrics import fmt, summary, table, write_report
from benchmarks.publishing import NEW_QUESTION, create_staff, last_run, publish_variant
from benchmarks.services import private_postgres, private_redis
from core.bootstrap import open_database
from core.db import as_utc
from training.model_store import ModelStore

SCENARIOS = ("replicas", "blue-green", "in-place")
SLOW_MS = 1000.0


@dataclass
class Exchange:
    sent: float  # time.time()
    latency_ms: float | None  # None: no answer in time


@dataclass
class Traffic:
    exchanges: list[Exchange] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    handed_over: int = 0


async def steady_users(
    driver, users: int, traffic: Traffic, first_user: int, think_s: tuple[float, float], seed: int = 7
) -> None:
    """The latency benchmark's users (benchmarks/load.py): held-out questions, an answer, `think_s` of reading.
    One whose chat is handed to people stops there (the bot then stays silent, rightly), and a new user takes
    their place, so the traffic stays as steady through the rollout."""
    pool = message_pool()
    languages = sorted(pool)
    rng = random.Random(seed)
    newcomers = itertools.count(first_user + users)

    async def user(user_id: int) -> None:
        local = random.Random(rng.random())
        language = languages[user_id % len(languages)]
        await asyncio.sleep(local.uniform(0, think_s[1]))
        while not traffic.stop.is_set():
            sent, started = time.time(), time.perf_counter()
            latency: float | None = None
            sent_id: int | None = None
            try:
                message = await driver.send_text(user_id, local.choice(pool[language]), language_code=language)
                sent_id = message["message"]["message_id"]
                replies = await driver.wait_messages(user_id, 1, after_id=sent_id, timeout=30)
                if replies:
                    latency = (time.perf_counter() - started) * 1000
            except Exception:  # noqa: BLE001 - any failed exchange counts as failed; the user goes on
                latency = None
            traffic.exchanges.append(Exchange(sent, latency))
            await asyncio.sleep(local.uniform(*think_s))
            with contextlib.suppress(Exception):  # the emulator's trouble shows as failed exchanges above
                if sent_id is not None and await told_of_handover(driver, user_id, sent_id):
                    traffic.handed_over += 1
                    user_id = next(newcomers)

    await asyncio.gather(*(user(first_user + i) for i in range(users)))


def window(exchanges: list[Exchange], start: float, end: float) -> dict[str, Any]:
    inside = [e for e in exchanges if start <= e.sent <= end]
    answered = [e.latency_ms for e in inside if e.latency_ms is not None]
    return {
        "replies": len(inside),
        "failed": sum(e.latency_ms is None for e in inside),
        "over_1s": sum(latency > SLOW_MS for latency in answered),
        "latency_ms": summary(answered) if answered else {},
    }


@contextlib.asynccontextmanager
async def scenario_overrides(name: str) -> AsyncIterator[dict[str, Any]]:
    if name == "replicas":
        async with private_redis() as redis, private_postgres() as postgres:
            yield {"database_url": postgres.url(), "redis_url": redis.url, "engine_replicas": 2}
    else:
        yield {"engine_blue_green": name == "blue-green"}


async def run_scenario(name: str, users: int, settle_s: float, think_s: tuple[float, float]) -> dict[str, Any]:
    async with (
        scenario_overrides(name) as overrides,
        running_stack(Path(tempfile.mkdtemp(prefix="rollout-")), flood_messages=1000, **overrides) as (stack, _),
    ):
        settings = stack.settings
        await create_staff(settings)
        async with driver_for(settings) as driver:
            traffic = Traffic()
            talking = asyncio.create_task(steady_users(driver, users, traffic, 900_000, think_s))
            await asyncio.sleep(settle_s)
            published = time.time()
            await publish_variant(f"http://127.0.0.1:{settings.console_port}", NEW_QUESTION)
            run = await last_run(settings, timeout_s=1800)
            await asyncio.sleep(settle_s)
            traffic.stop.set()
            await talking
        database = await open_database(settings)
        try:
            (view,) = await ModelStore(database.sessions).recent(1)
        finally:
            await database.close()
    rollout, switches = view.rollout, view.switches
    began = as_utc(rollout.created_at).timestamp()
    ended = as_utc(rollout.finished_at or rollout.created_at).timestamp()
    return {
        "scenario": name,
        "engines": 2 if name == "replicas" else 1,
        "users": users,
        "handed_over": traffic.handed_over,
        "run": {"status": run.status, "seconds": run.seconds, "error": run.error, "model": run.model},
        "training_s": round(began - published, 1),
        "rollout": {
            "status": rollout.status,
            "seconds_to_every_engine": round(ended - began, 1),
            "switches": [
                {
                    "engine": s.engine,
                    "how": s.how,
                    "status": s.status,
                    "seconds": round((as_utc(s.finished_at or s.started_at) - as_utc(s.started_at)).total_seconds(), 1),
                }
                for s in switches
            ],
        },
        "before": window(traffic.exchanges, 0, published),
        "during_training": window(traffic.exchanges, published, began),
        "during_rollout": window(traffic.exchanges, began, ended),
        "after": window(traffic.exchanges, ended, time.time()),
    }


def print_report(report: dict[str, Any]) -> None:
    rows = []
    for result in report["scenarios"]:
        rollout = result["rollout"]
        for label in ("before", "during_rollout", "after"):
            w = result[label]
            latency = w["latency_ms"]
            rows.append(
                [
                    result["scenario"] if label == "before" else "",
                    f"{rollout['seconds_to_every_engine']} s ({rollout['status']})" if label == "before" else "",
                    label.replace("_", " "),
                    w["replies"],
                    w["failed"],
                    w["over_1s"],
                    fmt(latency.get("p50", ""), 0),
                    fmt(latency.get("p95", ""), 0),
                    fmt(latency.get("max", ""), 0),
                ]
            )
    print(
        table(
            [
                "scenario",
                "training end → all engines",
                "window",
                "replies",
                "failed",
                "> 1 s",
                "p50 ms",
                "p95 ms",
                "max ms",
            ],
            rows,
        )
    )
    for result in report["scenarios"]:
        switches = ", ".join(
            f"{s['engine']} {s['how']} {s['status']} in {s['seconds']} s" for s in result["rollout"]["switches"]
        )
        print(f"{result['scenario']}: training {result['training_s']} s; {switches or 'no switch'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), type=lambda s: s.split(","))
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--settle", type=float, default=30.0, help="seconds of traffic before and after")
    parser.add_argument("--think", type=float, nargs=2, default=(5.0, 15.0), help="reading time between messages")
    parser.add_argument("--smoke", action="store_true", help="one engine, 3 users: the script works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.scenarios, args.users, args.settle, args.think = ["blue-green"], 3, 3.0, (1.0, 2.0)

    async def run() -> dict[str, Any]:
        think = (args.think[0], args.think[1])
        results = [await run_scenario(name, args.users, args.settle, think) for name in args.scenarios]
        return {"users": args.users, "think_s": think, "scenarios": results}

    report = asyncio.run(run())
    print_report(report)
    print(f"written to {write_report('rollout-smoke' if args.smoke else 'rollout', report)}")


if __name__ == "__main__":
    main()
