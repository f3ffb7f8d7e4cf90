""":class:`Iam`: one ``iam_t`` (an iam instance over one store), with the methods of every area.

To wrap a new area of the C API: add a module that declares its C functions with
``_library.declare`` and defines a :class:`~iam_ffi._handle.Handle` subclass with its methods
(each call inside ``with self._call() as (lib, iam):``), then add that class to Iam's bases.
"""

from __future__ import annotations

import ctypes
import json
import os
from typing import Mapping, Optional, Union

from ._accounts import Accounts
from ._api_tokens import ApiTokens
from ._audit import Audit
from ._c import C_STR, IAM_P, STATUS, arg, check
from ._clients import Clients
from ._elevation import Elevations
from ._keys import Keys
from ._library import declare
from ._lifecycle import Lifecycle
from ._organizations import Organizations
from ._passkeys import Passkeys
from ._roles import Roles
from ._service_accounts import ServiceAccounts
from ._sessions import Sessions
from ._totp import Totp

__all__ = ["Iam"]

declare(
    {
        "iam_open_memory": (STATUS, [C_STR, ctypes.POINTER(IAM_P)]),
        "iam_open_sqlite": (STATUS, [C_STR, C_STR, ctypes.POINTER(IAM_P)]),
        "iam_free": (None, [ctypes.POINTER(IAM_P)]),
    }
)

StrPath = Union[str, "os.PathLike[str]"]


class Iam(
    Accounts,
    Roles,
    Lifecycle,
    Sessions,
    Totp,
    Passkeys,
    ServiceAccounts,
    Elevations,
    ApiTokens,
    Organizations,
    Clients,
    Keys,
    Audit,
):
    """An open iam instance (an ``iam_t``). Safe to share between threads. Close it once with
    :meth:`close` or by leaving a ``with`` block: closing waits for calls still running on other
    threads, and calls made after closing has begun raise :class:`~iam_ffi.IamClosedError`.

    ``config`` is the configuration (:class:`~iam_ffi.IamConfig`; only ``master_key`` is
    required); ``sqlite_path`` selects a SQLite file (created if missing), None the in-memory
    store. Methods that act on someone's behalf take the access token of whoever asks (iam
    verifies it and decides whether they may); where iam.h makes it optional, as the required
    keyword ``actor_token=``, which :data:`~iam_ffi.APPLICATION` (never None) sets to the
    embedding application itself."""

    _free_function = "iam_free"

    def __init__(
        self, config: Mapping[str, object], sqlite_path: Optional[StrPath] = None
    ) -> None:
        super().__init__()
        config_json = json.dumps(dict(config)).encode("utf-8")
        pointer = IAM_P()
        if sqlite_path is None:
            status = self._lib.iam_open_memory(config_json, ctypes.byref(pointer))
        else:
            path = arg(os.fspath(sqlite_path))
            status = self._lib.iam_open_sqlite(path, config_json, ctypes.byref(pointer))
        check(self._lib, status)
        self._pointer = pointer

    @classmethod
    def memory(cls, config: Mapping[str, object]) -> Iam:
        """An instance over the in-memory store (lost at close)."""
        return cls(config)

    @classmethod
    def sqlite(cls, path: StrPath, config: Mapping[str, object]) -> Iam:
        """An instance over the SQLite database at ``path`` (created and migrated if needed; its
        directory must exist)."""
        return cls(config, sqlite_path=path)

    def __repr__(self) -> str:
        return f"<iam_ffi.Iam {'closed' if self.closed else 'open'}>"
