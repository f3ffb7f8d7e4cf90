"""Python binding for iam's C ABI (iam-ffi), over ctypes.

Open an :class:`Iam` over the in-memory store or a SQLite file, preferably as a context
manager so the handle is freed deterministically::

    from iam_ffi import Iam, BadCredentialsError

    with Iam.memory({"master_key": key_b64}) as iam:
        alice = iam.create_account("alice", "correct horse battery", roles=["admin"])
        tokens = iam.login("alice", "correct horse battery")
        who = iam.verify(tokens.access_token)

Functions that act on someone's behalf take ``actor_token``: the access token of whoever asks
(iam verifies it and decides whether they may), or None for the embedding application itself.

Every failure raises a subclass of :class:`IamError` named after its status code. The shared
library is found through the ``IAM_FFI_LIB`` environment variable (the path of
``libiam_ffi.so``), else in ``target/debug`` of the workspace this package sits in, else on the
system library path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

__all__ = [
    "Iam",
    "TokenPair",
    "Principal",
    "TotpEnrolment",
    "ServiceToken",
    "DbCredentials",
    "Elevation",
    "ApiToken",
    "IamError",
    "IamClosedError",
    "STATUS_ERRORS",
    "library",
]

Text = Union[str, bytes]


# ---- errors, one per status ------------------------------------------------------------


class IamError(Exception):
    """An iam call failed; ``status`` is the numeric iam_status, ``message`` the last error."""

    status: int = -1
    name: str = "IAM_STATUS_UNKNOWN"

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class DeniedError(IamError):
    """iam refused (the base of every refusal)."""


def _error(name: str, status: int, base: type = IamError, doc: str = "") -> type:
    cls = type(name, (base,), {"status": status, "__doc__": doc})
    return cls


NullParameterError = _error("NullParameterError", 1, doc="A required argument was None/NULL.")
InvalidUtf8Error = _error("InvalidUtf8Error", 2, doc="A string argument was not UTF-8.")
InvalidArgumentError = _error("InvalidArgumentError", 3, doc="An argument breaks a rule.")
InvalidConfigError = _error("InvalidConfigError", 4, doc="The configuration is unusable.")
DeniedError.status = 10
BadCredentialsError = _error("BadCredentialsError", 11, DeniedError, "Wrong credentials.")
TotpRequiredError = _error("TotpRequiredError", 12, DeniedError, "A TOTP code is required.")
ThrottledError = _error("ThrottledError", 13, DeniedError, "Too many attempts; retry later.")
AccountDisabledError = _error("AccountDisabledError", 14, DeniedError, "Account disabled.")
TokenInvalidError = _error("TokenInvalidError", 15, DeniedError, "The token is not valid.")
TokenExpiredError = _error("TokenExpiredError", 16, DeniedError, "The token has expired.")
RevokedError = _error("RevokedError", 17, DeniedError, "The token or session was revoked.")
SessionExpiredError = _error("SessionExpiredError", 18, DeniedError, "The session expired.")
RefreshTokenInvalidError = _error(
    "RefreshTokenInvalidError", 19, DeniedError, "Unknown or malformed refresh token."
)
RefreshTokenReusedError = _error(
    "RefreshTokenReusedError", 20, DeniedError, "A used refresh token came back; session revoked."
)
NotPermittedError = _error("NotPermittedError", 21, DeniedError, "Not permitted.")
StepUpRequiredError = _error("StepUpRequiredError", 22, DeniedError, "Fresh proof needed.")
PasswordLoginNotAllowedError = _error(
    "PasswordLoginNotAllowedError", 23, DeniedError,
    "The account cannot log in with a password (a system account).",
)
RevocationUnavailableError = _error(
    "RevocationUnavailableError", 24, DeniedError,
    "Revocation status cannot be told right now; verification fails closed. Retry shortly.",
)
RecentAuthenticationRequiredError = _error(
    "RecentAuthenticationRequiredError", 25, DeniedError,
    "The action needs a recent sign-in (see the message for how recent): log in again.",
)
NotFoundError = _error("NotFoundError", 30, doc="The named object does not exist.")
UsernameTakenError = _error("UsernameTakenError", 31, doc="The username is in use.")
InvalidStateError = _error("InvalidStateError", 32, doc="The object's state forbids this.")
ContentionError = _error("ContentionError", 33, doc="Too much contention; try again.")
StoreError = _error("StoreError", 34, doc="The store failed.")
AuditChainBrokenError = _error("AuditChainBrokenError", 35, doc="The audit chain is broken.")
CryptoError = _error("CryptoError", 36, doc="A cryptographic step failed.")
IamRuntimeError = _error("IamRuntimeError", 37, doc="Called from an async runtime thread.")
InternalError = _error("InternalError", 38, doc="An unexpected failure inside iam.")
ElevationNotAllowedError = _error(
    "ElevationNotAllowedError", 39, DeniedError, "The role is not elevatable for this account."
)
SelfApprovalError = _error(
    "SelfApprovalError", 40, DeniedError, "An elevation must be approved by another account."
)
ElevationRequestClosedError = _error(
    "ElevationRequestClosedError", 41, DeniedError, "The elevation request is no longer pending."
)
WrongTokenKindError = _error(
    "WrongTokenKindError", 42, DeniedError, "This kind of token cannot be used here."
)
PanicError = _error("PanicError", 99, doc="iam panicked (a bug); the call was stopped.")

STATUS_ERRORS: dict = {
    cls.status: cls
    for cls in [
        NullParameterError,
        InvalidUtf8Error,
        InvalidArgumentError,
        InvalidConfigError,
        DeniedError,
        BadCredentialsError,
        TotpRequiredError,
        ThrottledError,
        AccountDisabledError,
        TokenInvalidError,
        TokenExpiredError,
        RevokedError,
        SessionExpiredError,
        RefreshTokenInvalidError,
        RefreshTokenReusedError,
        NotPermittedError,
        StepUpRequiredError,
        PasswordLoginNotAllowedError,
        RevocationUnavailableError,
        RecentAuthenticationRequiredError,
        NotFoundError,
        UsernameTakenError,
        InvalidStateError,
        ContentionError,
        StoreError,
        AuditChainBrokenError,
        CryptoError,
        IamRuntimeError,
        InternalError,
        ElevationNotAllowedError,
        SelfApprovalError,
        ElevationRequestClosedError,
        WrongTokenKindError,
        PanicError,
    ]
}
__all__ += [cls.__name__ for cls in STATUS_ERRORS.values()]


class IamClosedError(IamError, ValueError):
    """The :class:`Iam` was closed (or is closing): open a new one. Not an iam status, so
    ``status`` is -1; also a ValueError, like a call on a closed file."""

    name = "IAM_CLOSED"


# ---- the library -----------------------------------------------------------------------


class _Iam(ctypes.Structure):
    """The opaque iam_t."""


class _Tokens(ctypes.Structure):
    """The opaque iam_tokens_t."""


class _Principal(ctypes.Structure):
    """The opaque iam_principal_t."""


class _DbCredentials(ctypes.Structure):
    """The opaque iam_db_credentials_t."""


class _Elevation(ctypes.Structure):
    """The opaque iam_elevation_t."""


_c = ctypes.c_char_p
_cp = ctypes.c_void_p  # owned char* handed out by iam: kept as an address, freed by iam


def _find_library() -> str:
    env = os.environ.get("IAM_FFI_LIB")
    if env:
        return env
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "target" / "debug" / "libiam_ffi.so"
        if candidate.is_file():
            return str(candidate)
    found = ctypes.util.find_library("iam_ffi")
    if found:
        return found
    raise OSError("libiam_ffi.so not found: set IAM_FFI_LIB to its path")


def _load(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    status = ctypes.c_int32
    iam_p = ctypes.POINTER(_Iam)
    tok_p = ctypes.POINTER(_Tokens)
    pri_p = ctypes.POINTER(_Principal)
    cred_p = ctypes.POINTER(_DbCredentials)
    elev_p = ctypes.POINTER(_Elevation)
    sigs = {
        "iam_last_error": (_c, []),
        "iam_status_name": (_c, [ctypes.c_int32]),
        "iam_version": (_c, []),
        "iam_string_free": (None, [ctypes.POINTER(_cp)]),
        "iam_open_memory": (status, [_c, ctypes.POINTER(iam_p)]),
        "iam_open_sqlite": (status, [_c, _c, ctypes.POINTER(iam_p)]),
        "iam_free": (None, [ctypes.POINTER(iam_p)]),
        "iam_create_account": (
            status,
            [iam_p, _c, _c, ctypes.POINTER(_c), ctypes.c_size_t, _c, ctypes.POINTER(_cp)],
        ),
        "iam_find_account": (status, [iam_p, _c, ctypes.POINTER(_cp)]),
        "iam_set_password": (status, [iam_p, _c, _c, _c]),
        "iam_login": (status, [iam_p, _c, _c, _c, ctypes.POINTER(tok_p)]),
        "iam_refresh": (status, [iam_p, _c, ctypes.POINTER(tok_p)]),
        "iam_verify": (status, [iam_p, _c, ctypes.POINTER(pri_p)]),
        "iam_verify_id_token": (status, [iam_p, _c, _c, ctypes.POINTER(_cp)]),
        "iam_revoke_session": (status, [iam_p, _c, _c]),
        "iam_enrol_totp": (status, [iam_p, _c, _c, ctypes.POINTER(_cp), ctypes.POINTER(_cp)]),
        "iam_confirm_totp": (status, [iam_p, _c, _c, _c]),
        "iam_issue_service_token": (
            status,
            [iam_p, _c, _c, ctypes.POINTER(_cp), ctypes.POINTER(ctypes.c_int64)],
        ),
        "iam_revoke_service_token": (status, [iam_p, _c, _c]),
        "iam_store_db_credentials": (
            status,
            [iam_p, _c, _c, _c, ctypes.c_uint16, _c, _c, _c],
        ),
        "iam_fetch_db_credentials": (status, [iam_p, _c, _c, ctypes.POINTER(cred_p)]),
        "iam_verify_audit_chain": (status, [iam_p, ctypes.POINTER(ctypes.c_uint64)]),
        "iam_grant_elevatable_role": (status, [iam_p, _c, _c, _c]),
        "iam_revoke_elevatable_role": (status, [iam_p, _c, _c, _c]),
        "iam_elevate": (
            status,
            [iam_p, _c, _c, ctypes.c_uint64, _c, _c, ctypes.POINTER(elev_p)],
        ),
        "iam_end_elevation": (status, [iam_p, _c, _c]),
        "iam_approve_elevation": (status, [iam_p, _c, _c, ctypes.POINTER(ctypes.c_int64)]),
        "iam_deny_elevation": (status, [iam_p, _c, _c]),
        "iam_elevation_is_pending": (ctypes.c_bool, [elev_p]),
        "iam_elevation_role": (_c, [elev_p]),
        "iam_elevation_access_token": (_c, [elev_p]),
        "iam_elevation_since": (ctypes.c_int64, [elev_p]),
        "iam_elevation_until": (ctypes.c_int64, [elev_p]),
        "iam_elevation_request_id": (_c, [elev_p]),
        "iam_elevation_request_expires_at": (ctypes.c_int64, [elev_p]),
        "iam_elevation_free": (None, [ctypes.POINTER(elev_p)]),
        "iam_create_api_token": (
            status,
            [
                iam_p, _c, _c, ctypes.POINTER(_c), ctypes.c_size_t, ctypes.c_int64,
                ctypes.POINTER(_cp), ctypes.POINTER(_cp),
            ],
        ),
        "iam_revoke_api_token": (status, [iam_p, _c, _c]),
        "iam_verify_api_token": (status, [iam_p, _c, ctypes.POINTER(pri_p)]),
        "iam_tokens_access_token": (_c, [tok_p]),
        "iam_tokens_refresh_token": (_c, [tok_p]),
        "iam_tokens_session_id": (_c, [tok_p]),
        "iam_tokens_expires_in": (ctypes.c_uint64, [tok_p]),
        "iam_tokens_free": (None, [ctypes.POINTER(tok_p)]),
        "iam_principal_account_id": (_c, [pri_p]),
        "iam_principal_session_id": (_c, [pri_p]),
        "iam_principal_token_id": (_c, [pri_p]),
        "iam_principal_kind": (ctypes.c_int32, [pri_p]),
        "iam_principal_roles_len": (ctypes.c_size_t, [pri_p]),
        "iam_principal_role": (_c, [pri_p, ctypes.c_size_t]),
        "iam_principal_amr_len": (ctypes.c_size_t, [pri_p]),
        "iam_principal_amr": (_c, [pri_p, ctypes.c_size_t]),
        "iam_principal_issued_at": (ctypes.c_int64, [pri_p]),
        "iam_principal_expires_at": (ctypes.c_int64, [pri_p]),
        "iam_principal_auth_time": (ctypes.c_int64, [pri_p]),
        "iam_principal_free": (None, [ctypes.POINTER(pri_p)]),
        "iam_db_credentials_host": (_c, [cred_p]),
        "iam_db_credentials_port": (ctypes.c_uint16, [cred_p]),
        "iam_db_credentials_database": (_c, [cred_p]),
        "iam_db_credentials_user": (_c, [cred_p]),
        "iam_db_credentials_password": (_c, [cred_p]),
        "iam_db_credentials_free": (None, [ctypes.POINTER(cred_p)]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()


def library() -> ctypes.CDLL:
    """The loaded libiam_ffi (loaded on first use)."""
    global _lib
    with _lib_lock:
        if _lib is None:
            _lib = _load(_find_library())
        return _lib


def _check(status: int) -> None:
    if status == 0:
        return
    lib = library()
    message = (lib.iam_last_error() or b"").decode("utf-8", "replace")
    cls = STATUS_ERRORS.get(status, IamError)
    raise cls(message or lib.iam_status_name(status).decode(), status)


def _arg(value: Optional[Text]) -> Optional[bytes]:
    """A str as UTF-8; bytes pass through unchanged (so callers can pass raw bytes)."""
    if value is None or isinstance(value, bytes):
        return value
    return value.encode("utf-8")


def _text(value: Optional[bytes]) -> str:
    return (value or b"").decode("utf-8")


def _take_string(ptr: ctypes.c_void_p) -> str:
    """Copies an owned string handed out by iam, then frees (and wipes) iam's copy."""
    try:
        return _text(ctypes.string_at(ptr.value)) if ptr.value else ""
    finally:
        library().iam_string_free(ctypes.byref(ptr))


