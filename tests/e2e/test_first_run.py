"""The README's first command as a person runs it: `python -m assistant run` in a pseudo-terminal.

Not the chat's pieces, the command itself: the launcher, the model check, every service, the one-time admin
password, the `you ›` prompt, and the chat's commands typed at it. Then the ways a person stops it (`:quit`,
Ctrl-C through the terminal with stdout piped into another program, Ctrl-C to `make run` in a script that goes
on after it, SIGTERM), each of which must end every process the command started and free every port, quickly.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest
from pydantic import SecretStr

from assistant.launcher import loopback_settings, settings_env
from bot.texts import TEXTS
from core.i18n import gettext
from core.settings import PROJECT_ROOT, Settings
from knowledge.schema import EntryData, load_dir

pytestmark = [pytest.mark.e2e]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PROMPT = "you ›"
START_S = 420  # set-up of a fresh data folder, the model check (cached by the session), six services
REPLY_S = 60
STOP_S = 10  # the bound: Ctrl-C or SIGTERM returns to the shell within this
ENTRY = "citizenship_naturalisation"
AFTER_MAKE = "after make: "


@dataclass
class FirstRun:
    """One `python -m assistant run` in a pseudo-terminal of 40 × 200, on free ports and its own data folder."""

    child: pexpect.spawn
    settings: Settings

    def read_until_prompt(self, timeout: float = REPLY_S) -> str:
        self.child.expect_exact(PROMPT, timeout=timeout)
        return plain(self.child.before)

    def turn(self, line: str, timeout: float = REPLY_S) -> str:
        """Types a line and returns what the terminal showed until the next prompt, colours removed."""
        self.child.sendline(line)
        return self.read_until_prompt(timeout)

    def ports(self) -> list[int]:
        s = self.settings
        return [s.emulator_port, s.case_api_port, s.action_server_port, s.engine_port, s.console_port]


def plain(text: str | None) -> str:
    """What the terminal showed, without colours, with a wrapped line's continuation joined to it."""
    return re.sub(r"\n {6}(?=\S)", " ", ANSI.sub("", text or "").replace("\r\n", "\n"))


def spawn(data_dir: Path, *, pipe_stdout: bool = False, through_make: bool = False) -> FirstRun:
    # The sandbox's switches want its admin token: given here, so this test knows it (the launcher keeps it).
    # The test types a dozen lines in ten seconds when replies are quick, faster than a person: flood control
    # (ten in ten seconds) would rightly stop it before the hand-over.
    settings = loopback_settings(
        data_dir, sandbox_admin_token=SecretStr("first-run-sandbox-admin"), flood_messages=1000
    )
    env = settings_env(settings)
    env.pop("NO_COLOR", None)
    command = f"{sys.executable} -m assistant run"
    if pipe_stdout:  # `make run | tee run.log`: Ctrl-C ends the reader too, and stdout becomes a broken pipe
        command = f"{command} | cat"
    if through_make:  # the README's words, in a script that goes on after it: make must end, not die
        command = f"make run; echo {AFTER_MAKE}$?"
    child = pexpect.spawn(
        "/bin/bash",
        ["-c", command],
        cwd=str(PROJECT_ROOT),
        env=env,
        encoding="utf-8",
        dimensions=(40, 200),
        timeout=REPLY_S,
        codec_errors="replace",
    )
    return FirstRun(child, settings)


