"""Service accounts: their one live token, and the database credentials kept for them."""

from __future__ import annotations

import ctypes

from ._c import (
    C_STR,
    IAM_P,
    OWNED_STR,
    STATUS,
    DbCredentialsT,
    Text,
    arg,
    check,
    take_string,
    text,
)
from ._handle import Handle
from ._library import declare
from .models import DbCredentials, ServiceToken

CREDENTIALS_P: type[ctypes._Pointer[DbCredentialsT]] = ctypes.POINTER(DbCredentialsT)

declare(
    {
        "iam_issue_service_token": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR), ctypes.POINTER(ctypes.c_int64)],
        ),
        "iam_revoke_service_token": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_store_db_credentials": (
            STATUS,
            [IAM_P, C_STR, C_STR, C_STR, ctypes.c_uint16, C_STR, C_STR, C_STR],
        ),
        "iam_fetch_db_credentials": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(CREDENTIALS_P)],
        ),
        "iam_db_credentials_host": (C_STR, [CREDENTIALS_P]),
        "iam_db_credentials_port": (ctypes.c_uint16, [CREDENTIALS_P]),
        "iam_db_credentials_database": (C_STR, [CREDENTIALS_P]),
        "iam_db_credentials_user": (C_STR, [CREDENTIALS_P]),
        "iam_db_credentials_password": (C_STR, [CREDENTIALS_P]),
        "iam_db_credentials_free": (None, [ctypes.POINTER(CREDENTIALS_P)]),
    }
)


class ServiceAccounts(Handle):
    """The service-account methods of :class:`~iam_ffi.Iam`."""

    def issue_service_token(self, actor_token: Text, service_account_id: Text) -> ServiceToken:
        """Issues a service account's one live token (revoking the previous one)."""
        token = OWNED_STR()
        expires_at = ctypes.c_int64()
        with self._call() as (lib, iam):
            status = lib.iam_issue_service_token(
                iam, arg(actor_token), arg(service_account_id), ctypes.byref(token),
                ctypes.byref(expires_at),
            )
            check(lib, status)
            return ServiceToken(token=take_string(lib, token), expires_at=expires_at.value)

    def revoke_service_token(self, actor_token: Text, service_account_id: Text) -> None:
        """Revokes a service account's live token (admins only)."""
        with self._call() as (lib, iam):
            check(
                lib,
                lib.iam_revoke_service_token(iam, arg(actor_token), arg(service_account_id)),
            )

    def store_db_credentials(
        self,
        actor_token: Text,
        service_account_id: Text,
        host: Text,
        port: int,
        database: Text,
        user: Text,
        password: Text,
    ) -> None:
        """Stores a service account's database credentials, sealed at rest (admins only)."""
        with self._call() as (lib, iam):
            status = lib.iam_store_db_credentials(
                iam, arg(actor_token), arg(service_account_id), arg(host), port, arg(database),
                arg(user), arg(password),
            )
            check(lib, status)

    def fetch_db_credentials(self, actor_token: Text, service_account_id: Text) -> DbCredentials:
        """Fetches a service account's database credentials (audited)."""
        credentials = CREDENTIALS_P()
        with self._call() as (lib, iam):
            status = lib.iam_fetch_db_credentials(
                iam, arg(actor_token), arg(service_account_id), ctypes.byref(credentials)
            )
            check(lib, status)
            try:
                return DbCredentials(
                    host=text(lib.iam_db_credentials_host(credentials)),
                    port=int(lib.iam_db_credentials_port(credentials)),
                    database=text(lib.iam_db_credentials_database(credentials)),
                    user=text(lib.iam_db_credentials_user(credentials)),
                    password=text(lib.iam_db_credentials_password(credentials)),
                )
            finally:
                lib.iam_db_credentials_free(ctypes.byref(credentials))
