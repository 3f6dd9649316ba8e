"""Length-prefixed JSON frames over a stream socket: blocking in the worker, asyncio in the
server. A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON.

A message whose JSON is larger than the inline limit (PYCOG_WORKER_FRAME_BYTES, 8 MiB) travels
as a spill file, as Cog's do: the sender writes the JSON to a file and sends its path; the
receiver reads the file and removes it. So no input or output is too big for the channel. The
server encodes a message with a long string, and reads a spill file, in a thread (in order
with the other messages), so that its event loop goes on serving meanwhile.

Every frame costs a send and wakes the other process, which is much of what a small prediction
costs: the worker holds what its event loop sends in one turn and sends it in one write (a Done
at once: a client waits for it), and frames that arrive together are all handled in the
callback that read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from .. import envvars
from .errors import FrameTooLarge
from .events import (
    Done,
    Healthcheck,
    HealthcheckResult,
    Message,
    Predict,
    from_wire,
    to_wire,
    wire_default,
)
from .json_slices import carries_much, dumps_in_slices

_HEADER = struct.Struct(">I")
INLINE_LIMIT = envvars.WORKER_FRAME_BYTES.get_int() or 8 * 1024 * 1024
# What a receiver takes: anything inline, and the (small) frame naming a spill file.
MAX_FRAME = INLINE_LIMIT + 64 * 1024
_SPILLED = "Spilled"
# Under malloc's mmap threshold: a larger buffer costs an mmap and munmap on every read.
_READ_SIZE = 64 * 1024
log = logging.getLogger("cog.runtime")


def encode(message: Message) -> bytes:
    wire = to_wire(message)
    if carries_much(wire):
        body = dumps_in_slices(wire, default=wire_default)
    else:
        body = json.dumps(wire, separators=(",", ":"), default=wire_default).encode()
    if len(body) > INLINE_LIMIT:
        body = json.dumps({"type": _SPILLED, "path": _spill(body)}).encode()
    return _HEADER.pack(len(body)) + body


def decode(body: bytes | bytearray) -> Message:
    data: dict[str, Any] = json.loads(body)
    if data.get("type") == _SPILLED:
        data = json.loads(_unspill(data["path"]))
    return from_wire(data)


@dataclass(frozen=True)
class SpillFile:
    """A message in a spill file, not read yet."""

    path: str

    def read(self) -> Message:
        data: dict[str, Any] = json.loads(_unspill(self.path))
        return from_wire(data)


def _decode_or_spill(body: bytes | bytearray) -> Message | SpillFile:
    data: dict[str, Any] = json.loads(body)
    if data.get("type") == _SPILLED:
        return SpillFile(data["path"])
    return from_wire(data)


def spill_directory() -> str:
    return os.path.join(tempfile.gettempdir(), "pycog", "spill")


def _spill(body: bytes) -> str:
    directory = spill_directory()
    os.makedirs(directory, exist_ok=True)
    descriptor, path = tempfile.mkstemp(prefix="message-", suffix=".json", dir=directory)
    with open(descriptor, "wb") as file:
        file.write(body)
    return path


def _discard(frame: bytes) -> None:
    """Remove the spill file a frame names, if it names one."""
    if len(frame) < 4096:
        data = json.loads(frame[_HEADER.size :])
        if data.get("type") == _SPILLED:
            with contextlib.suppress(OSError):
                os.unlink(data["path"])


def _unspill(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    finally:
        os.unlink(path)  # read or not, nobody else will


class FrameBuffer:
    """Bytes as they arrive → the complete messages in them."""

    def __init__(self) -> None:
        self.data = bytearray()

    def feed(self, chunk: bytes) -> list[Message]:
        return cast(list[Message], self._feed(chunk, decode))

    def feed_lazily(self, chunk: bytes) -> list[Message | SpillFile]:
        """The messages, a spilled one as the file to read it from."""
        return self._feed(chunk, _decode_or_spill)

    def _feed(
        self, chunk: bytes, decoder: Callable[[bytearray], Message | SpillFile]
    ) -> list[Message | SpillFile]:
        self.data += chunk
        messages: list[Message | SpillFile] = []
        start, size = 0, len(self.data)
        while size - start >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self.data, start)
            if length > MAX_FRAME:  # the other end spills what is bigger: not one of ours
                raise FrameTooLarge(f"worker frame of {length} bytes is too large")
            end = start + _HEADER.size + length
            if end > size:
                break
            messages.append(decoder(self.data[start + _HEADER.size : end]))
            start = end
        del self.data[:start]
        return messages


class BlockingChannel:
    """The worker's end: thread-safe sends, blocking receives.

    With `batch_on(loop)`, sends made on that loop's thread are held until the loop has run
    what is ready, then leave in one write; a Done, or a send from any other thread, first
    writes what is held, so the server sees every message in the order it was sent.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.buffer = FrameBuffer()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None
        self.held: list[bytes] = []

    def batch_on(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None:
        self.loop, self.loop_thread = loop, thread_id

    def send(self, message: Message) -> None:
        frame = encode(message)
        with self.lock:
            if (
                self.loop is not None
                and threading.get_ident() == self.loop_thread
                and not isinstance(message, Done)  # a client waits for it: no turn later
            ):
                self.held.append(frame)
                if len(self.held) == 1:
                    self.loop.call_soon(self.flush)
                return
            if self.held:
                frame = b"".join(self.held) + frame
                self.held.clear()
            self.sock.sendall(frame)

    def flush(self) -> None:
        with self.lock:
            if self.held:
                frames = b"".join(self.held)
                self.held.clear()
                self.sock.sendall(frames)

    def receive(self) -> Message | None:
        header = self._exactly(_HEADER.size)
        if header is None:
            return None
        (length,) = _HEADER.unpack(header)
        body = self._exactly(length)
        return None if body is None else decode(body)

    def receive_ready(self) -> list[Message] | None:
        """The messages in what can be read now without blocking; None at end of stream."""
        chunk = self.sock.recv(_READ_SIZE)
        return self.buffer.feed(chunk) if chunk else None

    def _exactly(self, size: int) -> bytes | None:
        chunks, remaining = [], size
        while remaining:
            chunk = self.sock.recv(min(remaining, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


class FrameProtocol(asyncio.Protocol):
    """The server's end: messages are delivered from the loop's callbacks (no task wakes up
    per frame), at most DELIVER_PER_TURN per turn of the loop: when a streaming model's items
    arrive by the hundred, the first ones reach their client before the last are handled."""

    DELIVER_PER_TURN = 16

    def __init__(self, deliver: Callable[[Message], None]) -> None:
        self.deliver = deliver
        self.buffer = FrameBuffer()
        self.transport: asyncio.Transport | None = None
        # A spilled message is read in a thread: the future of it waits in line.
        self.pending: deque[Message | asyncio.Future[Message]] = deque()
        self.resuming = False
        # While a big message is encoded in a thread, those sent after it wait here.
        self.held: list[Message] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have Transport's methods without being its subclasses.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.buffer.feed_lazily(data)
        except FrameTooLarge:
            log.exception("closing the worker channel")
            assert self.transport is not None
            self.transport.close()
            return
        for message in messages:
            if isinstance(message, SpillFile):
                loop = asyncio.get_running_loop()
                self.pending.append(loop.run_in_executor(None, message.read))
            else:
                self.pending.append(message)
        if not self.resuming:  # else they wait for their turn, behind those before them
            self._deliver_some()

    def _deliver_some(self) -> None:
        self.resuming = False
        for _ in range(self.DELIVER_PER_TURN):
            if not self.pending:
                return
            head = self.pending[0]
            message: Message
            if isinstance(head, asyncio.Future):
                if not head.done():  # delivery goes on once the spill file is read
                    self.resuming = True
                    head.add_done_callback(lambda _: self._deliver_some())
                    return
                self.pending.popleft()
                try:
                    message = head.result()
                except Exception:
                    log.exception("reading a spilled worker message")
                    continue
            else:
                message = cast(Message, self.pending.popleft())
            try:
                self.deliver(message)
            except Exception:  # one bad message must not stop the others
                # Whose message it was, for LOG_FORMAT=json (a health check's id is no one's).
                prediction_id = None
                if not isinstance(message, HealthcheckResult):
                    prediction_id = getattr(message, "id", None)
                log.exception(
                    "handling worker message %s",
                    type(message).__name__,
                    extra={"prediction_id": prediction_id} if prediction_id else None,
                )
        self.resuming = bool(self.pending)
        if self.resuming:
            asyncio.get_running_loop().call_soon(self._deliver_some)

    def send(self, message: Message) -> None:
        # At once: a prediction waits for it (holding frames for a turn saves sends under load,
        # but adds a turn of the loop to every prediction).
        if self.transport is None or self.transport.is_closing():
            return
        # Behind a big message still being encoded, in order (a Cancel after its Predict); a
        # health probe asks the worker and has no need to wait.
        if self.held is not None and not isinstance(message, Healthcheck):
            self.held.append(message)
            return
        if isinstance(message, Predict) and carries_much(message.input):
            self.held = []
            encoding = asyncio.get_running_loop().run_in_executor(None, encode, message)
            encoding.add_done_callback(self._encoded)
            return
        self.transport.write(encode(message))

    def _encoded(self, encoding: asyncio.Future[bytes]) -> None:
        held, self.held = self.held or [], None
        try:
            frame = encoding.result()
        except Exception:
            log.exception("encoding a message for the worker")
        else:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(frame)
            else:
                _discard(frame)  # the worker is gone: nobody will read its spill file
        for message in held:
            self.send(message)
