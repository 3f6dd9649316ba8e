"""Interrupting a synchronous prediction: raise CancelationException in its thread.

The exception is delivered at the next bytecode boundary of that thread (a long C call is not
interrupted), as in Cog.
"""

from __future__ import annotations

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
