"""Python binding for iam's C ABI (iam-ffi), over ctypes, with the library bundled.

Open an :class:`Iam` over the in-memory store or a SQLite file, preferably as a context
manager so the handle is freed deterministically::

    from iam_ffi import Iam

    with Iam.sqlite("iam.db", {"master_key": key_b64}) as iam:
        alice = iam.create_account("alice", "correct horse battery", roles=["admin"])
        tokens = iam.login("alice", "correct horse battery")
        who = iam.verify(tokens.access_token)

Functions that act on someone's behalf take the access token of whoever asks (iam verifies it
and decides whether they may). Where iam.h makes it optional it is the keyword-only, required
``actor_token=``, and :data:`APPLICATION` (never None) says "the embedding application itself",
a caller iam trusts fully::

    iam.disable_account(account_id, actor_token=token_from_the_request)  # authorized by iam
    iam.disable_account(account_id, actor_token=APPLICATION)  # the application's own decision

Every failure raises a subclass of :class:`IamError`, one class per ``iam_status``; refusals
are also :class:`DeniedError`. :mod:`iam_ffi.fastapi` protects FastAPI routes with iam tokens.

The shared library is the one bundled in this package (``iam_ffi/libiam_ffi*``); the
``IAM_FFI_LIB`` environment variable (a path) overrides it, for development against a build
of your own. :func:`library_path` tells which one is in use.

Layout, for adding wrappers: ``_library`` finds and loads the library and holds the declared C
signatures; ``_c`` converts arguments and results and raises on a failed status; ``_handle``
makes a handle safe to share between threads and to close; each area of the C API (accounts,
roles, account lifecycle, sessions, TOTP, service accounts, elevation, API tokens,
organizations, OAuth clients, signing keys, audit) has a module of its own that declares its C
functions and a mixin of :class:`Iam` methods; ``models`` holds the values read from C objects
(the principal, tokens, secrets), ``records`` the records iam describes as JSON (accounts,
sessions, audit events, clients, ...).
"""

from __future__ import annotations

import re
from typing import TypeVar, cast

__all__ = [
    "Iam",
    "APPLICATION",
    "Application",
    "IamConfig",
    "TokenPair",
    "Principal",
    "CredentialKind",
    "TotpEnrolment",
    "ServiceToken",
    "DbCredentials",
    "Elevation",
    "ApiToken",
    "RegisteredClient",
    "ClientSecret",
    "OrgToken",
    "Account",
    "Profile",
    "Session",
    "SessionElevation",
    "ApiTokenInfo",
    "ElevationRequest",
    "AuditEvent",
    "ClientRegistration",
    "OAuthClient",
    "Introspection",
    "PublicKey",
    "Organization",
    "Membership",
    "PasskeyChallenge",
    "PasskeyInfo",
    "SweepReport",
    "IamError",
    "IamClosedError",
    "STATUS_ERRORS",
    "error_class",
    "generate_master_key",
    "library",
    "library_path",
    "version",
]


# ---- errors, one per status ------------------------------------------------------------


class IamError(Exception):
    """An iam call failed; ``status`` is the numeric iam_status, ``name`` its C name, and
    ``message`` the library's last error (never a secret)."""

    status: int = -1
    name: str = "IAM_STATUS_UNKNOWN"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class DeniedError(IamError):
    """iam refused (the base of every refusal)."""


_E = TypeVar("_E", bound=IamError)


def _c_name(class_name: str) -> str:
    """``BadCredentialsError`` -> ``IAM_STATUS_BAD_CREDENTIALS`` (``IamRuntimeError``: RUNTIME)."""
    stem = class_name.removesuffix("Error").removeprefix("Iam")
    return "IAM_STATUS_" + re.sub(r"(?<!^)(?=[A-Z])", "_", stem).upper()


