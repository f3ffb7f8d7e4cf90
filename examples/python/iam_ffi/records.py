"""The records iam describes as JSON (accounts, sessions, passkeys and passkey ceremonies, API
tokens, elevation requests,
audit events, OAuth clients, signing keys, organizations and memberships, the sweep report,
introspection answers), read into frozen dataclasses.

Times: iam's JSON gives milliseconds since the Unix epoch; here they are timezone-aware
:class:`~datetime.datetime` values in UTC (None where iam says null), and durations are
:class:`~datetime.timedelta`. Introspection answers keep RFC 7662's seconds (ints), as the RFC
writes them. No record holds a secret: iam never puts one in its JSON.

Each record has ``from_json``, which reads the fields it knows and ignores others, so a newer
library that adds fields still reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Mapping, Optional, TypedDict

__all__ = [
    "Account",
    "AccountKind",
    "ApiTokenInfo",
    "AuditEvent",
    "ClientRegistration",
    "ElevationRequest",
    "Introspection",
    "Membership",
    "OAuthClient",
    "Organization",
    "PasskeyChallenge",
    "PasskeyInfo",
    "Profile",
    "PublicKey",
    "Session",
    "SessionElevation",
    "SweepReport",
]

#: The kind of account a token speaks for.
AccountKind = Literal["human", "system", "unknown"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _time(ms: Any) -> datetime:
    """Milliseconds since the Unix epoch as an aware UTC datetime (exact to the millisecond)."""
    return _EPOCH + timedelta(milliseconds=int(ms))


def _opt_time(ms: Any) -> Optional[datetime]:
    return None if ms is None else _time(ms)


def _opt_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _strs(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


@dataclass(frozen=True)
class Profile:
    """An account's profile (the OpenID Connect claims iam keeps)."""

    name: Optional[str]
    email: Optional[str]
    email_verified: bool
    updated_at: Optional[datetime]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Profile:
        """Reads a profile as iam writes it."""
        return cls(
            name=_opt_str(data.get("name")),
            email=_opt_str(data.get("email")),
            email_verified=bool(data.get("email_verified", False)),
            updated_at=_opt_time(data.get("updated_at")),
        )


@dataclass(frozen=True)
class Account:
    """An account (``iam_get_account``). ``deletion_due`` is when a scheduled deletion falls
    due (None when none is scheduled); ``totp`` whether TOTP is off, enrolled but not
    confirmed (``"pending"``), or on."""

    id: str
    username: str
    kind: AccountKind
    roles: tuple[str, ...]
    elevatable_roles: tuple[str, ...]
    disabled: bool
    has_password: bool
    totp: Literal["off", "pending", "on"]
    deletion_due: Optional[datetime]
    created_at: datetime
    profile: Profile

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Account:
        """Reads an account as iam writes it."""
        kind = data.get("kind")
        totp = data.get("totp")
        return cls(
            id=str(data["id"]),
            username=str(data["username"]),
            kind=kind if kind in ("human", "system") else "unknown",
            roles=_strs(data.get("roles")),
            elevatable_roles=_strs(data.get("elevatable_roles")),
            disabled=bool(data["disabled"]),
            has_password=bool(data.get("has_password", False)),
            totp=totp if totp in ("pending", "on") else "off",
            deletion_due=_opt_time(data.get("deletion_due")),
            created_at=_time(data["created_at"]),
            profile=Profile.from_json(data.get("profile") or {}),
        )


@dataclass(frozen=True)
class SessionElevation:
    """A role open for a session, from ``since`` until ``until``."""

    role: str
    since: datetime
    until: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionElevation:
        """Reads an open elevation as iam writes it."""
        return cls(role=str(data["role"]), since=_time(data["since"]), until=_time(data["until"]))


