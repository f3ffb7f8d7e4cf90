"""A relying party built on Authlib's OAuth 2.0 / OpenID Connect client, driven by iam-axum's
oidc_interop tests over stdin/stdout.

env: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, RP_MODE ("oidc" or "oauth2"),
     SCOPE (optional), REQUESTS_CA_BUNDLE (the test CA).
out: {"authorize_url": ...}
in:  the callback URL the browser was sent to
out: {"claims": {...}, "userinfo": {...}, "nonce": ...} (OIDC) or
     {"access_token": ..., "token_type": ..., "scope": ...} (OAuth 2.0),
     or {"error": ...} and exit status 1.

The app is Authlib's framework-neutral client (the one its Flask, Django and Starlette
integrations are built from) with a dict standing in for the web framework's session; the
callback handling follows those integrations' ``authorize_access_token``.
"""

import json
import os
import sys
from urllib.parse import parse_qsl, urlsplit

from authlib.integrations.base_client import (
    BaseApp,
    FrameworkIntegration,
    OAuth2Mixin,
    OAuthError,
    OpenIDMixin,
)
from authlib.integrations.requests_client import OAuth2Session


class Integration(FrameworkIntegration):
    """No web framework: tokens are not persisted."""

    def update_token(self, token, refresh_token=None, access_token=None):
        pass


class App(OAuth2Mixin, OpenIDMixin, BaseApp):
    """Authlib's OAuth 2.0 + OpenID Connect client app over requests."""

    client_cls = OAuth2Session


def emit(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def main():
    oidc = os.environ.get("RP_MODE", "oidc") == "oidc"
    issuer = os.environ["ISSUER"]
    redirect_uri = os.environ["REDIRECT_URI"]
    scope = os.environ.get("SCOPE") or ("openid profile email" if oidc else "profile")
    well_known = "openid-configuration" if oidc else "oauth-authorization-server"
    app = App(
        Integration("iam"),
        name="iam",
        client_id=os.environ["CLIENT_ID"],
        client_secret=os.environ["CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/{well_known}",
        # Authlib sends PKCE only when asked to.
        client_kwargs={"scope": scope, "code_challenge_method": "S256"},
    )
    session = {}

    # authorize_redirect: the URL plus state, nonce and code_verifier kept in the session.
    rv = app.create_authorization_url(redirect_uri)
    state = rv.pop("state")
    app.framework.set_state_data(session, state, {"redirect_uri": redirect_uri, **rv})
    emit({"authorize_url": rv["url"]})

    # authorize_access_token on the callback.
    callback = sys.stdin.readline().strip()
    query = dict(parse_qsl(urlsplit(callback).query))
    if "error" in query:
        raise OAuthError(error=query["error"], description=query.get("error_description"))
    params = {"code": query.get("code"), "state": query.get("state")}
    state_data = app.framework.get_state_data(session, params["state"])
    app.framework.clear_state_data(session, params["state"])
    params = app._format_state_params(state_data, params)
    token = app.fetch_access_token(**params)
    if not oidc:
        return {
            "access_token": token["access_token"],
            "token_type": token["token_type"],
            "scope": token.get("scope"),
        }
    if "id_token" not in token:
        raise OAuthError(description="no id_token in the token response")
    claims = app.parse_id_token(token, nonce=state_data["nonce"])
    userinfo = app.userinfo(token=token)
    return {"claims": dict(claims), "userinfo": dict(userinfo), "nonce": state_data["nonce"]}


if __name__ == "__main__":
    try:
        emit(main())
    except Exception as e:  # noqa: BLE001 - every failure is reported to the test
        emit({"error": f"{type(e).__name__}: {e}"})
        sys.exit(1)
