"""Length-prefixed JSON frames over a stream socket: blocking in the worker, asyncio in the
server. A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from typing import Any

from .events import Message, from_wire, to_wire

_HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024


def encode(message: Message) -> bytes:
    body = json.dumps(to_wire(message), separators=(",", ":"), default=str).encode()
    return _HEADER.pack(len(body)) + body


def decode(body: bytes) -> Message:
    data: dict[str, Any] = json.loads(body)
    return from_wire(data)


class BlockingChannel:
    """The worker's end: thread-safe sends, blocking receives."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()

    def send(self, message: Message) -> None:
        frame = encode(message)
        with self.lock:
            self.sock.sendall(frame)

    def receive(self) -> Message | None:
        header = self._exactly(_HEADER.size)
        if header is None:
            return None
        (length,) = _HEADER.unpack(header)
        body = self._exactly(length)
        return None if body is None else decode(body)

    def _exactly(self, size: int) -> bytes | None:
        chunks, remaining = [], size
        while remaining:
            chunk = self.sock.recv(min(remaining, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


class AsyncChannel:
    """The server's end over asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, message: Message) -> None:
        self.writer.write(encode(message))

    async def receive(self) -> Message | None:
        try:
            header = await self.reader.readexactly(_HEADER.size)
            (length,) = _HEADER.unpack(header)
            if length > MAX_FRAME:
                raise ValueError(f"worker frame of {length} bytes is too large")
            return decode(await self.reader.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    def close(self) -> None:
        self.writer.close()
