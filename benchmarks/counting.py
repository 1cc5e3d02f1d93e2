"""What counting for the Overview costs the gateway per message (analytics/counting.py): the in-memory count
on the reply path, and the periodic write to the database, on SQLite (or `--database-url`).

    .venv/bin/python -m benchmarks.counting
    .venv/bin/python -m benchmarks.counting --messages 50000 --per-flush 250

Messages spread over realistic keys (three languages, the outcomes, a hundred entries, two channels) and chats;
each flush writes what `--per-flush` messages counted (250: 50 messages a second at the default 5 s).
The latency benchmark measures the same in the whole stack (gateway CPU per answered message).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from analytics.counting import UsageCounter
from analytics.outcomes import CHANNELS, OUTCOMES
from benchmarks.metrics import table, write_report
from core.bootstrap import open_database
from core.coordination import MemoryCoordination
from core.secret_key import keyed_hash
from core.settings import Settings


async def measure(messages: int, per_flush: int, database_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="counting-") as folder:
        settings = Settings(_env_file=None, data_dir=Path(folder))
        if database_url:
            settings = settings.model_copy(update={"database_url": database_url})
        database = await open_database(settings)
        try:
            secret = b"0" * 32
            counter = UsageCounter(
                database.sessions, MemoryCoordination(), lambda chat: keyed_hash(secret, str(chat)), 60
            )
            rng = random.Random(1)
            entries = [f"entry_{n:03d}" for n in range(100)]
            keys = [
                (
                    rng.randrange(50_000),
                    rng.choice(("az", "ru", "en")),
                    rng.choice(list(OUTCOMES)),
                    rng.choice(CHANNELS),
                )
                for _ in range(messages)
            ]
            count_s = flush_s = 0.0
            flushes = 0
            for start in range(0, messages, per_flush):
                batch = keys[start : start + per_flush]
                began = time.process_time()
                for chat, language, outcome, channel in batch:
                    counter.count(
                        chat, language, outcome, channel, rng.choice(entries) if outcome == "answered" else None
                    )
                count_s += time.process_time() - began
                began = time.perf_counter()
                await counter.flush()
                flush_s += time.perf_counter() - began
                flushes += 1
        finally:
            await database.close()
    return {
        "messages": messages,
        "per_flush": per_flush,
        "database": "postgresql" if database_url else "sqlite",
        "count_us_per_message": round(count_s / messages * 1e6, 2),
        "flush_ms": round(flush_s / flushes * 1000, 2),
        "flush_us_per_message": round(flush_s / messages * 1e6, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--per-flush", type=int, default=250, help="messages counted between two writes")
    parser.add_argument(
        "--database-url", help="another database (a PostgreSQL URL); SQLite in a scratch folder by default"
    )
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.messages, args.per_flush, args.database_url))
    print(
        table(
            ["database", "messages", "per flush", "count µs/msg (CPU)", "flush ms", "flush µs/msg (wall)"],
            [
                [
                    result["database"],
                    result["messages"],
                    result["per_flush"],
                    result["count_us_per_message"],
                    result["flush_ms"],
                    result["flush_us_per_message"],
                ]
            ],
        )
    )
    print(f"written to {write_report('counting', result)}")


if __name__ == "__main__":
    main()
