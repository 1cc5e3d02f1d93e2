"""`python -m assistant COMMAND`: run | train | validate | chat.

run       trains the model if it is missing or out of date, starts every process and, without a Telegram
          token, opens a chat in this terminal through the bundled Bot API emulator. Ctrl-C stops all.
train     trains the model if needed (--force: always).
validate  checks the training data and domain with `rasa data validate`.
chat      a terminal chat against an already running emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import os
import signal
import sys
from pathlib import Path

from assistant.bootstrap import knowledge_base, open_database
from assistant.launcher import Stack
from assistant.logs import configure_logging
from assistant.settings import PROJECT_ROOT, Settings
from assistant.terminal_chat import TerminalChat
from assistant.training import ensure_model, validate_data
from console.auth import StaffAuth
from knowledge.curation import Role
from telegram_emulator.driver import EmulatorDriver


def say(text: str) -> None:
    print(text, flush=True)


async def _model(settings: Settings, force: bool = False):
    async with knowledge_base(settings) as kb:
        say("Checking the model…")
        result = await ensure_model(settings, kb, force=force)
    say(f"Trained {result.model.name} in {result.seconds:.0f} s." if result.trained
        else f"Model {result.model.name} is up to date.")
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
    async with EmulatorDriver(settings.emulator_url, settings.bot_token) as driver:
        await TerminalChat(driver, color=sys.stdout.isatty()).run()
    return 0


async def cmd_run(settings: Settings, chat: bool) -> int:
    if not settings.demo_mode and settings.webhook_url is None:
        say("A Telegram token is set: serving real Telegram with long polling.")
    say("Training the model first if needed (the first run takes a few minutes)…")
    result = await _model(settings)
    stack = Stack(settings, result.model, with_emulator=settings.demo_mode)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stack.start(progress=say)
        say(f"The assistant is running. Logs: {settings.data_dir / 'logs'}")
        say(f"Staff console: http://{settings.console_host}:{settings.console_port}/")
        if settings.demo_mode:
            password = await ensure_demo_admin(settings)
            if password:
                say(f"  first run: log in as 'admin' with password '{password}' (shown once; "
                    "change it under Users, or create accounts with `python -m console create-user`)")
        if settings.demo_mode and chat:
            say("No TELEGRAM_BOT_TOKEN: chatting through the local Telegram emulator.\n")
            async with EmulatorDriver(settings.emulator_url, settings.bot_token) as driver:
                chat_task = asyncio.create_task(TerminalChat(driver, color=sys.stdout.isatty()).run())
                stop_task = asyncio.create_task(stop.wait())
                await asyncio.wait({chat_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
                for task in (chat_task, stop_task):
                    task.cancel()
        else:
            say("Press Ctrl-C to stop.")
            await stop.wait()
    finally:
        say("\nStopping…")
        with contextlib.suppress(Exception):
            await stack.stop()
        say("Stopped.")
    return 0


async def ensure_demo_admin(settings: Settings) -> str | None:
    """Without any staff account the console could not be tried: make an admin with a random password."""
    database = await open_database(settings, seed=False)
    try:
        auth = StaffAuth(database.sessions)
        if await auth.count():
            return None
        password = secrets.token_urlsafe(12)
        await auth.create_user("admin", password, Role.admin)
        return password
    finally:
        await database.close()


SERVICES = ("case-api", "actions", "engine", "console", "gateway")


async def cmd_serve(settings: Settings, name: str) -> int:
    """One service in the foreground, exactly as `run` would start it (containers: one service each)."""
    model = (await _model(settings)).model if name == "engine" else Path("unused")
    stack = Stack(settings, model, with_emulator=False)
    service = next((s for s in stack.plan() if s.name == name), None)
    if service is None:
        say(f"{name} is not part of this configuration (e.g. the case-API sandbox only runs when "
            "ASSISTANT_CASE_API_URL points at it)")
        return 2
    os.chdir(PROJECT_ROOT)
    os.execvpe(service.argv[0], service.argv, service.env)  # replaces this process: signals go straight to it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train if needed, start everything, chat in the terminal")
    run.add_argument("--no-chat", action="store_true", help="do not open the terminal chat")
    train = sub.add_parser("train", help="train the model if needed")
    train.add_argument("--force", action="store_true")
    sub.add_parser("validate", help="rasa data validate")
    sub.add_parser("chat", help="terminal chat against a running emulator")
    serve = sub.add_parser("serve", help="run one service in the foreground (containers)")
    serve.add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)

    settings = Settings()
    configure_logging("launcher", "WARNING")
    logging.getLogger("assistant").setLevel(logging.WARNING)
    if args.command == "run":
        return asyncio.run(cmd_run(settings, chat=not args.no_chat and sys.stdin.isatty()))
    if args.command == "train":
        return asyncio.run(cmd_train(settings, args.force))
    if args.command == "validate":
        return asyncio.run(cmd_validate(settings))
    if args.command == "serve":
        return asyncio.run(cmd_serve(settings, args.service))
    return asyncio.run(cmd_chat(settings))


if __name__ == "__main__":
    sys.exit(main())
