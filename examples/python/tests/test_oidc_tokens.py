"""OAuth and OpenID Connect tokens through the binding, as a resource server sees them: an ID
token and an RFC 9068 JWT access token from a sign-in of carol to a client, and a
client-credentials token of a client carol registered to act for her, bound to a resource.
The Rust test harness (iam-ffi/tests/support) made them in a SQLite database of its own: the C
API runs no OAuth flows, so no token endpoint is there to get them from. Skipped when the
harness did not provide them."""

import os
import shutil

import pytest

from iam_ffi import (
    BadCredentialsError,
    CredentialKind,
    DeniedError,
    Iam,
    RevokedError,
    TokenInvalidError,
)

from conftest import PASSWORD

OIDC = {
    name: os.environ.get("IAM_OIDC_" + name.upper())
    for name in ("db", "master_key", "issuer", "client_id", "id_token", "access_token",
                 "client_secret", "cc_token", "cc_resource")
}

pytestmark = pytest.mark.skipif(
    not all(OIDC.values()), reason="no OpenID Connect sign-in was provided"
)


def open_oidc(db):
    config = {
        "master_key": OIDC["master_key"],
        "issuer": OIDC["issuer"],
        "audience": OIDC["issuer"],
        "password": {"memory_kib": 64, "iterations": 1},
        "worker_threads": 2,
    }
    return Iam.sqlite(db, config)


@pytest.fixture
def iam():
    with open_oidc(OIDC["db"]) as handle:
        yield handle


@pytest.fixture
def own_copy(tmp_path):
    """The harness's database copied, for a test that changes it."""
    db = tmp_path / "oidc.db"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(OIDC["db"] + suffix):
            shutil.copyfile(OIDC["db"] + suffix, str(db) + suffix)
    with open_oidc(db) as handle:
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


def test_a_delegated_token_names_its_client_and_scopes(iam):
    who = iam.verify(OIDC["access_token"])
    assert who.credential is CredentialKind.OAUTH_USER and who.delegated
    assert who.client_id == OIDC["client_id"] and who.actor is None
    assert who.account_id == iam.find_account("carol") and who.kind == "human"
    # Limited to the scopes it was granted, whatever roles carol holds.
    assert who.scopes == ("openid",)
    assert who.has_scope("openid") and not who.has_scope("admin")
    assert who.audience == (OIDC["issuer"],)
    assert who.org_id is None and who.elevated_roles == ()
    with pytest.raises(TokenInvalidError):  # not minted for the resource server
        iam.verify_for(OIDC["access_token"], OIDC["cc_resource"])


def test_a_client_credentials_token_is_for_its_resource_only(iam):
    with pytest.raises(TokenInvalidError):  # not for iam itself
        iam.verify(OIDC["cc_token"])
    who = iam.verify_for(OIDC["cc_token"], OIDC["cc_resource"])
    assert who.credential is CredentialKind.CLIENT_CREDENTIALS and who.delegated
    assert who.client_id.startswith("cli_") and who.client_id != OIDC["client_id"]
    carol = iam.find_account("carol")
    assert who.actor == carol  # it acts for the client's owner
    assert who.audience == (OIDC["cc_resource"],)
    assert who.org_id is None and who.org_role is None and who.elevated_until is None
    # The client it was issued to: registered by carol, acting for her, bound to the resource.
    client = iam.get_oauth_client(who.client_id)
    assert client.owner == carol and client.acts_for_owner
    assert client.grant_types == ("client_credentials",)
    assert client.resources == (OIDC["cc_resource"],)


def test_introspection_answers_only_the_client_concerned(iam):
    answer = iam.introspect(OIDC["client_id"], OIDC["client_secret"], OIDC["access_token"],
                            "access_token")
    assert answer.active and answer.client_id == OIDC["client_id"]
    assert answer.scopes == ("openid",) and answer.iss == OIDC["issuer"]
    assert answer.sub == iam.find_account("carol") and answer.actor is None
    assert answer.exp is not None and answer.iat is not None and answer.exp > answer.iat
    who = iam.verify(OIDC["access_token"])
    assert (answer.exp, answer.iat) == (who.expires_at, who.issued_at)
    # The other client's token is none of this client's business.
    assert not iam.introspect(OIDC["client_id"], OIDC["client_secret"], OIDC["cc_token"]).active
    with pytest.raises(BadCredentialsError):
        iam.introspect(OIDC["client_id"], "iam_cs_not-the-secret", OIDC["access_token"])


def test_signing_out_everywhere_withdraws_what_was_delegated(own_copy):
    iam = own_copy
    carol = iam.find_account("carol")
    session = iam.login("carol", PASSWORD).access_token
    # Her own session and her grant to the relying party.
    assert iam.revoke_all_sessions(carol, session) == 2
    with pytest.raises(RevokedError):
        iam.verify(OIDC["access_token"])
    with pytest.raises(DeniedError):  # her client's token acting for her
        iam.verify_for(OIDC["cc_token"], OIDC["cc_resource"])


def test_disabling_a_client_voids_its_tokens(own_copy):
    iam = own_copy
    admin = iam.login("oidc-admin", PASSWORD).access_token
    assert iam.verify(OIDC["access_token"]).client_id == OIDC["client_id"]
    assert iam.disable_client(admin, OIDC["client_id"]) == 1  # carol's grant
    with pytest.raises(RevokedError):
        iam.verify(OIDC["access_token"])
    with pytest.raises(BadCredentialsError):
        iam.introspect(OIDC["client_id"], OIDC["client_secret"], OIDC["access_token"])
    assert iam.get_oauth_client(OIDC["client_id"], admin).disabled
    # Another client's token is not touched.
    assert iam.verify_for(OIDC["cc_token"], OIDC["cc_resource"]).actor == iam.find_account("carol")