def descendants(pid: int) -> set[int]:
    """Every living process below `pid` (services run in sessions of their own, but stay its children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """The processes still running (a zombie has ended: it only waits for its parent to read its status)."""
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def wait_gone(run: FirstRun, pids: set[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (alive(pids) or any(map(port_taken, run.ports()))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pids), f"left running: {sorted(alive(pids))}"
    assert not [p for p in run.ports() if port_taken(p)], "ports still taken"


@pytest.fixture
def first_run(tmp_path: Path) -> Iterator[FirstRun]:
    run = spawn(tmp_path / "var")
    try:
        yield run
    finally:
        _kill(run)


def _kill(run: FirstRun) -> None:
    """Whatever a failed test left: the command and everything below it."""
    if run.child.isalive():
        for pid in descendants(run.child.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        run.child.terminate(force=True)


def seed_entry(key: str) -> EntryData:
    return next(e for e in load_dir(PROJECT_ROOT / "knowledge" / "seed") if e.key == key)


def test_the_readme_command_as_a_person_uses_it(first_run: FirstRun) -> None:
    run = first_run
    run.child.expect(r"log in as 'admin' with password '([^']+)'", timeout=START_S)
    assert len(run.child.match.group(1)) >= 12
    welcome = run.read_until_prompt()
    assert ":staff /escalate NOTE" in plain(welcome) and ":quit" in plain(welcome)  # the chat's help

    assert "bot ›" in run.turn("/start")

    # One question in each language: the entry's title and its legal source, as the knowledge base has them.
    entry = seed_entry(ENTRY)
    for language in ("az", "ru", "en"):
        text = entry.texts[language]
        shown = run.turn(text.question)
        source = text.source or entry.legal_source
        assert f"bot › {text.question}" in shown, shown
        assert gettext(language, TEXTS["answer_source"]).format(source=source) in shown, shown

    # 👍 brings no message, only Telegram's toast: the prompt must come back at once, not after a minute.
    thanks = run.turn(":1", timeout=15)
    assert f"ⓘ {gettext('en', TEXTS['rate_thanks'])}" in thanks, thanks

    # A button that brings a message: the language menu.
    menu = run.turn("/language")
    assert "[2] 🇷🇺" in menu, menu
    assert gettext("ru", TEXTS["language_set"]) in run.turn(":2")

    # The demo application's status, found after the verification question.
    asks_number = run.turn("Какой статус моего заявления?")
    assert "TRP-2026-" in asks_number, asks_number
    assert "дату рождения" in run.turn("TRP-2026-000102")
    status = run.turn("02.11.1985")
    assert "TRP-2026-000102" in status and "Статус:" in status, status

    # A person takes over: the ticket's topic, a staff reply reaching the user, the chat given back.
    handed = run.turn("/person")
    assert "staff topic ›" in handed, handed
    assert "bot › Добрый день, я вас слушаю." in run.turn(":staff Добрый день, я вас слушаю.")
    relayed = run.turn("спасибо, у меня вопрос про регистрацию")
    assert "staff topic › спасибо, у меня вопрос про регистрацию" in relayed, relayed  # nobody else answers
    resolved = run.turn(":staff /resolve")
    assert "👍" in resolved, resolved  # the rating question

    pids = descendants(run.child.pid) | {run.child.pid}
    assert len(pids) >= 7, pids  # the launcher, emulator, case API, actions, engine, console, gateway
    run.child.sendline(":quit")
    run.child.expect_exact("Stopped.", timeout=STOP_S)
    run.child.expect(pexpect.EOF, timeout=STOP_S)
    wait_gone(run, pids, STOP_S)
    # The databases, the engine's stored conversations and the logs: nobody else on the machine reads them.
    data = run.settings.data_dir
    readable = [p for p in (data, *data.rglob("*")) if not p.is_symlink() and p.stat().st_mode & 0o077]
    assert not readable, readable


STOPS = ["ctrl-c with stdout piped, a reply in flight", "ctrl-c under make, a command after it", "sigterm"]


@pytest.mark.parametrize("how", STOPS)
def test_stopping_returns_at_once_and_leaves_nothing_running(tmp_path: Path, how: str) -> None:
    under_make = "make" in how
    run = spawn(tmp_path / "var", pipe_stdout="piped" in how, through_make=under_make)
    try:
        run.read_until_prompt(timeout=START_S)
        pids = descendants(run.child.pid) | {run.child.pid}
        assert len(pids) >= 7, pids
        if how == "sigterm":
            chat_beside_it(run)
        elif under_make:
            assert "bot ›" in plain(run.turn("/start"))
        else:
            reply_in_flight(run)
        started = time.monotonic()
        if how.startswith("ctrl-c"):
            run.child.sendintr()  # the terminal's Ctrl-C: SIGINT to the launcher and to the pipe's reader
        else:
            os.kill(_launcher(pids), signal.SIGTERM)
        if under_make:  # Ctrl-C stopped the launcher alone: make ended with its code and the script went on
            run.child.expect_exact(f"{AFTER_MAKE}0", timeout=STOP_S)
        run.child.expect(pexpect.EOF, timeout=STOP_S)
        wait_gone(run, pids, max(0.5, STOP_S - (time.monotonic() - started)))
    finally:
        _kill(run)


def reply_in_flight(run: FirstRun) -> None:
    """A status lookup the case API takes 20 s to answer: a gateway, the engine and the action server are all
    busy with it when the user presses Ctrl-C."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{run.settings.case_api_port}/_sandbox/behaviour",
        data=json.dumps({"latency_ms": 20_000}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer first-run-sandbox-admin"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    run.turn("check my application status")
    run.turn("TRP-2026-000102")
    run.child.sendline("02.11.1985")
    time.sleep(1.0)  # the lookup is on its way to the case API


def chat_beside_it(run: FirstRun) -> None:
    """`make chat` in a second terminal, against the assistant the first one runs."""
    chat = pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "chat"],
        cwd=str(PROJECT_ROOT),
        env=settings_env(run.settings),
        encoding="utf-8",
        dimensions=(40, 200),
        timeout=REPLY_S,
    )
    try:
        chat.expect_exact(PROMPT)
        chat.sendline("hello")
        chat.expect_exact(PROMPT)
        assert "bot › Hello!" in plain(chat.before), plain(chat.before)
        chat.sendline(":quit")
        chat.expect(pexpect.EOF, timeout=STOP_S)
    finally:
        chat.terminate(force=True)
    assert run.child.isalive()  # leaving the second chat leaves the assistant running


def _launcher(pids: set[int]) -> int:
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3] == [b"-m", b"assistant"]:
                return pid
        except (OSError, IndexError):
            continue
    raise AssertionError("the launcher's process was not found")
