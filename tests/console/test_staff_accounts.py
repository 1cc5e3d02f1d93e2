"""Staff accounts with a lifecycle, login throttling that cannot be turned against the owner, and the
console's hardening: YAML import limits and security headers on every response."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestServer

from benchmarks.publishing import csrf_of
from console.app import build
from console.auth import (
    ACCOUNT_FAILURES,
    ADDRESS_FAILURES,
    AccountError,
    LoginRefused,
    StaffAuth,
    address_key,
    verify_password,
)
from console.web import STATE, Handler
from core.bootstrap import open_database
from knowledge.curation import Role
from tests.support.console import PASSWORD

PROXY = "127.0.0.1"  # the test client's own address, trusted as a reverse proxy here


@pytest.fixture
async def server(db_settings) -> AsyncIterator[TestServer]:
    settings = db_settings.model_copy(update={"console_trusted_proxies": [PROXY]})
    app = build(settings, reload=lambda _model, _run: _nothing())
    test_server = TestServer(app)
    await test_server.start_server()
    auth = auth_of(test_server)
    for name, role in (("erin", Role.editor), ("rita", Role.reviewer), ("adam", Role.admin)):
        await auth.create_user(name, PASSWORD, role)
    yield test_server
    await test_server.close()


async def _nothing() -> None:
    return None


def auth_of(server: TestServer) -> StaffAuth:
    console = server.app[STATE].console
    assert console is not None
    return console.auth


@asynccontextmanager
async def browser(server: TestServer, address: str = "192.0.2.10") -> AsyncIterator[aiohttp.ClientSession]:
    """A client seen (through the trusted proxy) as coming from `address`, with its own cookies."""
    async with aiohttp.ClientSession(
        base_url=str(server.make_url("/")),
        headers={"X-Forwarded-For": address},
        cookie_jar=aiohttp.CookieJar(unsafe=True),
    ) as client:
        yield client


async def log_in(client: aiohttp.ClientSession, username: str, password: str = PASSWORD, **headers: str) -> int:
    """The login's status: 200 after the redirect to the start page, 401 when refused."""
    token = csrf_of(await (await client.get("/login", headers=headers)).text())
    response = await client.post(
        "/login", data={"username": username, "password": password, "csrf": token, "next": "/"}, headers=headers
    )
    text = await response.text()
    assert response.status in (200, 401), response.status
    assert ("Log out" in text) == (response.status == 200)
    return response.status


async def is_logged_in(client: aiohttp.ClientSession) -> bool:
    response = await client.get("/", allow_redirects=False)
    assert response.status in (200, 303)
    return response.status == 200


async def admin_post(admin: aiohttp.ClientSession, path: str, **data: str) -> str:
    page = await (await admin.get("/users")).text()
    response = await admin.post(path, data={"csrf": csrf_of(page), **data})
    assert response.status == 200
    return await response.text()


# ------------------------------------------------------------------ lifecycle


