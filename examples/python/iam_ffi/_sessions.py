"""Sessions and access tokens: log in, refresh, verify (access tokens, for iam's audience or
another, and ID tokens), list an account's sessions, revoke one or all. Also the readers of
``iam_tokens_t`` and ``iam_principal_t``, which other areas return too."""

from __future__ import annotations

import ctypes
import json
from typing import Any, Callable, Optional

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
    call_json,
    check,
    optional_text,
    take_string,
    text,
)
from ._handle import Handle
from ._library import declare
from .models import AccountKind, CredentialKind, Principal, TokenPair
from .records import Session

TOKENS_P: type[ctypes._Pointer[TokensT]] = ctypes.POINTER(TokensT)
PRINCIPAL_P: type[ctypes._Pointer[PrincipalT]] = ctypes.POINTER(PrincipalT)

declare(
    {
        "iam_login": (STATUS, [IAM_P, C_STR, C_STR, C_STR, ctypes.POINTER(TOKENS_P)]),
        "iam_refresh": (STATUS, [IAM_P, C_STR, ctypes.POINTER(TOKENS_P)]),
        "iam_verify": (STATUS, [IAM_P, C_STR, ctypes.POINTER(PRINCIPAL_P)]),
        "iam_verify_for": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(PRINCIPAL_P)]),
        "iam_verify_id_token": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_revoke_session": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_list_sessions": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_revoke_all_sessions": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(ctypes.c_uint64)],
        ),
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
        "iam_principal_credential": (ctypes.c_int32, [PRINCIPAL_P]),
        "iam_principal_scopes_len": (ctypes.c_size_t, [PRINCIPAL_P]),
        "iam_principal_scope": (C_STR, [PRINCIPAL_P, ctypes.c_size_t]),
        "iam_principal_has_scope": (ctypes.c_bool, [PRINCIPAL_P, C_STR]),
        "iam_principal_elevated_roles_len": (ctypes.c_size_t, [PRINCIPAL_P]),
        "iam_principal_elevated_role": (C_STR, [PRINCIPAL_P, ctypes.c_size_t]),
        "iam_principal_elevated_until": (ctypes.c_int64, [PRINCIPAL_P]),
        "iam_principal_client_id": (C_STR, [PRINCIPAL_P]),
        "iam_principal_actor": (C_STR, [PRINCIPAL_P]),
        "iam_principal_org_id": (C_STR, [PRINCIPAL_P]),
        "iam_principal_org_role": (C_STR, [PRINCIPAL_P]),
        "iam_principal_audience_len": (ctypes.c_size_t, [PRINCIPAL_P]),
        "iam_principal_audience": (C_STR, [PRINCIPAL_P, ctypes.c_size_t]),
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


def _items(
    principal: Any, count: Callable[[Any], int], item: Callable[[Any, int], Optional[bytes]]
) -> tuple[str, ...]:
    """A list a principal lends out through a length getter and an index getter."""
    return tuple(text(item(principal, i)) for i in range(count(principal)))


def take_principal(lib: Any, principal: Any) -> Principal:
    """Reads an ``iam_principal_t`` and frees it."""
    try:
        elevated_until = int(lib.iam_principal_elevated_until(principal))
        return Principal(
            account_id=text(lib.iam_principal_account_id(principal)),
            session_id=text(lib.iam_principal_session_id(principal)),
            token_id=text(lib.iam_principal_token_id(principal)),
            kind=_KINDS.get(int(lib.iam_principal_kind(principal)), "unknown"),
            roles=_items(principal, lib.iam_principal_roles_len, lib.iam_principal_role),
            amr=_items(principal, lib.iam_principal_amr_len, lib.iam_principal_amr),
            issued_at=int(lib.iam_principal_issued_at(principal)),
            expires_at=int(lib.iam_principal_expires_at(principal)),
            auth_time=int(lib.iam_principal_auth_time(principal)),
            credential=CredentialKind.of(int(lib.iam_principal_credential(principal))),
            scopes=_items(principal, lib.iam_principal_scopes_len, lib.iam_principal_scope),
            elevated_roles=_items(
                principal, lib.iam_principal_elevated_roles_len, lib.iam_principal_elevated_role
            ),
            elevated_until=elevated_until or None,
            client_id=optional_text(lib.iam_principal_client_id(principal)),
            actor=optional_text(lib.iam_principal_actor(principal)),
            org_id=optional_text(lib.iam_principal_org_id(principal)),
            org_role=optional_text(lib.iam_principal_org_role(principal)),
            audience=_items(principal, lib.iam_principal_audience_len, lib.iam_principal_audience),
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

    def verify_for(self, access_token: Text, audience: Text) -> Principal:
        """Verifies an access token as :meth:`verify` does, for a resource server whose tokens
        are minted for ``audience`` (a resource indicator, RFC 8707) instead of iam's own: a
        token whose ``aud`` does not name it is refused (TokenInvalidError)."""
        principal = PRINCIPAL_P()
        with self._call() as (lib, iam):
            status = lib.iam_verify_for(
                iam, arg(access_token), arg(audience), ctypes.byref(principal)
            )
            check(lib, status)
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

    def list_sessions(self, account_id: Text, actor_token: Optional[Text] = None) -> list[Session]:
        """An account's sessions, newest first (revoked and expired ones too, until the sweep
        prunes them). ``actor_token``: the account itself or an admin (None: the embedding
        application)."""
        with self._call() as (lib, iam):
            sessions = call_json(
                lib, lib.iam_list_sessions, iam, arg(account_id), arg(actor_token)
            )
        return [Session.from_json(s) for s in sessions]

    def revoke_all_sessions(self, account_id: Text, actor_token: Optional[Text] = None) -> int:
        """Signs an account out everywhere: revokes every session (their access tokens stop
        verifying at once) and withdraws what it delegated (OAuth grants, client tokens acting
        for it). Returns how many live sessions were revoked. ``actor_token``: a login session
        of the account itself, or an admin (None: the embedding application)."""
        revoked = ctypes.c_uint64()
        with self._call() as (lib, iam):
            status = lib.iam_revoke_all_sessions(
                iam, arg(account_id), arg(actor_token), ctypes.byref(revoked)
            )
            check(lib, status)
            return revoked.value