# ---- values ----------------------------------------------------------------------------


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
    """Who a verified access token speaks for."""

    account_id: str
    session_id: str
    token_id: str
    kind: str  # "human" or "system"
    roles: tuple
    amr: tuple
    issued_at: int
    expires_at: int
    auth_time: int

    def has_role(self, role: str) -> bool:
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


_KINDS = {1: "human", 2: "system"}


def _optional_text(value: Optional[bytes]) -> Optional[str]:
    return None if value is None else value.decode("utf-8")


# ---- the handle ------------------------------------------------------------------------


def _in_flight(method):
    """Counts a call of ``method`` as in flight on its :class:`Iam` for as long as it runs, so
    that :meth:`Iam.close` waits for it; refuses it once the handle is closing."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        self._enter()
        try:
            return method(self, *args, **kwargs)
        finally:
            self._leave()

    return call


def _actor(actor_token: Optional[Text], actor: Optional[Text]) -> Optional[bytes]:
    """``actor_token``, or the deprecated keyword ``actor`` that named it before."""
    if actor is not None:
        if actor_token is not None:
            raise TypeError("give actor_token, or its deprecated alias actor, not both")
        warnings.warn(
            "the keyword `actor` is deprecated: pass `actor_token`, the access token of whoever "
            "asks (an account id is no longer accepted there)",
            DeprecationWarning,
            stacklevel=4,  # the caller of the public method (past `_in_flight`)
        )
        actor_token = actor
    return _arg(actor_token)


class Iam:
    """An open iam instance (an ``iam_t``). Safe to share between threads. Close it once with
    :meth:`close` or by leaving a ``with`` block: closing waits for calls still running on other
    threads, and calls made after closing has begun raise :class:`IamClosedError`.

    Methods that act on someone's behalf take ``actor_token``: the access token of whoever asks
    (iam verifies it and decides whether they may), or None for the embedding application."""

    def __init__(self, config: Mapping[str, Any], sqlite_path: Optional[Union[str, os.PathLike]] = None):
        # The handle's state: calls in flight, and whether closing has begun.
        self._state = threading.Condition()
        self._active = 0
        self._closing = False
        self._lib = library()
        self._handle = ctypes.POINTER(_Iam)()
        config_json = json.dumps(dict(config)).encode("utf-8")
        if sqlite_path is None:
            _check(self._lib.iam_open_memory(config_json, ctypes.byref(self._handle)))
        else:
            path = _arg(os.fspath(sqlite_path))
            _check(self._lib.iam_open_sqlite(path, config_json, ctypes.byref(self._handle)))

    @classmethod
    def memory(cls, config: Mapping[str, Any]) -> "Iam":
        """An instance over the in-memory store (lost at close)."""
        return cls(config)

    @classmethod
    def sqlite(cls, path: Union[str, os.PathLike], config: Mapping[str, Any]) -> "Iam":
        """An instance over the SQLite database at ``path`` (created if missing)."""
        return cls(config, sqlite_path=path)

    # lifecycle

    def close(self) -> None:
        """Frees the handle once every call in flight on other threads has returned; calls made
        from the moment closing begins raise :class:`IamClosedError`. Closing twice (or from two
        threads at once) is harmless. Must not be called while this thread is inside a call."""
        state = getattr(self, "_state", None)
        if state is None:  # __init__ failed before the handle existed
            return
        with state:
            self._closing = True
            while self._active:
                state.wait()
            # Holding the lock: a call starting now waits for the handle to be gone, then is
            # refused; a second close finds nothing to free.
            if self._handle:
                self._lib.iam_free(ctypes.byref(self._handle))

    @property
    def closed(self) -> bool:
        """Whether the handle has been freed."""
        return not getattr(self, "_handle", None)

    def _enter(self) -> None:
        with self._state:
            if self._closing or not self._handle:
                raise IamClosedError("this Iam is closed; open a new one")
            self._active += 1

    def _leave(self) -> None:
        with self._state:
            self._active -= 1
            if not self._active:
                self._state.notify_all()

    def __enter__(self) -> "Iam":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass

    def _h(self):
        """The live handle: only valid inside a method counted by :func:`_in_flight`."""
        if not self._handle:
            raise IamClosedError("this Iam is closed; open a new one")
        return self._handle

    # accounts

    @_in_flight
    def create_account(
        self,
        username: Text,
        password: Optional[Text] = None,
        roles: Iterable[Text] = (),
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> str:
        """Creates an account (human with a password, system without) and returns its id.
        ``actor_token`` is the access token of whoever asks (None: the embedding application)."""
        role_list = [_arg(r) for r in roles]
        array = (ctypes.c_char_p * len(role_list))(*role_list) if role_list else None
        out = ctypes.c_void_p()
        _check(
            self._lib.iam_create_account(
                self._h(), _arg(username), _arg(password), array, len(role_list),
                _actor(actor_token, actor),
                ctypes.byref(out),
            )
        )
        return _take_string(out)

    @_in_flight
    def find_account(self, username: Text) -> str:
        """The id of the account named ``username`` (NotFoundError if none)."""
        out = ctypes.c_void_p()
        _check(self._lib.iam_find_account(self._h(), _arg(username), ctypes.byref(out)))
        return _take_string(out)

    @_in_flight
    def set_password(
        self,
        account_id: Text,
        password: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> None:
        """Sets a human account's password. ``actor_token`` is the access token of whoever asks (None: the embedding application)."""
        _check(
            self._lib.iam_set_password(
                self._h(), _arg(account_id), _arg(password), _actor(actor_token, actor)
            )
        )

    # sessions

    def _take_tokens(self, ptr) -> TokenPair:
        try:
            return TokenPair(
                access_token=_text(self._lib.iam_tokens_access_token(ptr)),
                refresh_token=_text(self._lib.iam_tokens_refresh_token(ptr)),
                session_id=_text(self._lib.iam_tokens_session_id(ptr)),
                expires_in=int(self._lib.iam_tokens_expires_in(ptr)),
            )
        finally:
            self._lib.iam_tokens_free(ctypes.byref(ptr))

    @_in_flight
    def login(self, username: Text, password: Text, totp_code: Optional[Text] = None) -> TokenPair:
        """Logs in; returns the new session's token pair."""
        out = ctypes.POINTER(_Tokens)()
        _check(
            self._lib.iam_login(
                self._h(), _arg(username), _arg(password), _arg(totp_code), ctypes.byref(out)
            )
        )
        return self._take_tokens(out)

    @_in_flight
    def refresh(self, refresh_token: Text) -> TokenPair:
        """Rotates a refresh token into a new pair."""
        out = ctypes.POINTER(_Tokens)()
        _check(self._lib.iam_refresh(self._h(), _arg(refresh_token), ctypes.byref(out)))
        return self._take_tokens(out)

    def _take_principal(self, out) -> Principal:
        lib = self._lib
        try:
            return Principal(
                account_id=_text(lib.iam_principal_account_id(out)),
                session_id=_text(lib.iam_principal_session_id(out)),
                token_id=_text(lib.iam_principal_token_id(out)),
                kind=_KINDS.get(lib.iam_principal_kind(out), "unknown"),
                roles=tuple(
                    _text(lib.iam_principal_role(out, i))
                    for i in range(lib.iam_principal_roles_len(out))
                ),
                amr=tuple(
                    _text(lib.iam_principal_amr(out, i))
                    for i in range(lib.iam_principal_amr_len(out))
                ),
                issued_at=int(lib.iam_principal_issued_at(out)),
                expires_at=int(lib.iam_principal_expires_at(out)),
                auth_time=int(lib.iam_principal_auth_time(out)),
            )
        finally:
            lib.iam_principal_free(ctypes.byref(out))

    @_in_flight
    def verify(self, access_token: Text) -> Principal:
        """Verifies an access token; returns whom it speaks for."""
        out = ctypes.POINTER(_Principal)()
        _check(self._lib.iam_verify(self._h(), _arg(access_token), ctypes.byref(out)))
        return self._take_principal(out)

    @_in_flight
    def verify_id_token(self, id_token: Text, client_id: Text) -> dict:
        """Verifies an OpenID Connect ID token this iam issued to ``client_id`` (signature,
        ``typ``, issuer, audience, expiry); returns its claims."""
        out = _cp()
        _check(
            self._lib.iam_verify_id_token(
                self._h(), _arg(id_token), _arg(client_id), ctypes.byref(out)
            )
        )
        return json.loads(_take_string(out))

    @_in_flight
    def revoke_session(
        self,
        session_id: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> None:
        """Revokes a session; its tokens stop working at once. ``actor_token`` is the access token of whoever asks (None: the embedding application)."""
        _check(
            self._lib.iam_revoke_session(
                self._h(), _arg(session_id), _actor(actor_token, actor)
            )
        )

    # TOTP

    @_in_flight
    def enrol_totp(
        self,
        account_id: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> TotpEnrolment:
        """Starts TOTP enrolment; returns the secret and URI once. ``actor_token`` is the access token of whoever asks (None: the embedding application)."""
        secret = ctypes.c_void_p()
        uri = ctypes.c_void_p()
        _check(
            self._lib.iam_enrol_totp(
                self._h(), _arg(account_id), _actor(actor_token, actor), ctypes.byref(secret),
                ctypes.byref(uri),
            )
        )
        return TotpEnrolment(secret_base32=_take_string(secret), uri=_take_string(uri))

    @_in_flight
    def confirm_totp(
        self,
        account_id: Text,
        code: Text,
        actor_token: Optional[Text] = None,
        *,
        actor: Optional[Text] = None,
    ) -> None:
        """Confirms TOTP with a current code; from then on login needs one. ``actor_token`` is the access token of whoever asks (None: the embedding application)."""
        _check(
            self._lib.iam_confirm_totp(
                self._h(), _arg(account_id), _arg(code), _actor(actor_token, actor)
            )
        )

    # service accounts

    @_in_flight
    def issue_service_token(self, actor_token: Text, service_account_id: Text) -> ServiceToken:
        """Issues a service account's one live token (revoking the previous one)."""
        out = ctypes.c_void_p()
        expires = ctypes.c_int64()
        _check(
            self._lib.iam_issue_service_token(
                self._h(), _arg(actor_token), _arg(service_account_id), ctypes.byref(out),
                ctypes.byref(expires),
            )
        )
        return ServiceToken(token=_take_string(out), expires_at=expires.value)

    @_in_flight
    def revoke_service_token(self, actor_token: Text, service_account_id: Text) -> None:
        """Revokes a service account's live token (admins only)."""
        _check(
            self._lib.iam_revoke_service_token(self._h(), _arg(actor_token), _arg(service_account_id))
        )

    @_in_flight
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
        """Stores a service account's database credentials (admins only)."""
        _check(
            self._lib.iam_store_db_credentials(
                self._h(), _arg(actor_token), _arg(service_account_id), _arg(host), port,
                _arg(database), _arg(user), _arg(password),
            )
        )

    @_in_flight
    def fetch_db_credentials(self, actor_token: Text, service_account_id: Text) -> DbCredentials:
        """Fetches a service account's database credentials (audited)."""
        out = ctypes.POINTER(_DbCredentials)()
        _check(
            self._lib.iam_fetch_db_credentials(
                self._h(), _arg(actor_token), _arg(service_account_id), ctypes.byref(out)
            )
        )
        lib = self._lib
        try:
            return DbCredentials(
                host=_text(lib.iam_db_credentials_host(out)),
                port=int(lib.iam_db_credentials_port(out)),
                database=_text(lib.iam_db_credentials_database(out)),
                user=_text(lib.iam_db_credentials_user(out)),
                password=_text(lib.iam_db_credentials_password(out)),
            )
        finally:
            lib.iam_db_credentials_free(ctypes.byref(out))

    # elevation

    @_in_flight
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
        _check(
            self._lib.iam_grant_elevatable_role(
                self._h(), _arg(account_id), _arg(role), _actor(actor_token, actor)
            )
        )

    @_in_flight
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
        _check(
            self._lib.iam_revoke_elevatable_role(
                self._h(), _arg(account_id), _arg(role), _actor(actor_token, actor)
            )
        )

    @_in_flight
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
        out = ctypes.POINTER(_Elevation)()
        _check(
            self._lib.iam_elevate(
                self._h(), _arg(access_token), _arg(role), duration_secs, _arg(password),
                _arg(totp_code), ctypes.byref(out),
            )
        )
        lib = self._lib
        try:
            return Elevation(
                role=_text(lib.iam_elevation_role(out)),
                pending=bool(lib.iam_elevation_is_pending(out)),
                access_token=_optional_text(lib.iam_elevation_access_token(out)),
                since=int(lib.iam_elevation_since(out)),
                until=int(lib.iam_elevation_until(out)),
                request_id=_optional_text(lib.iam_elevation_request_id(out)),
                request_expires_at=int(lib.iam_elevation_request_expires_at(out)),
            )
        finally:
            lib.iam_elevation_free(ctypes.byref(out))

    @_in_flight
    def end_elevation(self, access_token: Text, role: Text) -> None:
        """Ends an open elevation early; the session's access tokens stop verifying at once."""
        _check(self._lib.iam_end_elevation(self._h(), _arg(access_token), _arg(role)))

    @_in_flight
    def approve_elevation(self, approver_token: Text, request_id: Text) -> int:
        """Approves a pending request; returns when the elevation closes (Unix seconds). The
        requester's next refresh yields a token carrying the role."""
        until = ctypes.c_int64()
        _check(
            self._lib.iam_approve_elevation(
                self._h(), _arg(approver_token), _arg(request_id), ctypes.byref(until)
            )
        )
        return until.value

    @_in_flight
    def deny_elevation(self, approver_token: Text, request_id: Text) -> None:
        """Denies a pending request."""
        _check(self._lib.iam_deny_elevation(self._h(), _arg(approver_token), _arg(request_id)))

    # personal API tokens

    @_in_flight
    def create_api_token(
        self,
        access_token: Text,
        label: Text,
        scopes: Iterable[Text] = (),
        expires_at: int = 0,
    ) -> ApiToken:
        """Creates a personal API token for the token's holder, limited to ``scopes`` (roles they
        hold) and expiring at ``expires_at`` (Unix seconds)."""
        scope_list = [_arg(s) for s in scopes]
        array = (ctypes.c_char_p * len(scope_list))(*scope_list) if scope_list else None
        secret = ctypes.c_void_p()
        token_id = ctypes.c_void_p()
        _check(
            self._lib.iam_create_api_token(
                self._h(), _arg(access_token), _arg(label), array, len(scope_list),
                int(expires_at), ctypes.byref(secret), ctypes.byref(token_id),
            )
        )
        return ApiToken(secret=_take_string(secret), token_id=_take_string(token_id))

    @_in_flight
    def revoke_api_token(self, access_token: Text, token_id: Text) -> None:
        """Revokes a personal API token (its owner or an admin); it stops verifying at once."""
        _check(self._lib.iam_revoke_api_token(self._h(), _arg(access_token), _arg(token_id)))

    @_in_flight
    def verify_api_token(self, secret: Text) -> Principal:
        """Verifies a personal API token; its roles are the scopes the owner still holds."""
        out = ctypes.POINTER(_Principal)()
        _check(self._lib.iam_verify_api_token(self._h(), _arg(secret), ctypes.byref(out)))
        return self._take_principal(out)

    # audit

    @_in_flight
    def verify_audit_chain(self) -> int:
        """Verifies the whole audit chain; returns the number of events."""
        out = ctypes.c_uint64()
        _check(self._lib.iam_verify_audit_chain(self._h(), ctypes.byref(out)))
        return out.value


def version() -> str:
    """The library version."""
    return _text(library().iam_version())


__all__.append("version")
