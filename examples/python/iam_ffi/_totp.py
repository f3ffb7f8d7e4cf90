"""TOTP (RFC 6238): enrol a secret, confirm it with a first code."""

from __future__ import annotations

import ctypes
from typing import Optional

from ._c import C_STR, IAM_P, OWNED_STR, STATUS, Text, actor_arg, arg, check, take_string
from ._handle import Handle
from ._library import declare
from .models import TotpEnrolment

declare(
    {
        "iam_enrol_totp": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR), ctypes.POINTER(OWNED_STR)],
        ),
        "iam_confirm_totp": (STATUS, [IAM_P, C_STR, C_STR, C_STR]),
    }
)


class Totp(Handle):
    """The TOTP methods of :class:`~iam_ffi.Iam`."""

    def enrol_totp(
        self,
        account_id: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> TotpEnrolment:
        """Starts TOTP enrolment; returns the secret and URI once. ``actor_token`` is the access
        token of whoever asks (None: the embedding application)."""
        secret = OWNED_STR()
        uri = OWNED_STR()
        actor_bytes = actor_arg(actor_token, actor)
        with self._call() as (lib, iam):
            status = lib.iam_enrol_totp(
                iam, arg(account_id), actor_bytes, ctypes.byref(secret), ctypes.byref(uri)
            )
            check(lib, status)
            return TotpEnrolment(secret_base32=take_string(lib, secret), uri=take_string(lib, uri))

    def confirm_totp(
        self,
        account_id: Text,
        code: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> None:
        """Confirms TOTP with a current code; from then on login needs one. ``actor_token`` is
        the access token of whoever asks (None: the embedding application)."""
        actor_bytes = actor_arg(actor_token, actor)
        with self._call() as (lib, iam):
            check(lib, lib.iam_confirm_totp(iam, arg(account_id), arg(code), actor_bytes))
