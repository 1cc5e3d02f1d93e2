"""Files only their owner reads: the databases, the engine's stored conversations and the logs hold what
people wrote (redacted where it can be, but chat ids, tickets and transcripts all the same), so nothing under
the data folder is readable by other accounts on the machine."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077  # new files 0600, new folders 0700


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
