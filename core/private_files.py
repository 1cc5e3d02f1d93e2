"""Files only their owner reads: the databases, the engine's stored conversations and the logs hold what
people wrote (redacted where it can be, but chat ids, tickets and transcripts all the same), so nothing under
the data folder is readable by other accounts on the machine."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PRIVATE_UMASK = 0o077  # new files 0600, new folders 0700


def private_file(path: Path) -> None:
    """Creates `path` (and its folder) private if missing, whatever this process's umask: for files made by
    commands that run without the launcher (`python -m console create-user` on a fresh machine). SQLite gives
    its -wal and -shm files the database file's mode, so a private database stays private."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def write_once(path: Path, text: str) -> None:
    """Writes a private file (0600) unless it exists, whole or not at all: when processes race to make the
    same secret, one wins and the others read its text, never an empty file caught half-written."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)  # atomic, and fails if another process made it first
    finally:
        draft.unlink()


def keep_private(data_dir: Path) -> None:
    """New files of this process (and the processes it starts) private; the data folder, and whatever an older
    version left in it readable by others, made private too."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True)
    for path in (data_dir, *data_dir.rglob("*")):
        try:
            mode = path.lstat().st_mode
            if mode & 0o077 and not path.is_symlink():
                path.chmod(mode & 0o7700)
        except OSError:  # gone meanwhile, or not ours: nothing to tighten
            continue
