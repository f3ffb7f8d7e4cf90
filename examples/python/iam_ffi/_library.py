"""Finding and loading libiam_ffi, and the C signatures every module declares for it.

The library is the one bundled in this package (a wheel puts ``libiam_ffi.abi3.so``, or the
platform's equivalent, beside this file), unless ``IAM_FFI_LIB`` names another: an explicit
override, for development against a build of one's own.

Each module that wraps C functions declares their signatures with :func:`declare` when it is
imported; :func:`library` loads the library once and gives every declared function its
``restype`` and ``argtypes``, so ctypes converts and checks arguments instead of guessing.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

__all__ = ["declare", "library", "library_path", "Signature"]

#: ``(restype, argtypes)`` of one C function, as ctypes wants them.
Signature = tuple[Any, Sequence[Any]]

_LIBRARY_NAMES = ("libiam_ffi", "iam_ffi")
_LIBRARY_SUFFIXES = (".so", ".dylib", ".dll", ".pyd")

_signatures: dict[str, Signature] = {
    "iam_last_error": (ctypes.c_char_p, []),
    "iam_status_name": (ctypes.c_char_p, [ctypes.c_int32]),
    "iam_version": (ctypes.c_char_p, []),
    "iam_string_free": (None, [ctypes.POINTER(ctypes.c_void_p)]),
}
_lib: Optional[ctypes.CDLL] = None
_path: Optional[Path] = None
_lock = threading.Lock()


def _bundled() -> Optional[Path]:
    """The library shipped inside this package, if there is one."""
    here = Path(__file__).resolve().parent
    for candidate in sorted(here.iterdir()):
        if candidate.name.startswith(_LIBRARY_NAMES) and candidate.suffix in _LIBRARY_SUFFIXES:
            return candidate
    return None


def _find() -> Path:
    override = os.environ.get("IAM_FFI_LIB")
    if override:
        path = Path(override)
        if not path.is_file():
            raise OSError(f"IAM_FFI_LIB names {override!r}, which is not a file")
        return path
    bundled = _bundled()
    if bundled is not None:
        return bundled
    raise OSError(
        "libiam_ffi is not bundled in this copy of iam_ffi (a source checkout?): install the "
        "wheel (see examples/python/README.md), or set IAM_FFI_LIB to the path of a built "
        "libiam_ffi (cargo build -p iam-ffi)"
    )


def _apply(lib: ctypes.CDLL, signatures: Mapping[str, Signature]) -> None:
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = list(argtypes)


def declare(signatures: Mapping[str, Signature]) -> None:
    """Declares C functions by name; applied when the library loads (at once if it has)."""
    with _lock:
        _signatures.update(signatures)
        if _lib is not None:
            _apply(_lib, signatures)


def library() -> ctypes.CDLL:
    """The loaded libiam_ffi (loaded on first use, then shared)."""
    global _lib, _path
    with _lock:
        if _lib is None:
            path = _find()
            lib = ctypes.CDLL(str(path))
            _apply(lib, _signatures)
            _lib, _path = lib, path
        return _lib


def library_path() -> Path:
    """The path of the library in use (loading it if it is not loaded yet)."""
    library()
    assert _path is not None
    return _path
