"""Nothing under the data folder is readable by other accounts, whoever wrote it and whenever."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from assistant.launcher import child_setup
from core.private_files import keep_private


@pytest.fixture
def umask_restored():
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def others_may_read(path) -> bool:
    return bool(path.stat().st_mode & 0o077)


def test_what_an_older_version_left_readable_is_tightened_and_new_files_are_private(tmp_path, umask_restored):
    data = tmp_path / "var"
    (data / "logs").mkdir(parents=True)
    old_log = data / "logs" / "gateway.log"
    old_log.write_text("old")
    os.chmod(old_log, 0o644)
    os.chmod(data / "logs", 0o755)
    (data / "tool.sh").write_text("#!/bin/sh\n")
    os.chmod(data / "tool.sh", 0o755)

    keep_private(data)

    assert not [p for p in (data, *data.rglob("*")) if others_may_read(p)]
    assert stat.S_IMODE((data / "tool.sh").stat().st_mode) == 0o700  # the owner keeps what it had
    (data / "assistant.db").write_bytes(b"")
    (data / "engine").mkdir()
    assert stat.S_IMODE((data / "assistant.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "engine").stat().st_mode) == 0o700


def test_a_service_writes_private_files_whatever_the_launchers_umask(tmp_path, umask_restored):
    os.umask(0o022)
    target = tmp_path / "written-by-the-child"
    subprocess.run([sys.executable, "-c", f"open({str(target)!r}, 'w').close()"], check=True, preexec_fn=child_setup)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