@dataclass(frozen=True)
class Session:
    """A login session (``iam_list_sessions``): revoked and expired ones are listed too, until
    the sweep prunes them."""

    id: str
    account_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: Optional[datetime]
    last_refreshed_at: Optional[datetime]
    auth_time: datetime
    amr: tuple[str, ...]
    elevations: tuple[SessionElevation, ...]

    @property
    def revoked(self) -> bool:
        """Whether the session was revoked."""
        return self.revoked_at is not None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Session:
        """Reads a session as iam writes it."""
        return cls(
            id=str(data["id"]),
            account_id=str(data["account_id"]),
            created_at=_time(data["created_at"]),
            expires_at=_time(data["expires_at"]),
            revoked_at=_opt_time(data.get("revoked_at")),
            last_refreshed_at=_opt_time(data.get("last_refreshed_at")),
            auth_time=_time(data["auth_time"]),
            amr=_strs(data.get("amr")),
            elevations=tuple(SessionElevation.from_json(e) for e in data.get("elevations") or ()),
        )


@dataclass(frozen=True)
class PasskeyChallenge:
    """A started passkey ceremony: ``options`` (``{"publicKey": {...}}``, binary values in
    base64url) go to the browser's ``navigator.credentials.create()`` (registration) or
    ``.get()`` (sign-in); ``ceremony`` finishes it, once, before ``expires_at``."""

    ceremony: str
    options: dict[str, Any]
    expires_at: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PasskeyChallenge:
        """Reads a started ceremony as iam writes it."""
        return cls(
            ceremony=str(data["ceremony"]),
            options=dict(data["options"]),
            expires_at=_time(data["expires_at"]),
        )


@dataclass(frozen=True)
class PasskeyInfo:
    """A registered passkey (no key material). ``aaguid`` is the authenticator model it claimed
    (None when it hides it); ``backup_eligible`` says whether the key may be synced."""

    id: str
    label: str
    credential_id: str
    aaguid: Optional[str]
    created_at: datetime
    last_used_at: Optional[datetime]
    backup_eligible: bool
    backup_state: bool
    counter: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PasskeyInfo:
        """Reads a passkey as iam writes it."""
        return cls(
            id=str(data["id"]),
            label=str(data["label"]),
            credential_id=str(data["credential_id"]),
            aaguid=_opt_str(data.get("aaguid")),
            created_at=_time(data["created_at"]),
            last_used_at=_opt_time(data.get("last_used_at")),
            backup_eligible=bool(data.get("backup_eligible")),
            backup_state=bool(data.get("backup_state")),
            counter=int(data.get("counter") or 0),
        )


@dataclass(frozen=True)
class ApiTokenInfo:
    """A personal API token as listed (``iam_list_api_tokens``): never its secret."""

    id: str
    account_id: str
    label: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked_at: Optional[datetime]

    @property
    def revoked(self) -> bool:
        """Whether the token was revoked."""
        return self.revoked_at is not None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiTokenInfo:
        """Reads an API token's description as iam writes it."""
        return cls(
            id=str(data["id"]),
            account_id=str(data["account_id"]),
            label=str(data["label"]),
            scopes=_strs(data.get("scopes")),
            created_at=_time(data["created_at"]),
            expires_at=_time(data["expires_at"]),
            revoked_at=_opt_time(data.get("revoked_at")),
        )


@dataclass(frozen=True)
class ElevationRequest:
    """A pending elevation request an approver may answer (``iam_list_elevation_requests``):
    ``account_id`` asks to open ``role`` for ``session_id`` for ``duration``; it lapses at
    ``expires_at``."""

    id: str
    account_id: str
    session_id: str
    role: str
    duration: timedelta
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ElevationRequest:
        """Reads an elevation request as iam writes it."""
        return cls(
            id=str(data["id"]),
            account_id=str(data["account_id"]),
            session_id=str(data["session_id"]),
            role=str(data["role"]),
            duration=timedelta(milliseconds=int(data["duration_ms"])),
            created_at=_time(data["created_at"]),
            expires_at=_time(data["expires_at"]),
        )


