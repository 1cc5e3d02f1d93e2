"""Passwords (scrypt), logins with lockout, sessions and CSRF tokens for the staff console."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from assistant.db import as_utc
from console.models import StaffSession, StaffUser
from knowledge.curation import Actor, Role

USERNAME = re.compile(r"[\w.@-]{2,80}")
SESSION_HOURS = 12
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
        return hmac.compare_digest(actual, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


_DUMMY_HASH = hash_password("timing-equaliser")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Login:
    actor: Actor
    csrf_token: str


class LoginRefused(Exception):
    pass


class StaffAuth:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def create_user(self, username: str, password: str, role: Role) -> None:
        """Adds an account, or resets one: a new password and role, unlocked, and every session it had
        ended (whoever knew the old password is logged out)."""
        if not USERNAME.fullmatch(username):
            raise ValueError("user names are 2 to 80 letters, digits, '.', '_', '-' or '@', without spaces")
        if len(password) < 10:
            raise ValueError("passwords need at least 10 characters")
        async with self._sessions() as session, session.begin():
            existing = await session.scalar(select(StaffUser).where(StaffUser.username == username))
            if existing is not None:
                existing.password_hash, existing.role, existing.active = hash_password(password), role.value, True
                existing.failed_logins, existing.locked_until = 0, None
                await session.execute(delete(StaffSession).where(StaffSession.user_id == existing.id))
            else:
                session.add(StaffUser(username=username, password_hash=hash_password(password), role=role.value))

    async def users(self) -> list[StaffUser]:
        async with self._sessions() as session:
            return list((await session.scalars(select(StaffUser).order_by(StaffUser.username))).all())

    async def count(self) -> int:
        return len(await self.users())

    async def log_in(self, username: str, password: str) -> str:
        """Returns a new session token; raises LoginRefused with the same message for every failure."""
        refused = LoginRefused("Wrong user name or password, or the account is locked for a while.")
        token: str | None = None
        # The failure counter must be committed, so decide inside the transaction and raise after it.
        async with self._sessions() as session, session.begin():
            user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
            if user is None or not user.active:
                verify_password(password, _DUMMY_HASH)  # same time as a real check: no user enumeration
            elif user.locked_until is not None and as_utc(user.locked_until) > _now():
                pass
            elif not verify_password(password, user.password_hash):
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILED_LOGINS:
                    user.locked_until, user.failed_logins = _now() + LOCKOUT, 0
            else:
                user.failed_logins, user.locked_until = 0, None
                token = secrets.token_urlsafe(32)
                session.add(
                    StaffSession(
                        token_hash=_token_hash(token),
                        user_id=user.id,
                        csrf_token=secrets.token_urlsafe(32),
                        expires_at=_now() + dt.timedelta(hours=SESSION_HOURS),
                    )
                )
                await session.execute(delete(StaffSession).where(StaffSession.expires_at < _now()))
        if token is None:
            raise refused
        return token

    async def session(self, token: str | None) -> Login | None:
        if not token:
            return None
        async with self._sessions() as session:
            row = await session.get(StaffSession, _token_hash(token))
            if row is None or as_utc(row.expires_at) < _now():
                return None
            user = await session.get(StaffUser, row.user_id)
            if user is None or not user.active:
                return None
            return Login(Actor(user.username, Role(user.role)), row.csrf_token)

    async def log_out(self, token: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))
