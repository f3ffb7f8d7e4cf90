"""The C side in Python terms: the opaque types, argument and result conversions, and the
status check that raises the exception of a failed call.

Ownership follows iam.h: strings iam hands out (``char **`` out-parameters) are copied into
Python and freed (and wiped) by iam at once; objects (tokens, principals, ...) are read into
frozen dataclasses and freed the same way; nothing iam owns outlives the call that made it.
"""

from __future__ import annotations

import ctypes
import json
from typing import Any, Callable, ClassVar, Iterable, Iterator, Optional, TypeVar, Union, final

from . import error_class

__all__ = [
    "Text",
    "Application",
    "APPLICATION",
    "ActorToken",
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
    "pages",
    "actor_arg",
    "token_arg",
]

#: A string argument: str (sent as UTF-8) or bytes (sent as they are).
Text = Union[str, bytes]


@final
class Application:
    """The type of :data:`APPLICATION`, the one value that says "act as the embedding
    application itself" where iam.h takes an optional actor token. Not subclassable; its one
    instance survives copying and pickling."""

    __slots__ = ()
    _instance: ClassVar[Optional[Application]] = None

    def __new__(cls) -> Application:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("iam_ffi.Application cannot be subclassed")

    def __repr__(self) -> str:
        return "iam_ffi.APPLICATION"

    def __reduce__(self) -> str:
        return "APPLICATION"


#: Pass as ``actor_token=`` to act as the embedding application itself: a fully trusted caller
#: that iam does not authorize (the C API's NULL actor token). Only for calls the application
#: makes on its own account, never for a request whose token is missing.
APPLICATION = Application()

#: What ``actor_token=`` takes: the access token of whoever asks, or :data:`APPLICATION`.
ActorToken = Union[Text, Application]


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


def _encode(value: Text) -> bytes:
    """A str as UTF-8, bytes as they are. A NUL character would end the C string early
    (``"admin\\x00x"`` would reach iam as ``"admin"``), so a value holding one is refused with
    ValueError; a value of another type with TypeError."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, bytes):
        raise TypeError(f"expected str or bytes, not {type(value).__name__}")
    if b"\x00" in value:
        raise ValueError("a string argument must not contain a NUL character (\\x00)")
    return value


def arg(value: Optional[Text]) -> Optional[bytes]:
    """A str as UTF-8; bytes pass through unchanged (so callers can pass raw bytes); None
    stays NULL. A value holding a NUL character is refused (ValueError)."""
    return None if value is None else _encode(value)


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


_Item = TypeVar("_Item")
_Cursor = TypeVar("_Cursor")


def pages(
    fetch: Callable[[_Cursor], list[_Item]],
    first: _Cursor,
    cursor_after: Callable[[_Item], _Cursor],
    page_size: int,
) -> Iterator[_Item]:
    """Every item of a paged listing: ``fetch(cursor)`` gives one page of at most
    ``page_size`` items, starting at ``first``; the next page starts at ``cursor_after`` of the
    page's last item, and a shorter page is the last."""
    cursor = first
    while True:
        page = fetch(cursor)
        yield from page
        if len(page) < page_size:
            return
        cursor = cursor_after(page[-1])


def actor_arg(actor_token: ActorToken) -> Optional[bytes]:
    """An optional actor of iam.h: :data:`APPLICATION` becomes NULL (the embedding application),
    a token is sent as it is. None is refused (TypeError), so that a missing token (say, an
    absent request header) never turns into the application's authority."""
    if isinstance(actor_token, Application):
        return None
    if actor_token is None:
        raise TypeError(
            "actor_token is None: pass the access token of whoever asks, or iam_ffi.APPLICATION "
            "to act as the embedding application itself"
        )
    if not isinstance(actor_token, (str, bytes)):
        raise TypeError(
            "actor_token must be an access token (str or bytes) or iam_ffi.APPLICATION, not "
            f"{type(actor_token).__name__}"
        )
    return _encode(actor_token)


def token_arg(token: Text, name: str = "actor_token") -> bytes:
    """A token iam.h requires (it has no NULL meaning the application): None, or
    :data:`APPLICATION`, is refused with TypeError naming the parameter."""
    if token is None or isinstance(token, Application):
        raise TypeError(
            f"{name} is required here: pass the access token of whoever asks "
            f"(not {token!r}; this call cannot act as the embedding application)"
        )
    return _encode(token)
