"""The values iam's calls return: frozen dataclasses, copied out of the C objects (which are
freed at once). Reprs leave secrets out (tokens, TOTP secrets, client secrets, passwords).
Times here are Unix seconds, as the C getters give them; the records iam describes as JSON
are in :mod:`iam_ffi.records`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Optional

from .records import AccountKind, OAuthClient

__all__ = [
    "AccountKind",
    "ApiToken",
    "ClientSecret",
    "CredentialKind",
    "DbCredentials",
    "Elevation",
    "OrgToken",
    "Principal",
    "RegisteredClient",
    "ServiceToken",
    "TokenPair",
    "TotpEnrolment",
]

class CredentialKind(IntEnum):
    """What presented a principal: the kind of credential its token is (``iam_credential_kind``;
    the numbers are stable)."""

    #: Not known (a number this version of the package does not know).
    UNKNOWN = 0
    #: A login session's access token (possibly carrying elevated roles).
    SESSION = 1
    #: A service account's token.
    SERVICE_TOKEN = 2
    #: A personal API token.
    API_TOKEN = 3
    #: An OAuth token a user delegated to a client (authorization code, device, refresh).
    OAUTH_USER = 4
    #: An OAuth client-credentials token (acting for the client's owner when ``actor`` is set).
    CLIENT_CREDENTIALS = 5
    #: A login session's token scoped to one organization.
    ORG_TOKEN = 6

    @classmethod
    def of(cls, number: int) -> CredentialKind:
        """The kind numbered ``number``, or UNKNOWN for a number this package does not know."""
        try:
            return cls(number)
        except ValueError:
            return cls.UNKNOWN

    @property
    def delegated(self) -> bool:
        """Whether the credential is delegated (API token, OAuth token): such credentials
        should not do what only a person's own session may."""
        return self in (
            CredentialKind.API_TOKEN,
            CredentialKind.OAUTH_USER,
            CredentialKind.CLIENT_CREDENTIALS,
        )


@dataclass(frozen=True)
class TokenPair:
    """An access token and a refresh token for one session."""

    access_token: str
    refresh_token: str
    session_id: str
    expires_in: int

    def __repr__(self) -> str:
        return f"TokenPair(session_id={self.session_id!r}, expires_in={self.expires_in})"


@dataclass(frozen=True)
class Principal:
    """Who a verified access token (or personal API token) speaks for, and everything iam
    decided about the token. Times are Unix seconds; ``token_id`` is the access token's id, or
    the API token's public id.

    ``credential`` says what kind of token it is. ``scopes`` is empty for a token that is not
    scope-limited (a session's); ``elevated_roles`` are roles open for a bounded time (each is
    among ``roles``), the first closing at ``elevated_until`` (None when there are none).
    ``client_id`` is the OAuth client of an OAuth token, ``actor`` the account a
    client-credentials token acts for, ``org_id`` and ``org_role`` the organization of an
    organization token and the holder's role there: each None when it does not apply.
    ``audience`` is the token's ``aud``: iam's audience, or the resources an OAuth token is
    bound to."""

    account_id: str
    session_id: str
    token_id: str
    kind: AccountKind
    roles: tuple[str, ...]
    amr: tuple[str, ...]
    issued_at: int
    expires_at: int
    auth_time: int
    credential: CredentialKind = CredentialKind.UNKNOWN
    scopes: tuple[str, ...] = ()
    elevated_roles: tuple[str, ...] = ()
    elevated_until: Optional[int] = None
    client_id: Optional[str] = None
    actor: Optional[str] = None
    org_id: Optional[str] = None
    org_role: Optional[str] = None
    audience: tuple[str, ...] = ()

    def has_role(self, role: str) -> bool:
        """Whether the token carries ``role``."""
        return role in self.roles

    def has_scope(self, scope: str) -> bool:
        """Whether the token grants ``scope``: one of its scopes, or, for a token that is not
        scope-limited, one of its roles (iam's own rule, as ``iam_principal_has_scope``)."""
        return scope in (self.scopes if self.scopes else self.roles)

    @property
    def delegated(self) -> bool:
        """Whether the token is a delegated credential (see :attr:`CredentialKind.delegated`)."""
        return self.credential.delegated


@dataclass(frozen=True)
class TotpEnrolment:
    """The TOTP secret (base32) and otpauth:// URI, shown once."""

    secret_base32: str
    uri: str

    def __repr__(self) -> str:
        return "TotpEnrolment([redacted])"


@dataclass(frozen=True)
class ServiceToken:
    """A service account's token and its expiry (Unix seconds)."""

    token: str
    expires_at: int

    def __repr__(self) -> str:
        return f"ServiceToken(expires_at={self.expires_at})"


@dataclass(frozen=True)
class DbCredentials:
    """Database credentials kept for a service account."""

    host: str
    port: int
    database: str
    user: str
    password: str

    def __repr__(self) -> str:
        return (
            f"DbCredentials(host={self.host!r}, port={self.port}, "
            f"database={self.database!r}, user={self.user!r})"
        )


@dataclass(frozen=True)
class Elevation:
    """What :meth:`Iam.elevate` achieved: the role is open now (``access_token`` carries it until
    ``until``), or it waits for approval (``pending``: ``request_id`` lapses at
    ``request_expires_at``). Times are Unix seconds; fields of the other state are None/0."""

    role: str
    pending: bool
    access_token: Optional[str]
    since: int
    until: int
    request_id: Optional[str]
    request_expires_at: int

    def __repr__(self) -> str:
        if self.pending:
            return f"Elevation(role={self.role!r}, pending, request_id={self.request_id!r})"
        return f"Elevation(role={self.role!r}, until={self.until})"


@dataclass(frozen=True)
class ApiToken:
    """A new personal API token: its secret (shown once) and its public id."""

    secret: str
    token_id: str

    def __repr__(self) -> str:
        return f"ApiToken(token_id={self.token_id!r})"


@dataclass(frozen=True)
class RegisteredClient:
    """A newly registered OAuth client and, for a confidential one, its secret (shown only
    this once; None for a public client)."""

    client: OAuthClient
    secret: Optional[str]

    @property
    def client_id(self) -> str:
        """The client's id (``cli_…``)."""
        return self.client.id

    def __repr__(self) -> str:
        secret = "[redacted]" if self.secret is not None else "None"
        return f"RegisteredClient(client_id={self.client.id!r}, secret={secret})"


@dataclass(frozen=True)
class ClientSecret:
    """A confidential client's new secret (shown only this once)."""

    client_id: str
    secret: str

    def __repr__(self) -> str:
        return f"ClientSecret(client_id={self.client_id!r}, secret=[redacted])"


@dataclass(frozen=True)
class OrgToken:
    """An access token scoped to one organization (verify it like any access token)."""

    org_id: str
    token: str

    def __repr__(self) -> str:
        return f"OrgToken(org_id={self.org_id!r})"
