"""Signing keys: rotate the active one, and publish the public keys that verify tokens."""

from __future__ import annotations

import ctypes
from typing import Optional

from ._c import C_STR, IAM_P, OWNED_STR, STATUS, Text, arg, call_json, call_string
from ._handle import Handle
from ._library import declare
from .records import PublicKey

declare(
    {
        "iam_rotate_signing_key": (STATUS, [IAM_P, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_public_keys": (STATUS, [IAM_P, ctypes.POINTER(OWNED_STR)]),
    }
)


class Keys(Handle):
    """The signing-key methods of :class:`~iam_ffi.Iam`."""

    def rotate_signing_key(self, actor_token: Optional[Text] = None) -> str:
        """Makes a new signing key the active one (and new JOSE keys for ID tokens and JWT
        access tokens); tokens signed by the old keys verify until they expire. Returns the new
        key's id (its PASERK id, ``k4.pid.…``). ``actor_token``: an admin (None: the embedding
        application)."""
        with self._call() as (lib, iam):
            return call_string(lib, lib.iam_rotate_signing_key, iam, arg(actor_token))

    def public_keys(self) -> list[PublicKey]:
        """The public keys that verify iam's access tokens (the active one and those kept for
        older tokens), for a resource server that verifies tokens itself."""
        with self._call() as (lib, iam):
            keys = call_json(lib, lib.iam_public_keys, iam)
        return [PublicKey.from_json(k) for k in keys]
