"""FastAPI dependencies that protect routes with iam tokens (``pip install iam-ffi[fastapi]``).

::

    from fastapi import Depends, FastAPI
    from iam_ffi import Iam, Principal
    from iam_ffi.fastapi import IamBearer

    iam = Iam.sqlite("iam.db", {"master_key": master_key})
    app = FastAPI()

    @app.get("/reports")
    def reports(who: Principal = Depends(IamBearer(iam, role="reporting"))) -> dict[str, str]:
        return {"account": who.account_id}

The dependency reads ``Authorization: Bearer <token>``: an access token, or a personal API
token (``iam_pat_...``) unless ``api_tokens=False``. It answers as RFC 6750 says: 401 with
``WWW-Authenticate: Bearer`` when the token is missing, ``error="invalid_token"`` when iam
refuses it (bad, expired, revoked, ...), 403 ``error="insufficient_scope"`` when it lacks the
role, and 503 with ``Retry-After`` while revocation cannot be checked or the Iam is closed (iam
fails closed). Other failures (the store, a bug) propagate as errors. Verification blocks, so
the dependency is a plain function: FastAPI runs it in its thread pool, and the Iam handle is
safe to share between those threads.
"""

from __future__ import annotations

from typing import Optional

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from . import DeniedError, IamClosedError, RevocationUnavailableError
from ._iam import Iam
from .models import Principal

__all__ = ["IamBearer"]

_API_TOKEN_PREFIX = "iam_pat_"
# Reads the header (and declares the bearer scheme in the OpenAPI document); the dependency
# decides the answer itself, so a missing header is a 401 on every FastAPI version.
_bearer_scheme = HTTPBearer(auto_error=False, description="An iam access token or API token")


def _challenge(code: int, error: Optional[str], detail: str) -> HTTPException:
    value = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(code, detail=detail, headers={"WWW-Authenticate": value})


class IamBearer:
    """A FastAPI dependency giving the :class:`~iam_ffi.Principal` of the request's bearer
    token; with ``role``, only if the token carries that role."""

    def __init__(self, iam: Iam, *, role: Optional[str] = None, api_tokens: bool = True) -> None:
        self.iam = iam
        self.role = role
        self.api_tokens = api_tokens

    def __call__(
        self,
        credentials: Optional[HTTPAuthorizationCredentials] = Depends(_bearer_scheme),
    ) -> Principal:
        if credentials is None or not credentials.credentials:
            raise _challenge(status.HTTP_401_UNAUTHORIZED, None, "a bearer token is required")
        token = credentials.credentials
        try:
            if self.api_tokens and token.startswith(_API_TOKEN_PREFIX):
                principal = self.iam.verify_api_token(token)
            else:
                principal = self.iam.verify(token)
        except (RevocationUnavailableError, IamClosedError) as e:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="token verification is unavailable; retry shortly",
                headers={"Retry-After": "1"},
            ) from e
        except DeniedError as e:
            raise _challenge(status.HTTP_401_UNAUTHORIZED, "invalid_token", e.message) from e
        if self.role is not None and not principal.has_role(self.role):
            raise _challenge(
                status.HTTP_403_FORBIDDEN,
                "insufficient_scope",
                f'the role "{self.role}" is required',
            )
        return principal
