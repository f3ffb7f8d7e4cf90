"""Personal API tokens: create (the secret is shown once), verify, revoke, list."""

from __future__ import annotations

import ctypes
from typing import Iterable, Optional

from ._c import (
    C_STR,
    IAM_P,
    OWNED_STR,
    STATUS,
    Text,
    arg,
    call_json,
    check,
    str_array,
    take_string,
)
from ._handle import Handle
from ._library import declare
from ._sessions import PRINCIPAL_P, take_principal
from .models import ApiToken, Principal
from .records import ApiTokenInfo

declare(
    {
        "iam_create_api_token": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(C_STR), ctypes.c_size_t, ctypes.c_int64,
             ctypes.POINTER(OWNED_STR), ctypes.POINTER(OWNED_STR)],
        ),
        "iam_revoke_api_token": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_verify_api_token": (STATUS, [IAM_P, C_STR, ctypes.POINTER(PRINCIPAL_P)]),
        "iam_list_api_tokens": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
    }
)


class ApiTokens(Handle):
    """The personal API token methods of :class:`~iam_ffi.Iam`."""

    def create_api_token(
        self,
        access_token: Text,
        label: Text,
        scopes: Iterable[Text] = (),
        expires_at: int = 0,
    ) -> ApiToken:
        """Creates a personal API token for the token's holder, limited to ``scopes`` (roles they
        hold) and expiring at ``expires_at`` (Unix seconds)."""
        scope_array, scope_count = str_array(scopes)
        secret = OWNED_STR()
        token_id = OWNED_STR()
        with self._call() as (lib, iam):
            status = lib.iam_create_api_token(
                iam, arg(access_token), arg(label), scope_array, scope_count, int(expires_at),
                ctypes.byref(secret), ctypes.byref(token_id),
            )
            check(lib, status)
            return ApiToken(secret=take_string(lib, secret), token_id=take_string(lib, token_id))

    def revoke_api_token(self, access_token: Text, token_id: Text) -> None:
        """Revokes a personal API token (its owner or an admin); it stops verifying at once."""
        with self._call() as (lib, iam):
            check(lib, lib.iam_revoke_api_token(iam, arg(access_token), arg(token_id)))

    def verify_api_token(self, secret: Text) -> Principal:
        """Verifies a personal API token; its roles are the scopes the owner still holds."""
        principal = PRINCIPAL_P()
        with self._call() as (lib, iam):
            check(lib, lib.iam_verify_api_token(iam, arg(secret), ctypes.byref(principal)))
            return take_principal(lib, principal)

    def list_api_tokens(
        self, account_id: Text, actor_token: Optional[Text] = None
    ) -> list[ApiTokenInfo]:
        """An account's personal API tokens, revoked and expired ones included (until the
        sweep prunes them), never their secrets. ``actor_token``: the account itself or an
        admin (None: the embedding application)."""
        with self._call() as (lib, iam):
            tokens = call_json(lib, lib.iam_list_api_tokens, iam, arg(account_id), arg(actor_token))
        return [ApiTokenInfo.from_json(t) for t in tokens]
