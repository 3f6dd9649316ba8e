"""SIGTERM and SIGHUP stop a command the way Ctrl-C does.

A terminal closing (SIGHUP), a process manager or a CI timeout (SIGTERM) unwind the command
like Ctrl-C: the prediction is canceled, the server, its worker and the container are stopped.
Only the first signal unwinds; later ones are ignored, so that a second one cannot cut that
cleanup short. Once done, the CLI ends by the signal it got (status 128+n to a shell).
A signal ignored when the CLI started (`nohup`, background jobs) stays ignored.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_received: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: a KeyboardInterrupt, so that every Ctrl-C cleanup runs for it too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def install() -> None:
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _stop)


def signal_of(interrupt: KeyboardInterrupt) -> int:
    """The signal behind a KeyboardInterrupt (SIGINT for a plain one)."""
    return interrupt.signum if isinstance(interrupt, Terminated) else signal.SIGINT


def exit_as_signaled() -> None:
    """End by SIGTERM or SIGHUP if one stopped the command (SIGINT keeps Click's status 1)."""
    if not _received or _received[0] == signal.SIGINT:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(_received[0], signal.SIG_DFL)
    os.kill(os.getpid(), _received[0])


def _stop(signum: int, frame: FrameType | None) -> None:
    if _received:
        return
    _received.append(signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)
