"""Accounts: create one, look one up, set a password."""

from __future__ import annotations

import ctypes
from typing import Iterable, Optional

from ._c import (
    C_STR,
    IAM_P,
    OWNED_STR,
    STATUS,
    Text,
    actor_arg,
    arg,
    check,
    str_array,
    take_string,
)
from ._handle import Handle
from ._library import declare

declare(
    {
        "iam_create_account": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(C_STR), ctypes.c_size_t, C_STR,
             ctypes.POINTER(OWNED_STR)],
        ),
        "iam_find_account": (STATUS, [IAM_P, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_set_password": (STATUS, [IAM_P, C_STR, C_STR, C_STR]),
    }
)


class Accounts(Handle):
    """The account methods of :class:`~iam_ffi.Iam`."""

    def create_account(
        self,
        username: Text,
        password: Optional[Text] = None,
        roles: Iterable[Text] = (),
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> str:
        """Creates an account (human with a password, system without) and returns its id.
        ``actor_token`` is the access token of whoever asks (None: the embedding application)."""
        role_array, role_count = str_array(roles)
        account_id = OWNED_STR()
        actor_bytes = actor_arg(actor_token, actor)
        with self._call() as (lib, iam):
            check(
                lib,
                lib.iam_create_account(
                    iam, arg(username), arg(password), role_array, role_count, actor_bytes,
                    ctypes.byref(account_id),
                ),
            )
            return take_string(lib, account_id)

    def find_account(self, username: Text) -> str:
        """The id of the account named ``username`` (NotFoundError if none)."""
        account_id = OWNED_STR()
        with self._call() as (lib, iam):
            check(lib, lib.iam_find_account(iam, arg(username), ctypes.byref(account_id)))
            return take_string(lib, account_id)

    def set_password(
        self,
        account_id: Text,
        password: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> None:
        """Sets a human account's password. ``actor_token`` is the access token of whoever asks
        (None: the embedding application)."""
        actor_bytes = actor_arg(actor_token, actor)
        with self._call() as (lib, iam):
            check(lib, lib.iam_set_password(iam, arg(account_id), arg(password), actor_bytes))
