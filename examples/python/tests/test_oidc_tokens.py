"""OpenID Connect tokens through the binding: an ID token and an RFC 9068 JWT access token from a
sign-in that the Rust test harness made in a SQLite database of its own (the C API runs no
OAuth flows). Skipped when the harness did not provide one."""

import os

import pytest

from iam_ffi import Iam, TokenInvalidError

OIDC = {
    name: os.environ.get("IAM_OIDC_" + name.upper())
    for name in ("db", "master_key", "issuer", "client_id", "id_token", "access_token")
}

pytestmark = pytest.mark.skipif(
    not all(OIDC.values()), reason="no OpenID Connect sign-in was provided"
)


@pytest.fixture
def iam():
    config = {
        "master_key": OIDC["master_key"],
        "issuer": OIDC["issuer"],
        "audience": OIDC["issuer"],
        "password": {"memory_kib": 64, "iterations": 1},
        "worker_threads": 2,
    }
    with Iam.sqlite(OIDC["db"], config) as handle:
        yield handle


def test_id_token_verifies_for_its_client_only(iam):
    claims = iam.verify_id_token(OIDC["id_token"], OIDC["client_id"])
    assert claims["iss"] == OIDC["issuer"]
    assert claims["aud"] == OIDC["client_id"]
    assert claims["nonce"] == "c-nonce"
    with pytest.raises(TokenInvalidError):
        iam.verify_id_token(OIDC["id_token"], "another-client")
    with pytest.raises(TokenInvalidError):
        iam.verify_id_token(OIDC["access_token"], OIDC["client_id"])


def test_jwt_access_token_verifies_like_any_access_token(iam):
    who = iam.verify(OIDC["access_token"])
    assert who.account_id == iam.verify_id_token(OIDC["id_token"], OIDC["client_id"])["sub"]
    with pytest.raises(TokenInvalidError):
        iam.verify(OIDC["id_token"])
