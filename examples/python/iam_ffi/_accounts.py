"""Accounts: create one, look one up (by name, by id, page by page), set a password."""

from __future__ import annotations

import ctypes
from typing import Iterable, Iterator, Optional

from ._c import (
    C_STR,
    IAM_P,
    OWNED_STR,
    STATUS,
    Text,
    actor_arg,
    arg,
    call_json,
    check,
    str_array,
    take_string,
)
from ._handle import Handle
from ._library import declare
from .records import Account

declare(
    {
        "iam_create_account": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(C_STR), ctypes.c_size_t, C_STR,
             ctypes.POINTER(OWNED_STR)],
        ),
        "iam_find_account": (STATUS, [IAM_P, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_get_account": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_list_accounts": (
            STATUS,
            [IAM_P, C_STR, ctypes.c_size_t, C_STR, ctypes.POINTER(OWNED_STR)],
        ),
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

    def get_account(self, account_id: Text, actor_token: Optional[Text] = None) -> Account:
        """Describes an account (never a secret). ``actor_token``: the account itself or an
        admin (None: the embedding application)."""
        with self._call() as (lib, iam):
            account = call_json(lib, lib.iam_get_account, iam, arg(account_id), arg(actor_token))
        return Account.from_json(account)

    def list_accounts(
        self,
        after: Optional[Text] = None,
        limit: int = 100,
        actor_token: Optional[Text] = None,
    ) -> list[Account]:
        """One page of accounts, ordered by id: at most ``limit`` (1-1000) whose ids come after
        ``after`` (None: from the first). For the next page pass the last id of this one;
        :meth:`iter_accounts` does that. ``actor_token``: an admin (None: the embedding
        application)."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        with self._call() as (lib, iam):
            accounts = call_json(
                lib, lib.iam_list_accounts, iam, arg(after), limit, arg(actor_token)
            )
        return [Account.from_json(a) for a in accounts]

    def iter_accounts(
        self, actor_token: Optional[Text] = None, page_size: int = 100
    ) -> Iterator[Account]:
        """Every account, ordered by id, fetched ``page_size`` at a time (each page is one call,
        so accounts created meanwhile may or may not appear)."""
        after: Optional[str] = None
        while True:
            page = self.list_accounts(after, page_size, actor_token)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].id

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
