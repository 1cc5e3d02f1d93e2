"""`python -m console serve` runs the staff console; `create-user NAME --role ROLE` adds or resets an account
(the password is read from ASSISTANT_NEW_PASSWORD or asked for; a reset unlocks it and logs it out everywhere,
and leaves a deactivated account deactivated);
`deactivate NAME` logs an account out everywhere and keeps it from logging in, `reactivate NAME` undoes that,
`unlock NAME` lifts its lock after failed logins."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from aiohttp import web
from pydantic import ValidationError
from pydantic_settings import SettingsError

from console.app import build
from console.auth import StaffAuth
from core.logs import configure_logging
from core.settings import Settings
from knowledge.curation import Role
from knowledge.seeding import open_seeded


async def create_user(settings: Settings, username: str, role: Role, password: str) -> bool:
    """Whether the account is active (a reset leaves a deactivated account deactivated)."""
    database = await open_seeded(settings)
    try:
        return await StaffAuth(database.sessions).create_user(username, password, role)
    finally:
        await database.close()


async def change_account(settings: Settings, command: str, username: str) -> None:
    database = await open_seeded(settings)
    try:
        auth = StaffAuth(database.sessions)
        if command == "unlock":
            await auth.unlock(username)
        else:
            await auth.set_active(username, command == "reactivate")
    finally:
        await database.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve")
    user = sub.add_parser("create-user")
    user.add_argument("username")
    user.add_argument("--role", choices=[r.value for r in Role], default="editor")
    for command in ("deactivate", "reactivate", "unlock"):
        sub.add_parser(command).add_argument("username")
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, SettingsError) as error:
        print(f"Settings refused: {error}", file=sys.stderr)
        return 2
    if args.command in ("deactivate", "reactivate", "unlock"):
        try:
            asyncio.run(change_account(settings, args.command, args.username))
        except ValueError as error:
            print(f"Not changed: {error}", file=sys.stderr)
            return 1
        done = {"deactivate": "deactivated and logged out", "reactivate": "reactivated", "unlock": "unlocked"}
        print(f"Account {args.username} {done[args.command]}.")
        return 0
    if args.command == "create-user":
        password = os.environ.get("ASSISTANT_NEW_PASSWORD") or getpass.getpass("Password (10+ characters): ")
        try:
            active = asyncio.run(create_user(settings, args.username, Role(args.role), password))
        except ValueError as error:
            print(f"Not saved: {error}", file=sys.stderr)
            return 1
        print(f"Account {args.username} ({args.role}) saved.")
        if not active:
            print(f"It stays deactivated: `python -m console reactivate {args.username}` lets it log in again.")
        return 0
    configure_logging("console", settings.log_level)
    web.run_app(build(settings), host=settings.console_host, port=settings.console_port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