async def test_a_password_reset_in_the_console_logs_the_old_sessions_out(server):
    async with browser(server) as rita, browser(server, "192.0.2.11") as admin:
        assert await log_in(rita, "rita") == 200 and await log_in(admin, "adam") == 200
        text = await admin_post(admin, "/users", username="rita", role="reviewer", password="another passphrase")
        assert "Account saved" in text
        response = await rita.get("/", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/login"
        assert await log_in(rita, "rita") == 401
        assert await log_in(rita, "rita", "another passphrase") == 200


async def test_a_deactivated_account_is_logged_out_and_cannot_log_in_until_reactivated(server):
    async with browser(server) as rita, browser(server, "192.0.2.11") as admin:
        assert await log_in(rita, "rita") == 200 and await log_in(admin, "adam") == 200
        assert "Deactivate rita" in await (await admin.get("/users")).text()
        text = await admin_post(admin, "/users/deactivate", username="rita")
        assert "Account rita deactivated and logged out" in text and "Reactivate rita" in text
        assert not await is_logged_in(rita)
        assert await log_in(rita, "rita") == 401  # the right password: refused like any wrong one
        text = await admin_post(admin, "/users", username="rita", role="reviewer", password="another passphrase")
        assert "Account saved; it stays deactivated." in text  # a reset is no way around a deactivation
        assert await log_in(rita, "rita", "another passphrase") == 401
        text = await admin_post(admin, "/users/reactivate", username="rita")
        assert "Account rita reactivated" in text
        assert await log_in(rita, "rita", "another passphrase") == 200


async def test_only_admins_change_accounts_and_never_their_own_or_the_last_admin(server):
    async with browser(server) as erin, browser(server, "192.0.2.11") as admin:
        assert await log_in(erin, "erin") == 200 and await log_in(admin, "adam") == 200
        page = await (await erin.get("/")).text()
        assert (await erin.post("/users/deactivate", data={"csrf": csrf_of(page), "username": "rita"})).status == 403
        assert (await admin.post("/users/deactivate", data={"csrf": "forged", "username": "rita"})).status == 403
        text = await admin_post(admin, "/users/deactivate", username="adam")
        assert "Not changed: you cannot deactivate your own account." in text
        assert await is_logged_in(admin)
    auth = auth_of(server)
    with pytest.raises(AccountError, match="last active admin"):
        await auth.set_active("adam", False)  # the command line, as an operator
    with pytest.raises(AccountError, match="last active admin"):
        await auth.create_user("adam", PASSWORD, Role.editor)  # a reset that would leave no admin
    await auth.create_user("alba", PASSWORD, Role.admin)
    await auth.set_active("adam", False, by="alba")
    with pytest.raises(AccountError, match="no account named"):
        await auth.unlock("nobody")


async def test_an_admin_unlocks_a_locked_account(server):
    async with browser(server, "198.51.100.7") as rita, browser(server, "192.0.2.11") as admin:
        for _ in range(ACCOUNT_FAILURES):
            assert await log_in(rita, "rita", "not the password") == 401
        assert await log_in(rita, "rita") == 401  # locked for an address it never logged in from
        assert await log_in(admin, "adam") == 200
        page = await (await admin.get("/users")).text()
        assert "locked for new addresses until" in page and "Unlock" in page
        assert "Account rita unlocked" in await admin_post(admin, "/users/unlock", username="rita")
        assert await log_in(rita, "rita") == 200


# ------------------------------------------------------------------ throttling


async def test_one_address_is_throttled_whatever_names_it_tries_and_cannot_lock_the_owner_out(server):
    async with browser(server, "192.0.2.20") as owner:
        assert await log_in(owner, "adam") == 200  # the owner's usual address
        await owner.post("/logout", data={"csrf": csrf_of(await (await owner.get("/")).text())})
    async with browser(server, "198.51.100.7") as attacker:
        for attempt in range(ADDRESS_FAILURES):
            # The address the proxy saw is appended last; whatever the client put before it is not believed.
            forged = {"X-Forwarded-For": f"203.0.113.{attempt}, 198.51.100.7"}
            assert await log_in(attacker, ["erin", "rita", "ghost", "nobody"][attempt % 4], "guess", **forged) == 401
        assert await log_in(attacker, "adam") == 401  # this address is paused, even with the right password
    async with browser(server, "192.0.2.30") as elsewhere:
        for _ in range(ACCOUNT_FAILURES):
            assert await log_in(elsewhere, "adam", "guess") == 401  # now adam is locked for new addresses…
        assert await log_in(elsewhere, "adam") == 401
    async with browser(server, "192.0.2.20") as owner:
        assert await log_in(owner, "adam") == 200  # …but not for the addresses he logged in from
    async with browser(server, "192.0.2.40") as colleague:
        assert await log_in(colleague, "erin") == 200  # other addresses are not throttled


async def test_every_refused_login_costs_one_password_check_and_reads_the_same(db_settings):
    """Timing must not tell an unknown, locked or deactivated account from a wrong password: each runs the
    (deliberately slow) hash check exactly once. Counted, not timed."""
    checks: list[str] = []

    def counting_verify(password: str, stored: str) -> bool:
        checks.append(stored)
        return verify_password(password, stored)

    database = await open_database(db_settings)
    try:
        auth = StaffAuth(database.sessions, verify=counting_verify)
        for name in ("rita", "olga", "lena"):
            await auth.create_user(name, PASSWORD, Role.reviewer)
        await auth.set_active("lena", False)
        for _ in range(ACCOUNT_FAILURES):
            with pytest.raises(LoginRefused):
                await auth.log_in("olga", "wrong", "192.0.2.1")
        cases = [
            ("nobody", PASSWORD, "192.0.2.2"),  # no such account
            ("rita", "wrong password", "192.0.2.2"),  # a wrong password
            ("olga", PASSWORD, "192.0.2.2"),  # locked (and never logged in from here)
            ("lena", PASSWORD, "192.0.2.2"),  # deactivated
        ]
        messages = set()
        for username, password, address in cases:
            checks.clear()
            with pytest.raises(LoginRefused) as refused:
                await auth.log_in(username, password, address)
            assert len(checks) == 1, username
            messages.add(str(refused.value))
        for _ in range(ADDRESS_FAILURES):
            with pytest.raises(LoginRefused):
                await auth.log_in("nobody", "guess", "192.0.2.3")
        checks.clear()
        with pytest.raises(LoginRefused) as refused:
            await auth.log_in("rita", PASSWORD, "192.0.2.3")  # a throttled address
        assert len(checks) == 1
        messages.add(str(refused.value))
        assert len(messages) == 1
        checks.clear()
        assert await auth.log_in("rita", PASSWORD, "192.0.2.4")
        assert len(checks) == 1
    finally:
        await database.close()


async def test_ipv6_counts_by_its_64_and_mapped_ipv4_as_the_ipv4_address(db_settings):
    """One host usually holds a whole /64: fresh addresses from it are not fresh starts. And the same IPv4
    client written as `::ffff:a.b.c.d` (a dual-stack listener) is the same address."""
    database = await open_database(db_settings)
    try:
        auth = StaffAuth(database.sessions)
        await auth.create_user("rita", PASSWORD, Role.reviewer)
        for number in range(ADDRESS_FAILURES):
            with pytest.raises(LoginRefused):
                await auth.log_in("nobody", "guess", f"2001:db8:7:7::{number + 1:x}")
        with pytest.raises(LoginRefused):
            await auth.log_in("rita", PASSWORD, "2001:db8:7:7:ffff:1:2:3")  # another address, the same /64
        assert await auth.log_in("rita", PASSWORD, "2001:db8:7:8::1")  # the next /64: someone else
        for number in range(ADDRESS_FAILURES):
            address = "::ffff:192.0.2.77" if number % 2 else "192.0.2.77"
            with pytest.raises(LoginRefused):
                await auth.log_in("nobody", "guess", address)
        for address in ("192.0.2.77", "::ffff:192.0.2.77", "::ffff:c000:024d"):
            with pytest.raises(LoginRefused):
                await auth.log_in("rita", PASSWORD, address)
        assert address_key("::ffff:192.0.2.77") == "192.0.2.77"
        assert address_key("2001:db8:7:7:ffff:1:2:3") == "2001:db8:7:7::/64"
        assert address_key("unknown") == "unknown"
    finally:
        await database.close()


async def test_an_untrusted_peer_sending_x_forwarded_for_is_reported_once(db_settings, caplog):
    """A reverse proxy nobody named makes every client one address: the console says so in its log."""
    caplog.set_level(logging.INFO)
    untrusted = TestServer(build(db_settings, reload=lambda _model, _run: _nothing()))
    await untrusted.start_server()
    try:
        async with aiohttp.ClientSession() as client:
            assert (await client.get(untrusted.make_url("/login"))).status == 200
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
            for address in ("192.0.2.1", "192.0.2.2"):
                response = await client.get(untrusted.make_url("/login"), headers={"X-Forwarded-For": address})
                assert response.status == 200
    finally:
        await untrusted.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "ASSISTANT_CONSOLE_TRUSTED_PROXIES" in errors[0]


def test_a_console_beyond_loopback_without_a_word_on_proxies_is_warned_about(monkeypatch):
    from assistant.launcher import settings_env
    from console.app import proxy_warning
    from core.settings import Settings

    monkeypatch.delenv("ASSISTANT_CONSOLE_TRUSTED_PROXIES", raising=False)
    for host in ("127.0.0.1", "localhost", "::1"):
        assert proxy_warning(Settings(_env_file=None, console_host=host)) is None
    warning = proxy_warning(Settings(_env_file=None, console_host="0.0.0.0"))
    assert warning and "ASSISTANT_CONSOLE_TRUSTED_PROXIES is not set" in warning
    assert (
        proxy_warning(Settings(_env_file=None, console_host="0.0.0.0", console_trusted_proxies=["10.0.0.0/8"])) is None
    )
    for key, value in settings_env(Settings(_env_file=None, console_host="0.0.0.0")).items():
        monkeypatch.setenv(key, value)
    assert proxy_warning(Settings(_env_file=None))  # the console `python -m assistant run` starts warns too
    monkeypatch.setenv("ASSISTANT_CONSOLE_TRUSTED_PROXIES", "[]")  # said outright: staff connect directly
    assert proxy_warning(Settings(_env_file=None, console_host="0.0.0.0")) is None
    monkeypatch.setenv("ASSISTANT_CONSOLE_TRUSTED_PROXIES", "10.244.0.0/16, 192.0.2.1")
    assert Settings(_env_file=None).console_trusted_proxies == ["10.244.0.0/16", "192.0.2.1"]


@pytest.mark.parametrize("value", ["10.0.0.300", '["10.0.0.0/8", "proxy.example.org"]', "[10.0.0.1"])
def test_a_bad_trusted_proxy_is_a_settings_error_naming_the_setting(monkeypatch, capsys, value):
    from pydantic import ValidationError

    from console.__main__ import main
    from core.settings import Settings

    monkeypatch.setenv("ASSISTANT_CONSOLE_TRUSTED_PROXIES", value)
    with pytest.raises(ValidationError, match="console_trusted_proxies"):
        Settings(_env_file=None)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "Settings refused" in err and "console_trusted_proxies" in err and "Traceback" not in err


async def test_throttling_survives_a_restart(db_settings):
    """Kept in the database: a new process (or another replica) sees the same failures."""
    for _ in range(2):
        database = await open_database(db_settings)
        try:
            auth = StaffAuth(database.sessions)
            if await auth.count() == 0:
                await auth.create_user("rita", PASSWORD, Role.reviewer)
                for _ in range(ADDRESS_FAILURES):
                    with pytest.raises(LoginRefused):
                        await auth.log_in("nobody", "guess", "192.0.2.5")
            else:
                with pytest.raises(LoginRefused):
                    await auth.log_in("rita", PASSWORD, "192.0.2.5")
                assert await auth.log_in("rita", PASSWORD, "192.0.2.6")
        finally:
            await database.close()


# ------------------------------------------------------------------ imports


async def _import(admin: aiohttp.ClientSession, raw: bytes):
    page = await (await admin.get("/import")).text()
    form = FormData()
    form.add_field("csrf", csrf_of(page))
    form.add_field("file", raw, filename="kb.yml")
    return await admin.post("/import", data=form)


@pytest.mark.parametrize("raw", [b"[" * 20_000 + b"]" * 20_000, b"- " * 20_000 + b"x", b"- &a [x]\n- *a\n"])
async def test_deep_or_aliased_yaml_gets_a_clear_400_and_no_traceback(server, caplog, raw):
    caplog.set_level(logging.INFO)
    async with browser(server) as admin:
        assert await log_in(admin, "adam") == 200
        response = await _import(admin, raw)
        text = await response.text()
    assert response.status == 400
    assert "Could not read the file" in text
    assert any(word in text for word in ("nested more than", "nesting depth", "aliases"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert sum(len(r.getMessage()) for r in caplog.records) < 5_000


async def test_oversize_yaml_is_refused_before_parsing(server):
    async with browser(server) as admin:
        assert await log_in(admin, "adam") == 200
        response = await _import(admin, (b"- " + b"x" * 100 + b"\n") * 25_000)  # 2.5 MB
        text = await response.text()
    assert response.status == 400 and "at most 2 MB is read" in text
    async with browser(server) as admin:
        assert await log_in(admin, "adam") == 200
        response = await _import(admin, b"#" * (5 * 2**20))
        text = await response.text()
    assert response.status == 413 and "The upload is larger than 4 MB" in text


# ------------------------------------------------------------------ headers

HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control")


async def test_every_response_carries_the_security_headers_errors_and_redirects_included(server):
    async with browser(server) as anonymous, browser(server, "192.0.2.11") as erin:
        assert await log_in(erin, "erin") == 200
        responses = {
            "redirect to login": await anonymous.get("/", allow_redirects=False),
            "403 without session": await anonymous.post("/training", data={}),
            "403 not an admin": await erin.get("/users"),
            "404": await erin.get("/no/such/page"),
            "404 entry": await erin.get("/entries/no_such_entry"),
            "405": await anonymous.put("/login"),
            "static": await anonymous.get("/static/console.css"),
            "login redirect": await erin.post(
                "/logout", data={"csrf": csrf_of(await (await erin.get("/")).text())}, allow_redirects=False
            ),
        }
    statuses = {name: response.status for name, response in responses.items()}
    assert statuses == {
        "redirect to login": 303,
        "403 without session": 403,
        "403 not an admin": 403,
        "404": 404,
        "404 entry": 404,
        "405": 405,
        "static": 200,
        "login redirect": 303,
    }
    for name, response in responses.items():
        missing = [header for header in HEADERS if header not in response.headers]
        assert not missing, f"{name} lacks {missing}"
        assert "script-src 'none'" in response.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP


async def test_hsts_and_secure_cookies_when_the_trusted_proxy_says_https(server, db_settings):
    async with browser(server) as client:
        response = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Secure" in response.headers["Set-Cookie"]
        missing = await client.get("/nothing-here", headers={"X-Forwarded-Proto": "https"}, allow_redirects=False)
        assert missing.status in (303, 404) and "Strict-Transport-Security" in missing.headers
    # Without a trusted proxy the same header is the client's own claim: not believed.
    untrusted = TestServer(build(db_settings, reload=lambda _model, _run: _nothing()))
    await untrusted.start_server()
    try:
        async with browser(untrusted) as client:
            response = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert "Strict-Transport-Security" not in response.headers
    finally:
        await untrusted.close()


async def test_a_burst_of_parallel_guesses_from_one_address_is_judged_one_at_a_time(db_settings):
    from sqlalchemy import func, select

    from console.models import StaffLoginFailure

    database = await open_database(db_settings)
    try:
        auth = StaffAuth(database.sessions)
        await auth.create_user("rita", PASSWORD, Role.reviewer)

        async def guess(number: int) -> None:
            with pytest.raises(LoginRefused):
                await auth.log_in("rita" if number % 2 else f"ghost{number}", f"guess {number}", "192.0.2.9")

        await asyncio.gather(*(guess(number) for number in range(ADDRESS_FAILURES + 6)))
        async with database.sessions() as session:
            counted = await session.scalar(select(func.count()).select_from(StaffLoginFailure))
        assert counted == ADDRESS_FAILURES  # the rest were refused as throttled, unheard
        with pytest.raises(LoginRefused):
            await auth.log_in("rita", PASSWORD, "192.0.2.9")
    finally:
        await database.close()


def test_the_command_line_deactivates_reactivates_and_unlocks(tmp_path, monkeypatch, capsys):
    from console.__main__ import main
    from core.settings import Settings

    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_NEW_PASSWORD", PASSWORD)
    assert main(["create-user", "boss", "--role", "admin"]) == 0
    assert main(["create-user", "rita", "--role", "reviewer"]) == 0
    assert main(["deactivate", "boss"]) == 1
    assert "the last active admin" in capsys.readouterr().err

    async def logs_in(username: str) -> bool:
        database = await open_database(Settings(_env_file=None, data_dir=tmp_path))
        try:
            await StaffAuth(database.sessions).log_in(username, PASSWORD, "192.0.2.1")
            return True
        except LoginRefused:
            return False
        finally:
            await database.close()

    assert main(["deactivate", "rita"]) == 0
    assert "Account rita deactivated and logged out." in capsys.readouterr().out
    assert not asyncio.run(logs_in("rita"))
    assert main(["create-user", "rita", "--role", "reviewer"]) == 0  # a reset: saved, and says it stays so
    assert "It stays deactivated: `python -m console reactivate rita`" in capsys.readouterr().out
    assert not asyncio.run(logs_in("rita"))
    assert main(["reactivate", "rita"]) == 0 and main(["unlock", "rita"]) == 0
    assert asyncio.run(logs_in("rita"))
    assert main(["unlock", "nobody"]) == 1


async def test_even_an_unexpected_error_carries_the_security_headers():
    from console.web import make_app

    @asynccontextmanager
    async def no_services() -> AsyncIterator[None]:
        yield None

    @web.middleware
    async def broken(request: web.Request, handler: Handler) -> web.StreamResponse:
        raise RuntimeError("a bug")

    app = make_app(no_services)  # type: ignore[arg-type]
    app.middlewares.insert(0, broken)
    test_server = TestServer(app)
    await test_server.start_server()
    try:
        async with aiohttp.ClientSession() as client:
            response = await client.get(test_server.make_url("/health"))
        assert response.status == 500
        assert not [header for header in HEADERS if header not in response.headers]
    finally:
        await test_server.close()
