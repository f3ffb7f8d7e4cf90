"""A C handle that threads may share and close: calls in flight are counted, ``close()`` waits
for them before freeing, and calls that start once closing has begun raise
:class:`~iam_ffi.IamClosedError` instead of touching freed memory.

A new handle type subclasses :class:`Handle`, names its free function in ``_free_function``,
stores the pointer in ``_pointer`` once opened, and wraps every C call that takes the pointer
in ``with self._call() as (lib, pointer):``.
"""

from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager
from typing import Any, ClassVar, Iterator, TypeVar

from . import IamClosedError
from ._library import library

__all__ = ["Handle"]

_H = TypeVar("_H", bound="Handle")


class Handle:
    """Owns one C handle; a context manager that closes it on exit."""

    #: The C function that frees this handle type (takes a pointer to the handle pointer).
    _free_function: ClassVar[str]

    def __init__(self) -> None:
        # Calls in flight, and whether closing has begun, guarded by one condition.
        self._state = threading.Condition()
        self._active = 0
        self._closing = False
        self._lib: Any = library()
        self._pointer: Any = None

    @contextmanager
    def _call(self) -> Iterator[tuple[Any, Any]]:
        """Counts the block as a call in flight on this handle and yields ``(library,
        pointer)``; raises IamClosedError once the handle is closing or closed."""
        with self._state:
            if self._closing or not self._pointer:
                raise IamClosedError(f"this {type(self).__name__} is closed; open a new one")
            self._active += 1
        try:
            yield self._lib, self._pointer
        finally:
            with self._state:
                self._active -= 1
                if not self._active:
                    self._state.notify_all()

    def close(self) -> None:
        """Frees the handle once every call in flight on other threads has returned; calls made
        from the moment closing begins raise IamClosedError. Closing twice (or from two threads
        at once) is harmless. Must not be called from inside a call on this handle."""
        state = getattr(self, "_state", None)
        if state is None:  # __init__ failed before there was anything to close
            return
        with state:
            self._closing = True
            while self._active:
                state.wait()
            # Holding the lock: a call starting now waits for the handle to be gone, then is
            # refused; a second close finds nothing to free.
            if self._pointer:
                getattr(self._lib, self._free_function)(ctypes.byref(self._pointer))
                self._pointer = None

    @property
    def closed(self) -> bool:
        """Whether the handle has been freed (or was never opened)."""
        return not getattr(self, "_pointer", None)

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass
