"""Capture everything the model writes, and attribute it to the prediction that wrote it.

Python-level writes (`print`, `logging`, `sys.stdout.write`) go through writers that look up
the running prediction in a ContextVar (exact under async concurrency). Writes that carry no
context (threads the model starts, C extensions and subprocesses writing to fd 1/2, which are
redirected to pipes) go to the only running prediction, or to the setup/worker log when there
is none or more than one.
"""

from __future__ import annotations

import contextvars
import io
import os
import sys
import threading
from collections.abc import Callable

from .events import Log

current_prediction: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cog_prediction", default=None
)
Send = Callable[[Log], None]


class Attribution:
    """Which predictions are running, to attribute output that carries no context; and the
    batches (`@cog.batch`): output attributed to a batch goes to each of its requests."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.lock = threading.Lock()
        self.groups: dict[str, tuple[str, ...]] = {}

    def group(self, batch_id: str, members: tuple[str, ...]) -> None:
        """Route what `batch_id` writes to these predictions (none left: to the worker's log)."""
        with self.lock:
            self.groups[batch_id] = members

    def ungroup(self, batch_id: str) -> None:
        with self.lock:
            self.groups.pop(batch_id, None)

    def recipients(self, owner: str | None) -> tuple[str | None, ...]:
        """The predictions a line attributed to `owner` goes to (None: the worker's log)."""
        if owner is None:
            return (None,)
        members = self.groups.get(owner)  # a dict read: atomic, no lock on every line
        if members is None:
            return (owner,)
        return members or (None,)

    def start(self, prediction_id: str) -> None:
        with self.lock:
            self.active.add(prediction_id)

    def stop(self, prediction_id: str) -> None:
        with self.lock:
            self.active.discard(prediction_id)

    def owner(self) -> str | None:
        explicit = current_prediction.get()
        if explicit is not None:
            return explicit
        with self.lock:
            return next(iter(self.active)) if len(self.active) == 1 else None


class PredictionWriter(io.TextIOBase):
    """A `sys.stdout`/`sys.stderr` replacement that sends whole lines to the server."""

    def __init__(self, source: str, send: Send, attribution: Attribution) -> None:
        self.source = source
        self.send = send
        self.attribution = attribution
        self.pending: dict[str | None, str] = {}
        self.lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        owner = self.attribution.owner()
        with self.lock:
            buffered = self.pending.pop(owner, "") + text
            complete, newline, rest = buffered.rpartition("\n")
            if rest:
                self.pending[owner] = rest
        if newline:
            for recipient in self.attribution.recipients(owner):
                self.send(Log(recipient, self.source, complete + newline))
        return len(text)

    def flush_prediction(self, prediction_id: str | None) -> None:
        with self.lock:
            rest = self.pending.pop(prediction_id, "")
        if rest:
            for recipient in self.attribution.recipients(prediction_id):
                self.send(Log(recipient, self.source, rest))

    def flush(self) -> None:
        pass

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        # Code that asks for the descriptor (subprocess, faulthandler) gets the redirected fd.
        return 1 if self.source == "stdout" else 2


class LogCapture:
    """Installs the writers and the fd-level pipes for the worker's lifetime."""

    def __init__(self, send: Send) -> None:
        self.attribution = Attribution()
        self.stdout = PredictionWriter("stdout", send, self.attribution)
        self.stderr = PredictionWriter("stderr", send, self.attribution)
        self.send = send

    def install(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, source in ((1, "stdout"), (2, "stderr")):
            read_end, write_end = os.pipe()
            os.dup2(write_end, fd)
            os.close(write_end)
            threading.Thread(
                target=self._pump, args=(read_end, source), daemon=True, name=f"fd{fd}-pump"
            ).start()
        sys.stdout = self.stdout
        sys.stderr = self.stderr

    def _pump(self, fd: int, source: str) -> None:
        with open(fd, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                pending += chunk
                lines, newline, pending = pending.rpartition(b"\n")
                if newline:
                    text = (lines + newline).decode(errors="replace")
                    for recipient in self.attribution.recipients(self.attribution.owner()):
                        self.send(Log(recipient, source, text))

    def finish(self, prediction_id: str) -> None:
        """Send what a prediction wrote without a final newline."""
        self.stdout.flush_prediction(prediction_id)
        self.stderr.flush_prediction(prediction_id)
