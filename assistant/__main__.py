"""`python -m assistant COMMAND`: run | train | validate | chat | rotate-data-key.

run       trains the model if it is missing or out of date, starts every process and, without a Telegram
          token, opens a chat in this terminal through the bundled Bot API emulator. Ctrl-C stops all.
train     trains the model if needed (--force: always).
validate  checks the training data and domain with `rasa data validate`.
chat      a terminal chat against an already running emulator.
rotate-data-key
          re-encrypts transcripts, access tokens and chat ids with a new data key (the data folder's own;
          with ASSISTANT_DATA_KEY set, it says how to rotate that one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import ClientError

from assistant.launcher import Stack
from assistant.resealing import rotate
from assistant.terminal_chat import SafeOutput, TerminalChat
from assistant.terminal_group import foreground_group
from console.auth import StaffAuth
from core.bootstrap import open_database
from core.data_key import make_key_files
from core.logs import configure_logging
from core.private_files import keep_private
from core.settings import PROJECT_ROOT, Settings
from core.tasks import cancel_and_wait
from knowledge.curation import Role
from knowledge.seeding import knowledge_base
from telegram_emulator.driver import EmulatorDriver
from training.model_store import ModelStore
from training.publishing import seed
from training.trainer import ensure_model, validate_data

T = TypeVar("T")


OUTPUT = SafeOutput()  # whatever sys.stdout is at the time; a closed pipe never stops the launcher


def say(text: str) -> None:
    print(text, file=OUTPUT, flush=True)


async def _model(settings: Settings, force: bool = False):
    async with knowledge_base(settings) as kb:
        say("Checking the model…")
        result = await ensure_model(settings, kb, force=force)
    say(
        f"Trained {result.model.name} in {result.seconds:.0f} s."
        if result.trained
        else f"Model {result.model.name} is up to date."
    )
    return result


async def cmd_train(settings: Settings, force: bool) -> int:
    await _model(settings, force)
    return 0


async def cmd_validate(settings: Settings) -> int:
    async with knowledge_base(settings) as kb:
        code = await validate_data(settings, kb)
    say("Training data is valid." if code == 0 else f"Validation failed; see {settings.data_dir}/logs/validate.log")
    return code


async def cmd_chat(settings: Settings) -> int:
    """A terminal chat against an assistant started elsewhere (`make run` in another terminal)."""
    try:
        async with EmulatorDriver(settings.emulator_url, settings.bot_token) as driver:
            chat = TerminalChat(driver, color=OUTPUT.isatty())
            try:
                await chat.catch_up()
            except (ClientError, RuntimeError):
                say(f"No assistant answers at {settings.emulator_url}: start one with `make run` first.")
                return 1
            await _until_stopped(chat.run())
    except ClientError as error:
        say(f"Lost the emulator at {settings.emulator_url} ({error.__class__.__name__}).")
        return 1
    return 0


# Ctrl-C, `kill`, and a closed terminal all stop everything this command started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _on_stop_signal(handler: Callable[[], object]) -> Iterator[None]:
    """Calls `handler` on any stop signal while the block runs."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, handler)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def _until_stopped(work: Coroutine[Any, Any, T]) -> T | None:
    """Runs `work` until it ends or a stop signal comes; None if it was stopped."""
    stopped = asyncio.Event()
    with _on_stop_signal(stopped.set):
        task = asyncio.create_task(work)
        waiter = asyncio.create_task(stopped.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                await cancel_and_wait(task)
                return None
            return task.result()
        finally:
            waiter.cancel()
            await cancel_and_wait(task)  # the caller itself cancelled


async def cmd_run(settings: Settings, chat: bool) -> int:
    if not settings.demo_mode and settings.webhook_url is None:
        say("A Telegram token is set: serving real Telegram with long polling.")
    stacks: list[Stack] = []  # the stack, once the model is known: stopped whatever happens after that
    try:
        return await _until_stopped(_serve(settings, chat, stacks)) or 0
    except RuntimeError as error:  # a service that did not start: its log says why
        say(f"Could not start the assistant: {error}")
        return 1
    finally:
        if stacks:
            await _stop(stacks[0])


async def _serve(settings: Settings, chat: bool, stacks: list[Stack]) -> int:
    make_key_files(settings)  # before the first migration, which may encrypt an older version's rows with them
    say("Training the model first if needed (the first run takes a few minutes)…")
    result = await _model(settings)
    stack = Stack(settings, result.model, with_emulator=settings.demo_mode)
    stacks.append(stack)
    await stack.start(progress=say)
    say(f"The assistant is running. Logs: {settings.data_dir / 'logs'}")
    say(f"Staff console: http://{settings.console_host}:{settings.console_port}/")
    if settings.demo_mode:
        password = await ensure_demo_admin(settings)
        if password:
            say(
                f"  first run: log in as 'admin' with password '{password}' (shown once; lost it? "
                "`.venv/bin/python -m console create-user admin --role admin` sets a new one)"
            )
    if not (settings.demo_mode and chat):
        say("Press Ctrl-C to stop.")
        await asyncio.Event().wait()  # until a stop signal
    say("No TELEGRAM_BOT_TOKEN: chatting through the local Telegram emulator.\n")
    async with EmulatorDriver(settings.emulator_url, settings.bot_token) as driver:
        await TerminalChat(driver, color=OUTPUT.isatty()).run()
    return 0


async def _stop(stack: Stack) -> None:
    """Stops every process of the stack; a second Ctrl-C (or any stop signal) kills them at once."""
    say("\nStopping… (Ctrl-C again kills them at once)")
    with _on_stop_signal(stack.kill):
        await stack.stop()
    say("Stopped.")


async def ensure_demo_admin(settings: Settings) -> str | None:
    """Without any staff account the console could not be tried: make an admin with a random password."""
    database = await open_database(settings)
    try:
        auth = StaffAuth(database.sessions)
        if await auth.count():
            return None
        password = secrets.token_urlsafe(12)
        await auth.create_user("admin", password, Role.admin)
        return password
    finally:
        await database.close()


SERVICES = ("case-api", "actions", "engine", "console", "gateway", "balancer", "follower")
# The keys these read each other's rows with (the action server offers a subscription, the gateway serves it):
# made under each container's own data folder, they would differ (core/data_key.py).
KEY_SHARERS, KEYS = ("actions", "console", "gateway"), ("secret_key", "data_key")


def container_stack(settings: Settings) -> Stack:
    """The plan `serve` picks its one service from: one engine, one gateway, whatever the replica settings
    say (the Kubernetes followers read the engine count; compose and Kubernetes run the replicas)."""
    one = settings.model_copy(update={"engine_replicas": 1, "gateway_replicas": 1})
    return Stack(one, Path("unused"), with_emulator=False, per_run_secrets=False)


async def _seed_store(settings: Settings) -> None:
    result = await _model(settings)
    database = await open_database(settings)
    try:
        await seed(ModelStore(database.sessions), result.model, "image", replace=False)
    finally:
        await database.close()


async def cmd_serve(settings: Settings, name: str) -> int:
    """One service in the foreground, exactly as `run` would start it (containers: one service each)."""
    stack = container_stack(settings)
    if missing := stack.missing_secrets(name):  # made up per container, they would differ between containers
        say(f"{', '.join(missing)} must be set, to the same values for every service (deploy/assistant.env)")
        return 2
    if name in KEY_SHARERS and (unset := [f"ASSISTANT_{k.upper()}" for k in KEYS if getattr(settings, k) is None]):
        say(f"{', '.join(unset)} must be set, the same for the gateway, the action server and the console")
        return 2
    if name == "balancer":  # HAProxy and the rollout controller: this process stays, HAProxy is its child
        from assistant.front import serve

        configure_logging("balancer", settings.log_level)
        return await serve(settings)
    if name == "follower":  # Kubernetes: beside an engine, moving it to the pointer (assistant/follower.py)
        from assistant.follower import serve as follow

        configure_logging("follower", settings.log_level)
        return await follow(settings)
    if name == "console":  # the model store starts with the image's model; engines fetch theirs from it
        await _seed_store(settings)
    service = next((s for s in stack.plan() if s.name == name), None)
    if service is None:
        say(
            f"{name} is not part of this configuration (e.g. the case-API sandbox only runs when "
            "ASSISTANT_CASE_API_URL points at it)"
        )
        return 2
    os.chdir(PROJECT_ROOT)
    os.execvpe(service.argv[0], service.argv, service.env)  # replaces this process: signals go straight to it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train if needed, start everything, chat in the terminal")
    run.add_argument("--no-chat", action="store_true", help="do not open the terminal chat")
    train = sub.add_parser("train", help="train the model if needed")
    train.add_argument("--force", action="store_true")
    sub.add_parser("validate", help="rasa data validate")
    sub.add_parser("chat", help="terminal chat against a running emulator")
    serve = sub.add_parser("serve", help="run one service in the foreground (containers)")
    serve.add_argument("service", choices=SERVICES)
    sub.add_parser("rotate-data-key", help="re-encrypt the data at rest with a new data key")
    args = parser.parse_args(argv)

    settings = Settings()
    keep_private(settings.data_dir)
    configure_logging("launcher", "WARNING")
    for ours in ("assistant", "core", "training"):
        logging.getLogger(ours).setLevel(logging.WARNING)
    if args.command == "run":
        with foreground_group():
            return asyncio.run(cmd_run(settings, chat=not args.no_chat and sys.stdin.isatty()))
    if args.command == "train":
        return asyncio.run(cmd_train(settings, args.force))
    if args.command == "validate":
        return asyncio.run(cmd_validate(settings))
    if args.command == "serve":
        return asyncio.run(cmd_serve(settings, args.service))
    if args.command == "rotate-data-key":
        return asyncio.run(rotate(settings, say))
    with foreground_group():
        return asyncio.run(cmd_chat(settings))


if __name__ == "__main__":
    sys.exit(main())
