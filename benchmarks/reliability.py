"""Reliability of the scale-out configuration under load and faults: is every message answered, once, in
order, while processes and databases die and come back?

    .venv/bin/python -m benchmarks.reliability                  # 500 users, 10 000 messages, with faults
    .venv/bin/python -m benchmarks.reliability --no-faults
    .venv/bin/python -m benchmarks.reliability --smoke          # tiny, for the test suite

The stack: a PostgreSQL server of the run's own (benchmarks/services.py), a private Redis with its append-only
file, two engines and two gateways in webhook mode behind HAProxy, the action server, the
emulator as Telegram. Users send bursts of 1-3 messages (under the flood limit), wait for the answers, read
for a while, and go on. Every message is a knowledge-base question whose answer the model gives reliably
(checked once before the run), so each reply says which message it answers: the run compares what each
chat received with what it asked, position by position.

Faults, spread over the run (`--faults`): the action server, one engine and one gateway killed (SIGKILL)
and restarted; Redis killed and restarted; PostgreSQL stopped and started (on by default; `--no-postgres`
leaves it up). Both servers are the run's own, on free loopback ports: the machine's are never touched. A
kind apology instead of an answer is allowed while something is down, and counted; a lost, doubled or
reordered answer is not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.launcher import Stack, free_port
from benchmarks.load import driver_for, running_stack
from benchmarks.metrics import REPORTS, percentile, table, write_report
from benchmarks.services import PostgresServer, RedisServer, private_postgres, private_redis, restart_postgres
from bot.texts import TEXTS
from core.i18n import gettext
from core.settings import PROJECT_ROOT
from knowledge.schema import load_dir
from telegram_emulator.driver import EmulatorDriver, text_of
from telegram_emulator.html_check import parse_html

PROBE_USER = 990_000_001
FIRST_USER = 991_000_001


def candidate_questions() -> list[tuple[str, str]]:
    """(language, question) for every entry that answers without handing the chat to people."""
    entries = load_dir(PROJECT_ROOT / "knowledge" / "seed")
    return [
        (lang, text.question)
        for entry in entries
        if not entry.needs_person
        for lang, text in sorted(entry.texts.items())
    ]


def signature(message: dict[str, Any]) -> str:
    """What identifies an answer: its first line (the entry's title)."""
    return text_of(message).split("\n", 1)[0].strip()


def apology_starts() -> tuple[str, ...]:
    return tuple(
        parse_html(gettext(lang, TEXTS[key])).text[:30]
        for lang in ("az", "ru", "en")
        for key in ("engine_down", "error")
    )


async def probe(driver: EmulatorDriver, want: int, seed: int) -> dict[str, tuple[str, str]]:
    """Questions answered with exactly one message, and a different first line each: text -> (lang, sig)."""
    rng = random.Random(seed)
    candidates = candidate_questions()
    rng.shuffle(candidates)
    chosen: dict[str, tuple[str, str]] = {}
    seen: set[str] = set()
    for i, (lang, question) in enumerate(candidates):
        if len(chosen) >= want:
            break
        user = PROBE_USER + i
        replies = await driver.ask(user, question, language_code=lang, timeout=60)
        await asyncio.sleep(0.3)
        replies = await driver.messages(user)
        if len(replies) == 1 and replies[0].get("reply_markup") and signature(replies[0]) not in seen:
            seen.add(signature(replies[0]))
            chosen[question] = (lang, signature(replies[0]))
    return chosen


@dataclass
class Outcome:
    users: int = 0
    sent: int = 0
    answered: int = 0  # the right answer, in its place
    apologies: int = 0  # a kind apology in the answer's place
    lost: int = 0
    doubled: int = 0
    out_of_order: int = 0
    wrong: int = 0  # some other reply in that place
    waits_ms: list[float] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    seconds: float = 0.0


def compare(
    expected: list[str], got: list[str], apologies: tuple[str, ...], samples: list[str] | None = None
) -> Counter:
    """Position by position: expected signatures against received ones (`samples` collects the odd ones)."""
    counts: Counter = Counter()
    for i, want in enumerate(expected):
        if i >= len(got):
            counts["lost"] += 1
        elif got[i] == want:
            counts["answered"] += 1
        elif got[i].startswith(apologies):
            counts["apologies"] += 1
        elif got[i] in expected:
            counts["out_of_order"] += 1
        else:
            counts["wrong"] += 1
            if samples is not None and len(samples) < 10:
                samples.append(f"expected {want!r}, got {got[i][:120]!r}")
    counts["doubled"] += max(0, len(got) - len(expected))
    return counts


async def load(
    driver: EmulatorDriver,
    questions: dict[str, tuple[str, str]],
    users: int,
    messages: int,
    think_s: tuple[float, float],
    seed: int,
) -> tuple[dict[int, list[str]], list[float]]:
    """Runs the conversations; returns what each user asked (signatures) and the burst wait times."""
    rng = random.Random(seed)
    texts = sorted(questions)
    expected: dict[int, list[str]] = {}
    waits: list[float] = []

    async def conversation(user: int) -> None:
        local = random.Random(rng.random())
        mine = [t for t in texts if questions[t][0] == ("az", "ru", "en")[user % 3]] or texts
        expected[user] = []
        await asyncio.sleep(local.uniform(0, think_s[1]))
        while len(expected[user]) < messages:
            burst = [local.choice(mine) for _ in range(min(local.randint(1, 3), messages - len(expected[user])))]
            started = time.perf_counter()
            for text in burst:
                await driver.send_text(user, text, language_code=questions[text][0])
                expected[user].append(questions[text][1])
            with contextlib.suppress(Exception):  # a missing answer is counted at the end
                await driver.wait_messages(user, len(burst), timeout=120)
            waits.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(local.uniform(*think_s))

    await asyncio.gather(*(conversation(FIRST_USER + i) for i in range(users)))
    return expected, waits


async def inject_faults(
    stack: Stack, redis: RedisServer, postgres: PostgresServer | None, duration_s: float, log: list[str]
) -> None:
    """Kills and restarts, spread over the expected duration of the load (PostgreSQL's too, if given)."""
    faults = [("actions", "kill"), ("engine-1", "kill"), ("gateway-1", "kill"), ("redis", "kill")]
    if postgres is not None:
        faults.append(("postgres", "restart"))
    step = duration_s / (len(faults) + 1)
    for name, how in faults:
        await asyncio.sleep(step)
        started = time.monotonic()
        if name == "redis":
            await asyncio.to_thread(redis.restart, 2.0, True)  # killed: the harshest way for it to go
        elif name == "postgres" and postgres is not None:
            await restart_postgres(postgres, down_s=2.0)
        else:
            process = stack.service(name).process
            assert process is not None, name  # the stack is serving the load
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            await stack.restart_service(name)
        log.append(f"{name} {how}ed at {time.monotonic() - started:.1f} s down")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = args.work or Path(tempfile.mkdtemp(prefix="reliability-"))
    async with private_redis() as redis, private_postgres() as postgres:
        port = free_port()
        overrides = {
            "database_url": postgres.url(),
            "redis_url": redis.url,
            "engine_replicas": 2,
            "gateway_replicas": 2,
            "webhook_url": f"http://127.0.0.1:{port}",
            "webhook_port": port,
            "webhook_secret": "reliability-run",
            "engine_timeout_s": args.engine_timeout,
        }
        async with running_stack(work, **overrides) as (stack, _), driver_for(stack.settings) as driver:
            print("· choosing questions the model answers reliably…", flush=True)
            questions = await probe(driver, 12 if args.smoke else 45, args.seed)
            print(
                f"· {args.users} users × {args.messages} messages ({len(questions)} distinct questions)"
                f"{', with faults' if args.faults else ''}…",
                flush=True,
            )
            outcome = Outcome(users=args.users)
            # Expected duration at the engines' pace, so the faults land while the load is on.
            expected_s = max(20.0, args.users * args.messages / args.pace)
            faults = (
                asyncio.create_task(
                    inject_faults(stack, redis, postgres if args.postgres else None, expected_s, outcome.faults)
                )
                if args.faults
                else None
            )
            started = time.monotonic()
            expected, outcome.waits_ms = await load(
                driver, questions, args.users, args.messages, (args.think_min, args.think_max), args.seed
            )
            if faults is not None:
                await faults
            await asyncio.sleep(5)  # late or doubled answers would arrive now
            outcome.seconds = time.monotonic() - started
            apologies = apology_starts()
            totals: Counter = Counter()
            samples: list[str] = []
            for user, asked in expected.items():
                got = [signature(m) for m in await driver.messages(user)]
                totals += compare(asked, got, apologies, samples)
            outcome.sent = sum(len(v) for v in expected.values())
            for key in ("answered", "apologies", "lost", "doubled", "out_of_order", "wrong"):
                setattr(outcome, key, totals[key])
    return {
        "users": outcome.users,
        "messages": outcome.sent,
        "answered": outcome.answered,
        "apologies": outcome.apologies,
        "lost": outcome.lost,
        "doubled": outcome.doubled,
        "out_of_order": outcome.out_of_order,
        "wrong": outcome.wrong,
        "seconds": round(outcome.seconds, 1),
        "throughput_msg_s": round(outcome.sent / outcome.seconds, 1) if outcome.seconds else 0.0,
        "burst_wait_ms": {
            "p50": percentile(outcome.waits_ms, 50),
            "p95": percentile(outcome.waits_ms, 95),
            "p99": percentile(outcome.waits_ms, 99),
        },
        "faults": outcome.faults,
        "odd_replies": samples,
        "settings": {k: v for k, v in vars(args).items() if k != "report"},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20, help="per user")
    # Bursts average 2 messages: 500 users reading 40-80 s offer ~17 msg/s, what the 2 cores answer.
    parser.add_argument("--think-min", type=float, default=40.0)
    parser.add_argument("--think-max", type=float, default=80.0)
    parser.add_argument("--pace", type=float, default=16.0, help="expected msg/s, to spread the faults")
    parser.add_argument("--engine-timeout", type=float, default=30.0)
    parser.add_argument("--no-faults", dest="faults", action="store_false")
    parser.add_argument(
        "--no-postgres", dest="postgres", action="store_false", help="do not restart PostgreSQL (the run's own server)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="6 users × 6 messages, faults without PostgreSQL")
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None, help="data and logs of the run (default: a new temp dir)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.messages, args.think_min, args.think_max, args.postgres = 6, 6, 0.5, 1.5, False
    report = asyncio.run(run(args))
    keys = ["users", "messages", "answered", "apologies", "lost", "doubled", "out_of_order", "wrong", "seconds"]
    waits = report["burst_wait_ms"]
    headers = [key.replace("_", " ") for key in keys] + ["msg/s", "burst wait p50 ms", "p95 ms", "p99 ms"]
    row = [report[key] for key in keys] + [report["throughput_msg_s"], waits["p50"], waits["p95"], waits["p99"]]
    print(table(headers, [row]))
    for fault in report["faults"]:
        print(f"  fault: {fault}")
    for sample in report["odd_replies"]:
        print(f"  odd reply: {sample}")
    path = args.report or REPORTS / f"reliability{'-smoke' if args.smoke else ''}.json"
    print(f"\nreport: {write_report('reliability', report, path)}")


if __name__ == "__main__":
    main()
