"""What a principal says for each kind of credential iam itself issues (a session, an elevated
session, a personal API token, a service token, an organization token), verification for
another audience, and the credential-kind enum against the C header. OAuth tokens (delegated
and client credentials) are in test_oidc_tokens.py."""

import ctypes
import re
import time
from pathlib import Path

import pytest

import iam_ffi
from iam_ffi import CredentialKind, Iam, Principal, TokenInvalidError

from conftest import PASSWORD, config

HEADER = Path(__file__).resolve().parents[3] / "iam-ffi" / "include" / "iam.h"


def c_has_scope(iam: Iam, token: str, scopes: list[str], api_token: bool = False) -> dict:
    """iam's own answer (``iam_principal_has_scope``) for each scope, straight from the C
    principal: what the Python principal's has_scope must agree with."""
    from iam_ffi._sessions import PRINCIPAL_P

    principal = PRINCIPAL_P()
    with iam._call() as (lib, handle):
        verify = lib.iam_verify_api_token if api_token else lib.iam_verify
        assert verify(handle, token.encode(), ctypes.byref(principal)) == 0
        try:
            return {s: bool(lib.iam_principal_has_scope(principal, s.encode())) for s in scopes}
        finally:
            lib.iam_principal_free(ctypes.byref(principal))


@pytest.fixture(params=["memory", "sqlite"])
def iam(request, tmp_path):
    cfg = {**config(), "elevation": {"ops": {"step_up": "password"}}}
    handle = Iam.memory(cfg) if request.param == "memory" else Iam.sqlite(tmp_path / "p.db", cfg)
    with handle:
        yield handle


def test_credential_kinds_are_the_headers():
    header = HEADER.read_text()
    in_c = {m[0]: int(m[1]) for m in re.findall(r"IAM_CREDENTIAL_KIND_(\w+) = (\d+)", header)}
    assert len(in_c) >= 7, in_c
    assert {k.name: k.value for k in CredentialKind} == in_c
    assert CredentialKind.of(5) is CredentialKind.CLIENT_CREDENTIALS
    assert CredentialKind.of(1000) is CredentialKind.UNKNOWN
    assert {k for k in CredentialKind if k.delegated} == {
        CredentialKind.API_TOKEN, CredentialKind.OAUTH_USER, CredentialKind.CLIENT_CREDENTIALS
    }


def test_a_session_principal(iam):
    alice = iam.create_account("alice", PASSWORD, roles=["admin", "reports"])
    tokens = iam.login("alice", PASSWORD)
    who = iam.verify(tokens.access_token)
    assert who.credential is CredentialKind.SESSION and not who.delegated
    assert who.account_id == alice and who.kind == "human"
    # Not scope-limited: it grants the scopes named like its roles.
    assert who.scopes == ()
    assert who.has_scope("admin") and who.has_scope("reports") and not who.has_scope("root")
    assert c_has_scope(iam, tokens.access_token, ["admin", "reports", "root"]) == {
        "admin": True, "reports": True, "root": False
    }
    assert who.elevated_roles == () and who.elevated_until is None
    assert who.client_id is None and who.actor is None
    assert who.org_id is None and who.org_role is None
    assert who.audience == ("py-test",)

    # For another audience (a resource indicator) it is not valid; for iam's own it is.
    with pytest.raises(TokenInvalidError):
        iam.verify_for(tokens.access_token, "https://elsewhere.example")
    assert iam.verify_for(tokens.access_token, "py-test") == who


def test_an_elevated_session_names_its_elevated_roles(iam):
    bob = iam.create_account("bob", PASSWORD)
    iam.grant_elevatable_role(bob, "ops")
    tokens = iam.login("bob", PASSWORD)
    assert iam.verify(tokens.access_token).elevated_roles == ()
    elevation = iam.elevate(tokens.access_token, "ops", duration_secs=300, password=PASSWORD)
    who = iam.verify(elevation.access_token)
    assert who.credential is CredentialKind.SESSION
    assert who.elevated_roles == ("ops",) and who.has_role("ops")
    assert who.elevated_until == elevation.until
    assert time.time() < who.elevated_until <= time.time() + 301


def test_an_api_token_principal_is_limited_to_its_scopes(iam):
    iam.create_account("alice", PASSWORD, roles=["admin", "reports"])
    session = iam.login("alice", PASSWORD).access_token
    pat = iam.create_api_token(session, "ci", scopes=["reports"],
                               expires_at=int(time.time()) + 3600)
    who = iam.verify_api_token(pat.secret)
    assert who.credential is CredentialKind.API_TOKEN and who.delegated
    assert who.scopes == ("reports",) and who.roles == ("reports",)
    assert who.has_scope("reports") and not who.has_scope("admin")
    assert c_has_scope(iam, pat.secret, ["reports", "admin"], api_token=True) == {
        "reports": True, "admin": False
    }
    assert who.token_id == pat.token_id and who.client_id is None
    assert who.amr == ("api_token",)


def test_a_service_token_principal(iam):
    iam.create_account("root", PASSWORD, roles=["admin"])
    admin = iam.login("root", PASSWORD).access_token
    svc = iam.create_account("deployer")
    who = iam.verify(iam.issue_service_token(admin, svc).token)
    assert who.credential is CredentialKind.SERVICE_TOKEN and not who.delegated
    assert who.kind == "system" and who.account_id == svc
    assert who.client_id is None and who.org_id is None


def test_an_organization_token_principal(iam):
    alice = iam.create_account("alice", PASSWORD)
    session = iam.login("alice", PASSWORD).access_token
    org = iam.create_organization(session, "acme")
    who = iam.verify(iam.org_token(session, org).token)
    assert who.credential is CredentialKind.ORG_TOKEN
    assert who.org_id == org and who.org_role == "owner" and who.account_id == alice


def test_a_principal_built_by_hand_keeps_its_defaults():
    # Code that made a Principal itself (e.g. a test double) before these fields existed.
    who = Principal("acc_x", "ses_x", "tok_x", "human", ("admin",), ("pwd",), 1, 2, 1)
    assert who.credential is CredentialKind.UNKNOWN and who.has_scope("admin")
    assert iam_ffi.Principal is Principal
