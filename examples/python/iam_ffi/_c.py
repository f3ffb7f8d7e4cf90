"""The C side in Python terms: the opaque types, argument and result conversions, and the
status check that raises the exception of a failed call.

Ownership follows iam.h: strings iam hands out (``char **`` out-parameters) are copied into
Python and freed (and wiped) by iam at once; objects (tokens, principals, ...) are read into
frozen dataclasses and freed the same way; nothing iam owns outlives the call that made it.
"""

from __future__ import annotations

import ctypes
import json
import warnings
from typing import Any, Iterable, Optional, Union

from . import error_class

__all__ = [
    "Text",
    "IamT",
    "TokensT",
    "PrincipalT",
    "DbCredentialsT",
    "ElevationT",
    "IAM_P",
    "STATUS",
    "C_STR",
    "OWNED_STR",
    "arg",
    "as_str",
    "str_array",
    "text",
    "optional_text",
    "take_string",
    "check",
    "call_string",
    "call_json",
    "actor_arg",
]

#: A string argument: str (sent as UTF-8) or bytes (sent as they are).
Text = Union[str, bytes]


class IamT(ctypes.Structure):
    """The opaque ``iam_t``."""


class TokensT(ctypes.Structure):
    """The opaque ``iam_tokens_t``."""


class PrincipalT(ctypes.Structure):
    """The opaque ``iam_principal_t``."""


class DbCredentialsT(ctypes.Structure):
    """The opaque ``iam_db_credentials_t``."""


class ElevationT(ctypes.Structure):
    """The opaque ``iam_elevation_t``."""


#: ``iam_t *``.
IAM_P: type[ctypes._Pointer[IamT]] = ctypes.POINTER(IamT)
#: ``iam_status`` (an ``int32_t``).
STATUS = ctypes.c_int32
#: ``const char *`` in, or borrowed out (ctypes copies it into bytes).
C_STR = ctypes.c_char_p
#: An owned ``char *`` handed out by iam: kept as an address so that iam can free it.
OWNED_STR = ctypes.c_void_p


def arg(value: Optional[Text]) -> Optional[bytes]:
    """A str as UTF-8; bytes pass through unchanged (so callers can pass raw bytes); None
    stays NULL."""
    if value is None or isinstance(value, bytes):
        return value
    return value.encode("utf-8")


def as_str(value: Text) -> str:
    """A str argument as it is; bytes decoded as UTF-8 (as iam read them)."""
    return value if isinstance(value, str) else value.decode("utf-8")


def str_array(values: Iterable[Text]) -> tuple[Any, int]:
    """A ``const char *const *`` array of ``values`` and its length (NULL when empty)."""
    items = [arg(v) for v in values]
    if not items:
        return None, 0
    return (ctypes.c_char_p * len(items))(*items), len(items)


def text(value: Optional[bytes]) -> str:
    """A borrowed C string as str ("" for NULL)."""
    return (value or b"").decode("utf-8")


def optional_text(value: Optional[bytes]) -> Optional[str]:
    """A borrowed C string as str, or None for NULL."""
    return None if value is None else value.decode("utf-8")


def take_string(lib: Any, pointer: ctypes.c_void_p) -> str:
    """Copies an owned string handed out by iam, then frees (and wipes) iam's copy."""
    try:
        return text(ctypes.string_at(pointer.value)) if pointer.value else ""
    finally:
        lib.iam_string_free(ctypes.byref(pointer))


def check(lib: Any, status: int) -> None:
    """Raises the exception of ``status`` (with the thread's last error) unless it is 0."""
    if status == 0:
        return
    message = (lib.iam_last_error() or b"").decode("utf-8", "replace")
    if not message:
        message = (lib.iam_status_name(status) or b"").decode("utf-8", "replace")
    raise error_class(status)(message, status)


def call_string(lib: Any, function: Any, *args: Any) -> str:
    """Calls ``function(*args, &out)`` (a C function whose last argument is a ``char **`` it
    fills), raises on a failed status, and returns the string it handed out (freed by iam)."""
    out = OWNED_STR()
    check(lib, function(*args, ctypes.byref(out)))
    return take_string(lib, out)


def call_json(lib: Any, function: Any, *args: Any) -> Any:
    """:func:`call_string` for a function that hands out JSON: returns it parsed."""
    return json.loads(call_string(lib, function, *args))


def actor_arg(actor_token: Optional[Text], actor: Optional[Text]) -> Optional[bytes]:
    """``actor_token``, or the deprecated keyword ``actor`` that named it before (warns).
    Called from the public method, so the warning points at its caller."""
    if actor is not None:
        if actor_token is not None:
            raise TypeError("give actor_token, or its deprecated alias actor, not both")
        warnings.warn(
            "the keyword `actor` is deprecated: pass `actor_token`, the access token of whoever "
            "asks (an account id is no longer accepted there)",
            DeprecationWarning,
            stacklevel=3,
        )
        actor_token = actor
    return arg(actor_token)
