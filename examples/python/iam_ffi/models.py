"""The values iam's calls return: frozen dataclasses, copied out of the C objects (which are
freed at once). Reprs leave secrets out (tokens, TOTP secrets, passwords)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

__all__ = [
    "AccountKind",
    "ApiToken",
    "DbCredentials",
    "Elevation",
    "Principal",
    "ServiceToken",
    "TokenPair",
    "TotpEnrolment",
]

#: The kind of account a token speaks for.
AccountKind = Literal["human", "system", "unknown"]


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
    """Who a verified access token (or personal API token) speaks for. Times are Unix seconds;
    ``token_id`` is the access token's id, or the API token's public id."""

    account_id: str
    session_id: str
    token_id: str
    kind: AccountKind
    roles: tuple[str, ...]
    amr: tuple[str, ...]
    issued_at: int
    expires_at: int
    auth_time: int

    def has_role(self, role: str) -> bool:
        """Whether the token carries ``role``."""
        return role in self.roles


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
