"""Interrupting a running prediction: an exception raised in its thread, or its task canceled.

The thread's exception is delivered at its next bytecode boundary (a long C call is not
interrupted), as in Cog.
"""

from __future__ import annotations

import asyncio
import ctypes

from ..exceptions import CancelationException


def raise_in_thread(thread_id: int, exception: type[BaseException] = CancelationException) -> bool:
    """Schedule `exception` in the thread; False when the thread no longer exists."""
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception)
    )
    if done > 1:  # more than one thread state hit: undo, as the C API asks
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
        return False
    return bool(done)


def withdraw_from_thread(thread_id: int) -> None:
    """Drop an exception scheduled in the thread and not raised yet."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


class ThreadInterrupt:
    """Cancels a synchronous prediction: CancelationException in the thread running it."""

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id

    def interrupt(self) -> None:
        raise_in_thread(self.thread_id)

    def withdraw(self) -> None:
        withdraw_from_thread(self.thread_id)


class TaskInterrupt:
    """Cancels an async prediction: its task, on the loop's thread (where cancels are read)."""

    def __init__(self, task: asyncio.Task[None]) -> None:
        self.task = task

    def interrupt(self) -> None:
        self.task.cancel()

    def withdraw(self) -> None:
        """Nothing to take back: a cancel only lands at an await, and the call is over."""
