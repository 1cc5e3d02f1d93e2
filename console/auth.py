"""Passwords (scrypt), logins with throttling, sessions and CSRF tokens, and the staff account lifecycle.

Login throttling (docs/operations.md, "Staff logins"), kept in the database so it holds across restarts
and replicas:
- per source address: ADDRESS_FAILURES refused logins within THROTTLE_WINDOW, whatever user names they tried,
  and that address is refused everything (the right password too) until its oldest failure ages out: a hard
  cap on guessing from one place. An IPv6 address counts by its /64 (one host usually holds a whole /64, so
  counting single addresses would give it 2^64 fresh starts), an IPv4-mapped one as the IPv4 address.
- per account: ACCOUNT_FAILURES wrong passwords lock the account for ACCOUNT_LOCK, but only for addresses it
  has not logged in from in the last KNOWN_FOR. Whoever locks an account from elsewhere does not lock its
  owner out (no lockout denial of service); guesses from the owner's own addresses are still capped by the
  per-address throttle.
Every login runs exactly one password hash check, off the event loop, and every refusal says the same: no
answer, and no answer time, tells whether an account exists, is locked or is deactivated.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from console.models import StaffKnownAddress, StaffLoginFailure, StaffSession, StaffUser
from core.db import as_utc
from knowledge.curation import Actor, Role

log = logging.getLogger(__name__)

USERNAME = re.compile(r"[\w.@-]{2,80}")
SESSION_HOURS = 12
ADDRESS_FAILURES = 10
THROTTLE_WINDOW = dt.timedelta(minutes=15)
ACCOUNT_FAILURES = 5
ACCOUNT_LOCK = dt.timedelta(minutes=15)
KNOWN_FOR = dt.timedelta(days=90)
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


_DUMMY_HASH = hash_password("timing-equaliser")  # checked for unknown and deactivated accounts


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ip_of(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address as an IP address, an IPv4-mapped IPv6 one (`::ffff:192.0.2.1`) as the IPv4 address it
    carries; None when it is not one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_key(address: str) -> str:
    """What login throttling and known addresses count by: an IPv4 address itself, an IPv6 address's /64."""
    ip = ip_of(address)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip) if ip is not None else address[:64]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Login:
    actor: Actor
    csrf_token: str


class LoginRefused(Exception):
    pass


class AccountError(ValueError):
    """An account change that is not allowed (the message says why, for the admin)."""


REFUSED = "Wrong user name or password, or logins are paused for a while."


