"""Passkeys (WebAuthn) for an application with its own front end: register one for a signed-in
account, list, rename and remove them, and sign in with one (passwordless, or after the
password). The options of a started ceremony go to the browser's
``navigator.credentials.create()`` or ``.get()``; the credential it produced comes back as
JSON (a str, or a mapping that is written as JSON)."""

from __future__ import annotations

import ctypes
import json
from typing import Any, Mapping, Optional, Union

from ._c import (
    C_STR,
    IAM_P,
    OWNED_STR,
    STATUS,
    ActorToken,
    Text,
    actor_arg,
    arg,
    call_json,
    check,
    token_arg,
)
from ._handle import Handle
from ._library import declare
from ._sessions import TOKENS_P, take_tokens
from .models import TokenPair
from .records import PasskeyChallenge, PasskeyInfo

declare(
    {
        "iam_passkey_registration_start": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)],
        ),
        "iam_passkey_registration_finish": (
            STATUS,
            [IAM_P, C_STR, C_STR, C_STR, ctypes.POINTER(OWNED_STR)],
        ),
        "iam_passkeys_list": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_passkey_rename": (STATUS, [IAM_P, C_STR, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_passkey_remove": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_passkey_login_start": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_passkey_login_finish": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(TOKENS_P)]),
    }
)

#: A credential as the browser produced it: JSON text, or a mapping written as JSON.
Credential = Union[Text, Mapping[str, Any]]


def _credential(credential: Credential) -> Optional[bytes]:
    """The credential JSON as iam reads it."""
    if isinstance(credential, Mapping):
        return json.dumps(dict(credential)).encode("utf-8")
    return arg(credential)


class Passkeys(Handle):
    """The passkey methods of :class:`~iam_ffi.Iam`."""

    def start_passkey_registration(self, access_token: Text, label: Text) -> PasskeyChallenge:
        """Starts registering a passkey labelled ``label`` for the account of ``access_token``
        (a person's login session, signed in recently). Pass ``options`` to
        ``navigator.credentials.create()`` and its result to
        :meth:`finish_passkey_registration`."""
        token = token_arg(access_token, "access_token")
        with self._call() as (lib, iam):
            data = call_json(lib, lib.iam_passkey_registration_start, iam, token, arg(label))
        return PasskeyChallenge.from_json(data)

    def finish_passkey_registration(
        self, access_token: Text, ceremony: Text, credential: Credential
    ) -> PasskeyInfo:
        """Finishes it with the credential ``navigator.credentials.create()`` produced; the
        ceremony is used up whatever the outcome. Returns the new passkey."""
        token = token_arg(access_token, "access_token")
        with self._call() as (lib, iam):
            data = call_json(
                lib,
                lib.iam_passkey_registration_finish,
                iam,
                token,
                arg(ceremony),
                _credential(credential),
            )
        return PasskeyInfo.from_json(data)

    def list_passkeys(self, account_id: Text, *, actor_token: ActorToken) -> list[PasskeyInfo]:
        """An account's passkeys, oldest first. ``actor_token``: the account itself or an admin
        (:data:`~iam_ffi.APPLICATION`: the embedding application)."""
        actor = actor_arg(actor_token)
        with self._call() as (lib, iam):
            data = call_json(lib, lib.iam_passkeys_list, iam, arg(account_id), actor)
        return [PasskeyInfo.from_json(p) for p in data]

    def rename_passkey(
        self, passkey_id: Text, label: Text, *, actor_token: ActorToken
    ) -> PasskeyInfo:
        """Renames a passkey. ``actor_token``: its owner with a recent sign-in, or an admin
        (:data:`~iam_ffi.APPLICATION`: the embedding application)."""
        actor = actor_arg(actor_token)
        with self._call() as (lib, iam):
            data = call_json(
                lib, lib.iam_passkey_rename, iam, arg(passkey_id), arg(label), actor
            )
        return PasskeyInfo.from_json(data)

    def remove_passkey(self, passkey_id: Text, *, actor_token: ActorToken) -> None:
        """Removes a passkey: it signs in no more. ``actor_token``: its owner with a recent
        sign-in, or an admin (:data:`~iam_ffi.APPLICATION`: the embedding application)."""
        actor = actor_arg(actor_token)
        with self._call() as (lib, iam):
            check(lib, lib.iam_passkey_remove(iam, arg(passkey_id), actor))

    def start_passkey_login(
        self, username: Optional[Text] = None, password: Optional[Text] = None
    ) -> PasskeyChallenge:
        """Starts a passkey sign-in: passwordless without ``username`` and ``password``; with
        both, the password is checked first (as :meth:`login` does) and only that account's
        passkeys may answer. Pass ``options`` to ``navigator.credentials.get()`` and its
        result to :meth:`finish_passkey_login`."""
        with self._call() as (lib, iam):
            data = call_json(
                lib, lib.iam_passkey_login_start, iam, arg(username), arg(password)
            )
        return PasskeyChallenge.from_json(data)

    def finish_passkey_login(self, ceremony: Text, credential: Credential) -> TokenPair:
        """Finishes a passkey sign-in with the credential ``navigator.credentials.get()``
        produced; returns the new session's token pair, as :meth:`login` does."""
        tokens = TOKENS_P()
        with self._call() as (lib, iam):
            status = lib.iam_passkey_login_finish(
                iam, arg(ceremony), _credential(credential), ctypes.byref(tokens)
            )
            check(lib, status)
            return take_tokens(lib, tokens)
