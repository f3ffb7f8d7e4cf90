"""The OAuth client registry (register, describe, list, rotate a secret, disable) and token
introspection (RFC 7662) for a confidential client."""

from __future__ import annotations

import ctypes
import json
from typing import Mapping, Optional, Union

from ._c import (
    C_STR,
    IAM_P,
    OWNED_STR,
    STATUS,
    Text,
    arg,
    as_str,
    call_json,
    call_string,
    check,
    take_string,
)
from ._handle import Handle
from ._library import declare
from .models import ClientSecret, RegisteredClient
from .records import ClientRegistration, Introspection, OAuthClient

declare(
    {
        "iam_register_client": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR), ctypes.POINTER(OWNED_STR)],
        ),
        "iam_get_oauth_client": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_list_oauth_clients": (STATUS, [IAM_P, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_rotate_client_secret": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)],
        ),
        "iam_disable_client": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(ctypes.c_uint64)]),
        "iam_introspect": (
            STATUS,
            [IAM_P, C_STR, C_STR, C_STR, C_STR, ctypes.POINTER(OWNED_STR)],
        ),
    }
)


class Clients(Handle):
    """The OAuth client methods of :class:`~iam_ffi.Iam`."""

    def register_client(
        self,
        actor_token: Text,
        client: Union[ClientRegistration, Mapping[str, object], str],
    ) -> RegisteredClient:
        """Registers an OAuth client described by ``client`` (a mapping with the fields of
        :class:`~iam_ffi.records.ClientRegistration`, or its JSON text). Returns the registered
        client and, for a confidential one, its secret (shown only this once). Admins may
        register any client; another account only a client acting for itself
        (``acts_for_owner``), asking only for roles it holds (else NotPermittedError)."""
        client_json = client if isinstance(client, str) else json.dumps(dict(client))
        described = OWNED_STR()
        secret = OWNED_STR()
        with self._call() as (lib, iam):
            status = lib.iam_register_client(
                iam, arg(actor_token), arg(client_json), ctypes.byref(described),
                ctypes.byref(secret),
            )
            check(lib, status)
            # Both are filled on success (the secret stays NULL for a public client): take
            # both, whatever happens, so that neither is left unfreed.
            try:
                client_text = take_string(lib, described)
            finally:
                secret_text = take_string(lib, secret) or None
        return RegisteredClient(
            client=OAuthClient.from_json(json.loads(client_text)), secret=secret_text
        )

    def get_oauth_client(self, client_id: Text, actor_token: Optional[Text] = None) -> OAuthClient:
        """Describes a registered client (never its secret). ``actor_token``: its owner or an
        admin (others get NotFoundError; None: the embedding application)."""
        with self._call() as (lib, iam):
            client = call_json(
                lib, lib.iam_get_oauth_client, iam, arg(client_id), arg(actor_token)
            )
        return OAuthClient.from_json(client)

    def list_oauth_clients(self, actor_token: Optional[Text] = None) -> list[OAuthClient]:
        """Every registered client, ordered by id. ``actor_token``: an admin (None: the
        embedding application)."""
        with self._call() as (lib, iam):
            clients = call_json(lib, lib.iam_list_oauth_clients, iam, arg(actor_token))
        return [OAuthClient.from_json(c) for c in clients]

    def rotate_client_secret(self, actor_token: Text, client_id: Text) -> ClientSecret:
        """Gives a confidential client a new secret (shown only this once); the old one keeps
        working through its grace period. ``actor_token``: the client's owner or an admin. A
        public client has no secret (InvalidStateError)."""
        with self._call() as (lib, iam):
            secret = call_string(
                lib, lib.iam_rotate_client_secret, iam, arg(actor_token), arg(client_id)
            )
        return ClientSecret(client_id=as_str(client_id), secret=secret)

    def disable_client(self, actor_token: Text, client_id: Text) -> int:
        """Disables a client for good: it can no longer authenticate and every token issued to
        it stops working at once. Returns how many live token families (user grants) were
        revoked. ``actor_token``: the client's owner or an admin."""
        revoked = ctypes.c_uint64()
        with self._call() as (lib, iam):
            status = lib.iam_disable_client(
                iam, arg(actor_token), arg(client_id), ctypes.byref(revoked)
            )
            check(lib, status)
            return revoked.value

    def introspect(
        self,
        client_id: Text,
        client_secret: Text,
        token: Text,
        token_type_hint: Optional[str] = None,
    ) -> Introspection:
        """Introspects ``token`` (RFC 7662) for the confidential client ``client_id``,
        authenticated by ``client_secret``: inactive for a token not valid now, or one neither
        issued to the client nor meant for one of its resources. ``token_type_hint``
        (``"access_token"`` or ``"refresh_token"``) only orders the search. A wrong client or
        secret is BadCredentialsError."""
        with self._call() as (lib, iam):
            answer = call_json(
                lib, lib.iam_introspect, iam, arg(client_id), arg(client_secret), arg(token),
                arg(token_type_hint),
            )
        return Introspection.from_json(answer)