# Each `_error(class name, status, base, doc)` call below makes the exception class of one
# iam_status. iam-ffi's test `python_exception_table_matches_the_statuses` reads these calls
# and STATUS_ERRORS, and fails until every status in iam-ffi/src/status.rs has its class here
# (tests/test_statuses.py checks the same against the loaded library).
def _error(class_name: str, status: int, base: type[_E], doc: str) -> type[_E]:
    namespace = {"status": status, "name": _c_name(class_name), "__doc__": doc}
    return cast("type[_E]", type(class_name, (base,), {**namespace, "__module__": __name__}))


NullParameterError = _error("NullParameterError", 1, IamError, "A required argument was None.")
InvalidUtf8Error = _error("InvalidUtf8Error", 2, IamError, "A string argument was not UTF-8.")
InvalidArgumentError = _error("InvalidArgumentError", 3, IamError, "An argument breaks a rule.")
InvalidConfigError = _error("InvalidConfigError", 4, IamError, "The configuration is unusable.")
DeniedError.status = 10
DeniedError.name = "IAM_STATUS_DENIED"
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
NotFoundError = _error("NotFoundError", 30, IamError, "The named object does not exist.")
UsernameTakenError = _error("UsernameTakenError", 31, IamError, "The username is in use.")
InvalidStateError = _error("InvalidStateError", 32, IamError, "The object's state forbids this.")
ContentionError = _error("ContentionError", 33, IamError, "Too much contention; try again.")
StoreError = _error("StoreError", 34, IamError, "The store failed.")
AuditChainBrokenError = _error("AuditChainBrokenError", 35, IamError, "The audit chain is broken.")
CryptoError = _error("CryptoError", 36, IamError, "A cryptographic step failed.")
IamRuntimeError = _error(
    "IamRuntimeError", 37, IamError,
    "Called from a thread running an async (tokio) runtime, or the runtime did not start.",
)
InternalError = _error("InternalError", 38, IamError, "An unexpected failure inside iam.")
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
PanicError = _error("PanicError", 99, IamError, "iam panicked (a bug); the call was stopped.")

# Status number -> exception class. (Written `dict` unparameterized: iam-ffi's test finds the
# table by this line; :func:`error_class` is the typed lookup.)
STATUS_ERRORS: dict = {  # type: ignore[type-arg]
    cls.status: cls
    for cls in cast("list[type[IamError]]", [
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
    ])
}
__all__ += [cls.__name__ for cls in STATUS_ERRORS.values()]


def error_class(status: int) -> type[IamError]:
    """The exception class of status number ``status`` (:class:`IamError` for an unknown one)."""
    cls: type[IamError] = STATUS_ERRORS.get(status, IamError)
    return cls


class IamClosedError(IamError, ValueError):
    """The :class:`Iam` was closed (or is closing): open a new one. Not an iam status, so
    ``status`` is -1; also a ValueError, like a call on a closed file."""

    name = "IAM_CLOSED"


# ---- the rest of the package (its modules raise the errors above) ----------------------

from ._c import APPLICATION, Application  # noqa: E402
from ._iam import Iam  # noqa: E402
from ._library import library, library_path  # noqa: E402
from .config import IamConfig, generate_master_key  # noqa: E402
from .models import (  # noqa: E402
    ApiToken,
    ClientSecret,
    CredentialKind,
    DbCredentials,
    Elevation,
    OrgToken,
    Principal,
    RegisteredClient,
    ServiceToken,
    TokenPair,
    TotpEnrolment,
)
from .records import (  # noqa: E402
    Account,
    ApiTokenInfo,
    AuditEvent,
    ClientRegistration,
    ElevationRequest,
    Introspection,
    Membership,
    OAuthClient,
    Organization,
    PasskeyChallenge,
    PasskeyInfo,
    Profile,
    PublicKey,
    Session,
    SessionElevation,
    SweepReport,
)


def version() -> str:
    """The version of the loaded library, e.g. ``"0.1.0"``."""
    return (library().iam_version() or b"").decode("utf-8")


__version__ = "0.1.0"