@dataclass(frozen=True)
class AuditEvent:
    """One event of the audit log (``iam_list_audit_events``), in chain order by ``seq``:
    ``hash`` covers the event and ``prev_hash`` (both lowercase hex). ``actor``, ``account``
    and ``session`` are None when not known; ``detail`` never holds a secret."""

    seq: int
    prev_hash: str
    hash: str
    at: datetime
    kind: str
    actor: Optional[str]
    account: Optional[str]
    session: Optional[str]
    detail: Mapping[str, str]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEvent:
        """Reads an audit event as iam writes it."""
        return cls(
            seq=int(data["seq"]),
            prev_hash=str(data["prev_hash"]),
            hash=str(data["hash"]),
            at=_time(data["at"]),
            kind=str(data["kind"]),
            actor=_opt_str(data.get("actor")),
            account=_opt_str(data.get("account")),
            session=_opt_str(data.get("session")),
            detail={str(k): str(v) for k, v in (data.get("detail") or {}).items()},
        )


class _ClientRegistrationRequired(TypedDict):
    name: str
    kind: Literal["confidential", "public"]


class ClientRegistration(_ClientRegistrationRequired, total=False):
    """What :meth:`Iam.register_client` reads (any mapping of this shape, or its JSON); only
    ``name`` and ``kind`` are required. Unknown fields are refused (InvalidArgumentError), so
    a typo never falls back to a default. iam.h (``iam_register_client``) documents each."""

    redirect_uris: list[str]
    grant_types: list[
        Literal[
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
        ]
    ]
    scopes: list[str]
    resources: list[str]
    require_pkce: bool
    acts_for_owner: bool
    first_party: bool
    id_token_signed_response_alg: Literal["RS256", "ES256", "EdDSA"]
    access_token_format: Literal["paseto", "jwt"]
    post_logout_redirect_uris: list[str]
    default_max_age: int
    backchannel_logout_uri: str
    backchannel_logout_session_required: bool
    token_endpoint_auth_method: str
    jwks: dict[str, Any]


@dataclass(frozen=True)
class OAuthClient:
    """A registered OAuth client (``iam_get_oauth_client``), never its secret. ``owner`` is
    the account that registered it; the last fields are its OpenID Connect settings."""

    id: str
    name: str
    kind: Literal["confidential", "public"]
    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    resources: tuple[str, ...]
    require_pkce: bool
    owner: Optional[str]
    acts_for_owner: bool
    first_party: bool
    owner_scoped: bool
    disabled: bool
    created_at: datetime
    secret_rotated_at: Optional[datetime]
    id_token_signed_response_alg: str
    access_token_format: str
    post_logout_redirect_uris: tuple[str, ...]
    default_max_age: Optional[int]
    backchannel_logout_uri: Optional[str]
    backchannel_logout_session_required: bool
    token_endpoint_auth_method: Optional[str]
    jwks: Optional[Mapping[str, Any]]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OAuthClient:
        """Reads a client as iam writes it (settings left at their default may be absent)."""
        max_age = data.get("default_max_age")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            kind="public" if data.get("kind") == "public" else "confidential",
            redirect_uris=_strs(data.get("redirect_uris")),
            grant_types=_strs(data.get("grant_types")),
            scopes=_strs(data.get("scopes")),
            resources=_strs(data.get("resources")),
            require_pkce=bool(data.get("require_pkce", True)),
            owner=_opt_str(data.get("owner")),
            acts_for_owner=bool(data.get("acts_for_owner", False)),
            first_party=bool(data.get("first_party", False)),
            owner_scoped=bool(data.get("owner_scoped", False)),
            disabled=bool(data["disabled"]),
            created_at=_time(data["created_at"]),
            secret_rotated_at=_opt_time(data.get("secret_rotated_at")),
            id_token_signed_response_alg=str(data.get("id_token_signed_response_alg", "RS256")),
            access_token_format=str(data.get("access_token_format", "paseto")),
            post_logout_redirect_uris=_strs(data.get("post_logout_redirect_uris")),
            default_max_age=None if max_age is None else int(max_age),
            backchannel_logout_uri=_opt_str(data.get("backchannel_logout_uri")),
            backchannel_logout_session_required=bool(
                data.get("backchannel_logout_session_required", True)
            ),
            token_endpoint_auth_method=_opt_str(data.get("token_endpoint_auth_method")),
            jwks=data.get("jwks"),
        )


