"""Sessions and access tokens: log in, refresh, verify (access and ID tokens), revoke. Also the
readers of ``iam_tokens_t`` and ``iam_principal_t``, which other areas return too."""

from __future__ import annotations

import ctypes
import json
from typing import Any, Optional

from ._c import (
    C_STR,
    IAM_P,
    OWNED_STR,
    STATUS,
    PrincipalT,
    Text,
    TokensT,
    actor_arg,
    arg,
    check,
    take_string,
    text,
)
from ._handle import Handle
from ._library import declare
from .models import AccountKind, Principal, TokenPair

TOKENS_P: type[ctypes._Pointer[TokensT]] = ctypes.POINTER(TokensT)
PRINCIPAL_P: type[ctypes._Pointer[PrincipalT]] = ctypes.POINTER(PrincipalT)

declare(
    {
        "iam_login": (STATUS, [IAM_P, C_STR, C_STR, C_STR, ctypes.POINTER(TOKENS_P)]),
        "iam_refresh": (STATUS, [IAM_P, C_STR, ctypes.POINTER(TOKENS_P)]),
        "iam_verify": (STATUS, [IAM_P, C_STR, ctypes.POINTER(PRINCIPAL_P)]),
        "iam_verify_id_token": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_revoke_session": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_tokens_access_token": (C_STR, [TOKENS_P]),
        "iam_tokens_refresh_token": (C_STR, [TOKENS_P]),
        "iam_tokens_session_id": (C_STR, [TOKENS_P]),
        "iam_tokens_expires_in": (ctypes.c_uint64, [TOKENS_P]),
        "iam_tokens_free": (None, [ctypes.POINTER(TOKENS_P)]),
        "iam_principal_account_id": (C_STR, [PRINCIPAL_P]),
        "iam_principal_session_id": (C_STR, [PRINCIPAL_P]),
        "iam_principal_token_id": (C_STR, [PRINCIPAL_P]),
        "iam_principal_kind": (ctypes.c_int32, [PRINCIPAL_P]),
        "iam_principal_roles_len": (ctypes.c_size_t, [PRINCIPAL_P]),
        "iam_principal_role": (C_STR, [PRINCIPAL_P, ctypes.c_size_t]),
        "iam_principal_has_role": (ctypes.c_bool, [PRINCIPAL_P, C_STR]),
        "iam_principal_amr_len": (ctypes.c_size_t, [PRINCIPAL_P]),
        "iam_principal_amr": (C_STR, [PRINCIPAL_P, ctypes.c_size_t]),
        "iam_principal_issued_at": (ctypes.c_int64, [PRINCIPAL_P]),
        "iam_principal_expires_at": (ctypes.c_int64, [PRINCIPAL_P]),
        "iam_principal_auth_time": (ctypes.c_int64, [PRINCIPAL_P]),
        "iam_principal_free": (None, [ctypes.POINTER(PRINCIPAL_P)]),
    }
)

# iam_account_kind
_KINDS: dict[int, AccountKind] = {1: "human", 2: "system"}


def take_tokens(lib: Any, tokens: Any) -> TokenPair:
    """Reads an ``iam_tokens_t`` and frees it."""
    try:
        return TokenPair(
            access_token=text(lib.iam_tokens_access_token(tokens)),
            refresh_token=text(lib.iam_tokens_refresh_token(tokens)),
            session_id=text(lib.iam_tokens_session_id(tokens)),
            expires_in=int(lib.iam_tokens_expires_in(tokens)),
        )
    finally:
        lib.iam_tokens_free(ctypes.byref(tokens))


def take_principal(lib: Any, principal: Any) -> Principal:
    """Reads an ``iam_principal_t`` and frees it."""
    try:
        return Principal(
            account_id=text(lib.iam_principal_account_id(principal)),
            session_id=text(lib.iam_principal_session_id(principal)),
            token_id=text(lib.iam_principal_token_id(principal)),
            kind=_KINDS.get(int(lib.iam_principal_kind(principal)), "unknown"),
            roles=tuple(
                text(lib.iam_principal_role(principal, i))
                for i in range(lib.iam_principal_roles_len(principal))
            ),
            amr=tuple(
                text(lib.iam_principal_amr(principal, i))
                for i in range(lib.iam_principal_amr_len(principal))
            ),
            issued_at=int(lib.iam_principal_issued_at(principal)),
            expires_at=int(lib.iam_principal_expires_at(principal)),
            auth_time=int(lib.iam_principal_auth_time(principal)),
        )
    finally:
        lib.iam_principal_free(ctypes.byref(principal))


class Sessions(Handle):
    """The session and token methods of :class:`~iam_ffi.Iam`."""

    def login(self, username: Text, password: Text, totp_code: Optional[Text] = None) -> TokenPair:
        """Logs in; returns the new session's token pair."""
        tokens = TOKENS_P()
        with self._call() as (lib, iam):
            check(
                lib,
                lib.iam_login(
                    iam, arg(username), arg(password), arg(totp_code), ctypes.byref(tokens)
                ),
            )
            return take_tokens(lib, tokens)

    def refresh(self, refresh_token: Text) -> TokenPair:
        """Rotates a refresh token into a new pair (the old one dies; replaying it revokes the
        session)."""
        tokens = TOKENS_P()
        with self._call() as (lib, iam):
            check(lib, lib.iam_refresh(iam, arg(refresh_token), ctypes.byref(tokens)))
            return take_tokens(lib, tokens)

    def verify(self, access_token: Text) -> Principal:
        """Verifies an access token (PASETO, or an RFC 9068 JWT access token); returns whom it
        speaks for."""
        principal = PRINCIPAL_P()
        with self._call() as (lib, iam):
            check(lib, lib.iam_verify(iam, arg(access_token), ctypes.byref(principal)))
            return take_principal(lib, principal)

    def verify_id_token(self, id_token: Text, client_id: Text) -> dict[str, Any]:
        """Verifies an OpenID Connect ID token this iam issued to ``client_id`` (signature,
        ``typ``, issuer, audience, expiry); returns its claims."""
        claims = OWNED_STR()
        with self._call() as (lib, iam):
            check(
                lib,
                lib.iam_verify_id_token(iam, arg(id_token), arg(client_id), ctypes.byref(claims)),
            )
            parsed: dict[str, Any] = json.loads(take_string(lib, claims))
            return parsed

    def revoke_session(
        self,
        session_id: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> None:
        """Revokes a session; its tokens stop working at once. ``actor_token`` is the access
        token of whoever asks (None: the embedding application)."""
        actor_bytes = actor_arg(actor_token, actor)
        with self._call() as (lib, iam):
            check(lib, lib.iam_revoke_session(iam, arg(session_id), actor_bytes))
