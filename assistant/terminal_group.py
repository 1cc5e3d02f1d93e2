"""The launcher in a process group of its own, in the terminal's foreground, so that Ctrl-C reaches it alone.

`make run` puts make between the shell and the launcher, in one process group, and Ctrl-C signals that whole
group. GNU make answers by sending SIGTERM to the launcher and then killing itself with SIGINT, so a shell
running `make run; next-step` dies with it instead of going on once the launcher has stopped everything.
Made the terminal's foreground group, the launcher gets Ctrl-C (and a closed terminal's SIGHUP) alone, stops
its services as usual, and make ends with the launcher's exit code like after any command.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def foreground_group(fd: int = 0) -> Iterator[None]:
    """Runs the block as the foreground process group of the terminal on `fd`, then hands the terminal back
    to the group it came from. Nothing changes without a terminal, in the background, or when this process
    already leads its group (started straight from a shell or a pseudo-terminal)."""
    if not _leads_nothing_in_the_foreground(fd):
        yield
        return
    previous = os.getpgrp()
    os.setpgid(0, 0)
    _give_terminal(fd, os.getpgrp())
    try:
        yield
    finally:
        _give_terminal(fd, previous)


def _leads_nothing_in_the_foreground(fd: int) -> bool:
    try:
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp() != os.getpid()
    except OSError:
        return False


def _give_terminal(fd: int, group: int) -> None:
    # Taking the terminal from a background group raises SIGTTOU, which would stop this process: blocked here.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, group)
    except OSError:
        pass  # that group is gone (make was killed): its shell takes the terminal back itself
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