class StaffAuth:
    def __init__(self, sessions: async_sessionmaker, verify: Callable[[str, str], bool] = verify_password) -> None:
        self._sessions = sessions
        self._verify = verify  # injectable so tests can count hash checks

    # ------------------------------------------------------------------ accounts

    async def create_user(self, username: str, password: str, role: Role) -> bool:
        """Adds an account, or resets one: a new password and role, unlocked, and every session it had
        ended (whoever knew the old password is logged out). A deactivated account stays deactivated (a reset
        is no way around a deactivation): returns whether the account is active."""
        if not USERNAME.fullmatch(username):
            raise ValueError("user names are 2 to 80 letters, digits, '.', '_', '-' or '@', without spaces")
        if len(password) < 10:
            raise ValueError("passwords need at least 10 characters")
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self._sessions() as session, session.begin():
            existing = await session.scalar(select(StaffUser).where(StaffUser.username == username))
            if existing is None:
                session.add(StaffUser(username=username, password_hash=password_hash, role=role.value))
                return True
            if role is not Role.admin:
                await self._keep_an_admin(session, existing, "take the admin role from")
            existing.password_hash, existing.role = password_hash, role.value
            existing.failed_logins, existing.locked_until = 0, None
            await session.execute(delete(StaffSession).where(StaffSession.user_id == existing.id))
            return existing.active

    async def set_active(self, username: str, active: bool, by: str | None = None) -> None:
        """Deactivates (ending every session) or reactivates an account; `by` is the admin doing it, who
        cannot deactivate themselves. The last active admin cannot be deactivated."""
        async with self._sessions() as session, session.begin():
            user = await self._user(session, username)
            if not active:
                if by == username:
                    raise AccountError("you cannot deactivate your own account")
                await self._keep_an_admin(session, user, "deactivate")
                await session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
            user.active = active

    async def unlock(self, username: str) -> None:
        async with self._sessions() as session, session.begin():
            user = await self._user(session, username)
            user.failed_logins, user.locked_until = 0, None

    async def users(self) -> list[StaffUser]:
        async with self._sessions() as session:
            return list((await session.scalars(select(StaffUser).order_by(StaffUser.username))).all())

    async def count(self) -> int:
        return len(await self.users())

    @staticmethod
    async def _user(session: AsyncSession, username: str) -> StaffUser:
        user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None:
            raise AccountError(f"there is no account named {username!r}")
        return user

    @staticmethod
    async def _keep_an_admin(session: AsyncSession, user: StaffUser, doing: str) -> None:
        if user.role != Role.admin.value or not user.active:
            return
        admins = await session.scalar(
            select(func.count()).select_from(StaffUser).where(StaffUser.role == Role.admin.value, StaffUser.active)
        )
        if (admins or 0) <= 1:
            raise AccountError(f"you cannot {doing} the last active admin: make another admin first")

    # ------------------------------------------------------------------ logins

    async def log_in(self, username: str, password: str, address: str = "unknown") -> str:
        """Returns a new session token; raises LoginRefused with the same message for every failure."""
        address = address_key(address)
        async with self._sessions() as session:
            user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
        stored = user.password_hash if user is not None and user.active else _DUMMY_HASH
        correct = await asyncio.to_thread(self._verify, password, stored)
        now = _now()
        token: str | None = None
        # The failure counters must be committed, so decide inside the transaction and raise after it.
        async with self._sessions() as session, session.begin():
            # Concurrent logins from one address, or to one account, take turns: otherwise a burst of parallel
            # guesses would all be judged against the same counts. (SQLite serialises writers anyway.)
            if session.bind.dialect.name == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"login:{address}"})
            mine = StaffLoginFailure.address == address
            await session.execute(delete(StaffLoginFailure).where(mine, StaffLoginFailure.at < now - THROTTLE_WINDOW))
            failures = await session.scalar(select(func.count()).select_from(StaffLoginFailure).where(mine))
            throttled = (failures or 0) >= ADDRESS_FAILURES
            user = await session.scalar(select(StaffUser).where(StaffUser.username == username).with_for_update())
            if user is not None and user.active and user.password_hash == stored and not throttled:
                token = await self._decide(session, user, correct, address, now)
            if token is None and not throttled:
                session.add(StaffLoginFailure(address=address, at=now))
                if (failures or 0) + 1 == ADDRESS_FAILURES:
                    log.warning("staff logins from one address paused after %d failures", ADDRESS_FAILURES)
        if token is None:
            raise LoginRefused(REFUSED)
        async with self._sessions() as session, session.begin():  # other addresses' old failures
            await session.execute(delete(StaffLoginFailure).where(StaffLoginFailure.at < now - THROTTLE_WINDOW))
        return token

    async def _decide(
        self, session: AsyncSession, user: StaffUser, correct: bool, address: str, now: dt.datetime
    ) -> str | None:
        """The outcome for an active account whose password was checked: a session token, or None."""
        known = await session.get(StaffKnownAddress, (user.id, address))
        familiar = known is not None and as_utc(known.last_login_at) > now - KNOWN_FOR
        locked = user.locked_until is not None and as_utc(user.locked_until) > now
        if not correct:
            if not locked:
                user.failed_logins += 1
                if user.failed_logins >= ACCOUNT_FAILURES:
                    user.locked_until, user.failed_logins = now + ACCOUNT_LOCK, 0
                    log.warning("staff account #%d locked for new addresses after failed logins", user.id)
            return None
        if locked and not familiar:
            return None
        user.failed_logins, user.last_login_at = 0, now
        if known is None:
            session.add(StaffKnownAddress(user_id=user.id, address=address, last_login_at=now))
        else:
            known.last_login_at = now
        token = secrets.token_urlsafe(32)
        session.add(
            StaffSession(
                token_hash=_token_hash(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                expires_at=now + dt.timedelta(hours=SESSION_HOURS),
            )
        )
        await session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
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