@dataclass(frozen=True)
class Introspection:
    """An RFC 7662 introspection answer (``iam_introspect``). ``active`` False means the token
    is not valid now, or is none of the asking client's business; every other field is then
    empty. Times are seconds since the Unix epoch, as in the RFC; ``actor`` is the account a
    client-credentials token acts for (``act.sub``)."""

    active: bool
    scopes: tuple[str, ...] = ()
    client_id: Optional[str] = None
    token_type: Optional[str] = None
    exp: Optional[int] = None
    iat: Optional[int] = None
    nbf: Optional[int] = None
    auth_time: Optional[int] = None
    sub: Optional[str] = None
    aud: tuple[str, ...] = ()
    iss: Optional[str] = None
    jti: Optional[str] = None
    sid: Optional[str] = None
    actor: Optional[str] = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Introspection:
        """Reads an RFC 7662 answer (``scope`` space-delimited; ``aud`` a string or a list)."""

        def seconds(name: str) -> Optional[int]:
            value = data.get(name)
            return None if value is None else int(value)

        aud = data.get("aud")
        act = data.get("act")
        return cls(
            active=data.get("active") is True,
            scopes=tuple(str(data.get("scope") or "").split()),
            client_id=_opt_str(data.get("client_id")),
            token_type=_opt_str(data.get("token_type")),
            exp=seconds("exp"),
            iat=seconds("iat"),
            nbf=seconds("nbf"),
            auth_time=seconds("auth_time"),
            sub=_opt_str(data.get("sub")),
            aud=(str(aud),) if isinstance(aud, str) else _strs(aud),
            iss=_opt_str(data.get("iss")),
            jti=_opt_str(data.get("jti")),
            sid=_opt_str(data.get("sid")),
            actor=_opt_str(act.get("sub")) if isinstance(act, Mapping) else None,
        )


@dataclass(frozen=True)
class PublicKey:
    """A key that verifies iam's access tokens (``iam_public_keys``): its PASERK id, the key
    as PASERK (``k4.public.…``) and as an RFC 8037 OKP JWK, and whether it signs new tokens
    (the others verify older tokens until they expire)."""

    kid: str
    paserk: str
    jwk: Mapping[str, Any]
    active: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublicKey:
        """Reads a public key as iam writes it."""
        return cls(
            kid=str(data["kid"]),
            paserk=str(data["paserk"]),
            jwk=dict(data.get("jwk") or {}),
            active=bool(data["active"]),
        )


@dataclass(frozen=True)
class Organization:
    """An organization (``iam_get_organization``)."""

    id: str
    name: str
    created_at: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Organization:
        """Reads an organization as iam writes it."""
        return cls(id=str(data["id"]), name=str(data["name"]), created_at=_time(data["created_at"]))


@dataclass(frozen=True)
class Membership:
    """An account's membership of an organization, with its role there; ``pending`` while an
    owner's invitation waits for the account's answer."""

    org_id: str
    account_id: str
    role: str
    since: datetime
    pending: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Membership:
        """Reads a membership as iam writes it."""
        return cls(
            org_id=str(data["org_id"]),
            account_id=str(data["account_id"]),
            role=str(data["role"]),
            since=_time(data["since"]),
            pending=bool(data["pending"]),
        )


@dataclass(frozen=True)
class SweepReport:
    """What :meth:`Iam.sweep` did: the accounts whose deletion it carried out, how many
    expired records of each kind, idle throttle counters and old revocations it pruned, and the
    audit event a new signed checkpoint of the audit chain covers (``None`` when none was due)."""

    deleted_accounts: tuple[str, ...]
    pruned_records: Mapping[str, int]
    pruned_throttles: int
    pruned_revocations: int
    audit_checkpoint: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SweepReport:
        """Reads a sweep report as iam writes it (``pruned.records`` as ``[kind, count]``)."""
        pruned = data.get("pruned") or {}
        return cls(
            deleted_accounts=_strs(data.get("deleted_accounts")),
            pruned_records={str(kind): int(n) for kind, n in pruned.get("records") or ()},
            pruned_throttles=int(pruned.get("throttles", 0)),
            pruned_revocations=int(pruned.get("revocations", 0)),
            audit_checkpoint=(
                None if data.get("audit_checkpoint") is None else int(data["audit_checkpoint"])
            ),
        )
