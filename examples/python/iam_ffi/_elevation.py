"""Elevation ("sudo mode"): elevatable roles, opening one for a session with a fresh proof,
ending it early, and listing and answering requests that need approval."""

from __future__ import annotations

import ctypes
from typing import Any, Optional

from ._c import (
    C_STR,
    IAM_P,
    OWNED_STR,
    STATUS,
    ElevationT,
    Text,
    actor_arg,
    arg,
    call_json,
    check,
    optional_text,
    text,
)
from ._handle import Handle
from ._library import declare
from .models import Elevation
from .records import ElevationRequest

ELEVATION_P: type[ctypes._Pointer[ElevationT]] = ctypes.POINTER(ElevationT)

declare(
    {
        "iam_grant_elevatable_role": (STATUS, [IAM_P, C_STR, C_STR, C_STR]),
        "iam_revoke_elevatable_role": (STATUS, [IAM_P, C_STR, C_STR, C_STR]),
        "iam_elevate": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.c_uint64, C_STR, C_STR, ctypes.POINTER(ELEVATION_P)],
        ),
        "iam_end_elevation": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_approve_elevation": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(ctypes.c_int64)],
        ),
        "iam_deny_elevation": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_list_elevation_requests": (STATUS, [IAM_P, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_elevation_is_pending": (ctypes.c_bool, [ELEVATION_P]),
        "iam_elevation_role": (C_STR, [ELEVATION_P]),
        "iam_elevation_access_token": (C_STR, [ELEVATION_P]),
        "iam_elevation_since": (ctypes.c_int64, [ELEVATION_P]),
        "iam_elevation_until": (ctypes.c_int64, [ELEVATION_P]),
        "iam_elevation_request_id": (C_STR, [ELEVATION_P]),
        "iam_elevation_request_expires_at": (ctypes.c_int64, [ELEVATION_P]),
        "iam_elevation_free": (None, [ctypes.POINTER(ELEVATION_P)]),
    }
)


def take_elevation(lib: Any, elevation: Any) -> Elevation:
    """Reads an ``iam_elevation_t`` and frees it."""
    try:
        return Elevation(
            role=text(lib.iam_elevation_role(elevation)),
            pending=bool(lib.iam_elevation_is_pending(elevation)),
            access_token=optional_text(lib.iam_elevation_access_token(elevation)),
            since=int(lib.iam_elevation_since(elevation)),
            until=int(lib.iam_elevation_until(elevation)),
            request_id=optional_text(lib.iam_elevation_request_id(elevation)),
            request_expires_at=int(lib.iam_elevation_request_expires_at(elevation)),
        )
    finally:
        lib.iam_elevation_free(ctypes.byref(elevation))


class Elevations(Handle):
    """The elevation methods of :class:`~iam_ffi.Iam`."""

    def grant_elevatable_role(
        self,
        account_id: Text,
        role: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> None:
        """Makes ``role`` elevatable for an account (held, but off until opened per session).
        ``actor_token`` is the access token of whoever asks (None: the embedding application)."""
        actor_bytes = actor_arg(actor_token, actor)
        with self._call() as (lib, iam):
            check(lib, lib.iam_grant_elevatable_role(iam, arg(account_id), arg(role), actor_bytes))

    def revoke_elevatable_role(
        self,
        account_id: Text,
        role: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> None:
        """Takes an elevatable role away; tokens carrying it stop verifying at once.
        ``actor_token`` is the access token of whoever asks (None: the embedding application)."""
        actor_bytes = actor_arg(actor_token, actor)
        with self._call() as (lib, iam):
            check(
                lib, lib.iam_revoke_elevatable_role(iam, arg(account_id), arg(role), actor_bytes)
            )

    def elevate(
        self,
        access_token: Text,
        role: Text,
        duration_secs: int = 0,
        password: Optional[Text] = None,
        totp_code: Optional[Text] = None,
    ) -> Elevation:
        """Opens ``role`` for the token's session (``duration_secs`` 0: the role's maximum) with
        the fresh proof its policy asks for; or files a request when the role needs approval."""
        elevation = ELEVATION_P()
        with self._call() as (lib, iam):
            status = lib.iam_elevate(
                iam, arg(access_token), arg(role), duration_secs, arg(password), arg(totp_code),
                ctypes.byref(elevation),
            )
            check(lib, status)
            return take_elevation(lib, elevation)

    def end_elevation(self, access_token: Text, role: Text) -> None:
        """Ends an open elevation early; the session's access tokens stop verifying at once."""
        with self._call() as (lib, iam):
            check(lib, lib.iam_end_elevation(iam, arg(access_token), arg(role)))

    def approve_elevation(self, approver_token: Text, request_id: Text) -> int:
        """Approves a pending request; returns when the elevation closes (Unix seconds). The
        requester's next refresh yields a token carrying the role."""
        until = ctypes.c_int64()
        with self._call() as (lib, iam):
            status = lib.iam_approve_elevation(
                iam, arg(approver_token), arg(request_id), ctypes.byref(until)
            )
            check(lib, status)
            return until.value

    def deny_elevation(self, approver_token: Text, request_id: Text) -> None:
        """Denies a pending request."""
        with self._call() as (lib, iam):
            check(lib, lib.iam_deny_elevation(iam, arg(approver_token), arg(request_id)))

    def list_elevation_requests(self, approver_token: Text) -> list[ElevationRequest]:
        """The pending elevation requests the holder of ``approver_token`` (a person's login
        session) may answer: for roles whose approver role it carries, made by other accounts,
        not yet lapsed. Answer one with :meth:`approve_elevation` or :meth:`deny_elevation`."""
        with self._call() as (lib, iam):
            requests = call_json(lib, lib.iam_list_elevation_requests, iam, arg(approver_token))
        return [ElevationRequest.from_json(r) for r in requests]
