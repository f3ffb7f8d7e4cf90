"""Elevation (step-up, approval, ending) and personal API tokens through the Python binding."""

import time

import pytest

from iam_ffi import (
    BadCredentialsError,
    DeniedError,
    ElevationNotAllowedError,
    ElevationRequestClosedError,
    Iam,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidUtf8Error,
    NotFoundError,
    NotPermittedError,
    NullParameterError,
    RevokedError,
    SelfApprovalError,
    StepUpRequiredError,
    TokenInvalidError,
    WrongTokenKindError,
)

from conftest import config
from test_cycle import PASSWORD, totp

POLICIES = {
    "breakglass": {"step_up": "none", "approver_role": "admin", "max_duration_secs": 600},
    "auditor": {"step_up": "totp"},
}


@pytest.fixture(params=["memory", "sqlite"])
def iam(request, tmp_path):
    cfg = {**config(), "elevation": POLICIES}
    if request.param == "memory":
        handle = Iam.memory(cfg)
    else:
        handle = Iam.sqlite(tmp_path / "iam.db", cfg)
    with handle:
        yield handle


def test_elevate_with_password_then_end(iam):
    alice = iam.create_account("alice", PASSWORD, roles=["admin"])
    bob = iam.create_account("bob", PASSWORD)
    iam.grant_elevatable_role(bob, "ops")
    tokens = iam.login("bob", PASSWORD)

    with pytest.raises(StepUpRequiredError):
        iam.elevate(tokens.access_token, "ops")
    with pytest.raises(BadCredentialsError):
        iam.elevate(tokens.access_token, "ops", password="not the password")
    with pytest.raises(ElevationNotAllowedError) as e:
        iam.elevate(tokens.access_token, "root", password=PASSWORD)
    assert isinstance(e.value, DeniedError) and e.value.status == 39
    with pytest.raises(InvalidArgumentError):
        iam.elevate(tokens.access_token, "ops", duration_secs=10**6, password=PASSWORD)

    elevation = iam.elevate(tokens.access_token, "ops", duration_secs=300, password=PASSWORD)
    assert not elevation.pending
    assert elevation.role == "ops"
    assert elevation.request_id is None and elevation.request_expires_at == 0
    assert elevation.until - elevation.since == 300
    assert elevation.access_token.startswith("v4.public.")
    assert elevation.access_token not in repr(elevation)

    who = iam.verify(elevation.access_token)
    assert who.has_role("ops") and who.session_id == tokens.session_id
    assert who.expires_at <= elevation.until
    assert not iam.verify(tokens.access_token).has_role("ops")

    iam.end_elevation(elevation.access_token, "ops")
    with pytest.raises(RevokedError):
        iam.verify(elevation.access_token)
    with pytest.raises(RevokedError):
        iam.verify(tokens.access_token)
    # The session lives on: its next refresh yields a token without the role.
    time.sleep(0.01)
    fresh = iam.refresh(tokens.refresh_token)
    assert not iam.verify(fresh.access_token).has_role("ops")

    # Taking the elevatable role away means it can no longer be opened.
    iam.revoke_elevatable_role(bob, "ops")
    time.sleep(0.01)
    again = iam.login("bob", PASSWORD)
    with pytest.raises(ElevationNotAllowedError):
        iam.elevate(again.access_token, "ops", password=PASSWORD)
    assert iam.verify_audit_chain() > 0


def test_elevate_with_a_totp_step_up(iam):
    bob = iam.create_account("bob", PASSWORD)
    iam.grant_elevatable_role(bob, "auditor")
    without_totp = iam.login("bob", PASSWORD)
    # The policy asks for a factor bob does not have yet.
    with pytest.raises(StepUpRequiredError):
        iam.elevate(without_totp.access_token, "auditor", totp_code="123456")

    enrolment = iam.enrol_totp(bob)
    now = time.time()
    if now % 30 > 25:  # keep the three codes below inside one skew window
        time.sleep(30 - now % 30 + 0.1)
        now = time.time()
    iam.confirm_totp(bob, totp(enrolment.secret_base32, now - 30))
    tokens = iam.login("bob", PASSWORD, totp_code=totp(enrolment.secret_base32, now))
    with pytest.raises(StepUpRequiredError):
        iam.elevate(tokens.access_token, "auditor", password=PASSWORD)
    elevation = iam.elevate(
        tokens.access_token, "auditor", totp_code=totp(enrolment.secret_base32, now + 30)
    )
    assert not elevation.pending
    assert iam.verify(elevation.access_token).has_role("auditor")


def test_elevation_needing_approval(iam):
    alice = iam.create_account("alice", PASSWORD, roles=["admin"])
    iam.create_account("dave", PASSWORD, roles=["admin"])
    bob = iam.create_account("bob", PASSWORD)
    iam.grant_elevatable_role(bob, "breakglass")
    iam.grant_elevatable_role(alice, "breakglass")
    alice_token = iam.login("alice", PASSWORD).access_token
    dave_token = iam.login("dave", PASSWORD).access_token
    tokens = iam.login("bob", PASSWORD)

    request = iam.elevate(tokens.access_token, "breakglass")
    assert request.pending
    assert request.access_token is None and request.until == 0
    assert request.request_id.startswith("elr_")
    assert request.request_expires_at > time.time()
    assert "pending" in repr(request)

    # The requester cannot answer their own request; an account without the approver role
    # cannot answer it either.
    with pytest.raises(SelfApprovalError):
        iam.approve_elevation(tokens.access_token, request.request_id)
    iam.create_account("erin", PASSWORD)
    with pytest.raises(NotPermittedError, match='"admin" is required'):
        iam.approve_elevation(iam.login("erin", PASSWORD).access_token, request.request_id)
    until = iam.approve_elevation(alice_token, request.request_id)
    assert until > time.time()
    with pytest.raises(ElevationRequestClosedError):
        iam.approve_elevation(alice_token, request.request_id)
    with pytest.raises(ElevationRequestClosedError):
        iam.deny_elevation(dave_token, request.request_id)
    fresh = iam.refresh(tokens.refresh_token)
    assert iam.verify(fresh.access_token).has_role("breakglass")

    denied = iam.elevate(fresh.access_token, "breakglass", duration_secs=60)
    iam.deny_elevation(dave_token, denied.request_id)
    with pytest.raises(ElevationRequestClosedError):
        iam.approve_elevation(alice_token, denied.request_id)

    own = iam.elevate(alice_token, "breakglass")
    with pytest.raises(SelfApprovalError):
        iam.approve_elevation(alice_token, own.request_id)
    with pytest.raises(SelfApprovalError):
        iam.deny_elevation(alice_token, own.request_id)
    iam.approve_elevation(dave_token, own.request_id)


def test_service_tokens_are_the_wrong_kind(iam):
    alice = iam.create_account("alice", PASSWORD, roles=["admin"])
    billing = iam.create_account("billing")
    admin = iam.login("alice", PASSWORD).access_token
    service = iam.issue_service_token(admin, billing).token
    with pytest.raises(WrongTokenKindError) as e:
        iam.elevate(service, "ops")
    assert e.value.status == 42
    with pytest.raises(WrongTokenKindError):
        iam.create_api_token(service, "label", expires_at=int(time.time()) + 60)
    assert alice


def test_api_token_create_verify_revoke(iam):
    alice = iam.create_account("alice", PASSWORD, roles=["admin", "ops"])
    iam.create_account("bob", PASSWORD)
    admin = iam.login("alice", PASSWORD).access_token
    bob = iam.login("bob", PASSWORD).access_token
    expires = int(time.time()) + 3600

    token = iam.create_api_token(admin, "deploys", scopes=["ops"], expires_at=expires)
    assert token.secret.startswith("iam_pat_")
    assert token.token_id.startswith("pat_")
    assert token.secret not in repr(token)

    who = iam.verify_api_token(token.secret)
    assert who.account_id == alice
    assert who.roles == ("ops",) and not who.has_role("admin")
    assert who.amr == ("api_token",)
    assert who.token_id == token.token_id
    assert who.expires_at == expires
    with pytest.raises(TokenInvalidError):
        iam.verify(token.secret)
    with pytest.raises(TokenInvalidError):
        iam.verify_api_token(admin)
    with pytest.raises(TokenInvalidError):
        iam.verify_api_token("iam_pat_nonsense")

    with pytest.raises(NotPermittedError):
        iam.create_api_token(admin, "x", scopes=["root"], expires_at=expires)
    with pytest.raises(InvalidArgumentError):
        iam.create_api_token(admin, "x", expires_at=int(time.time()) - 10)
    with pytest.raises(InvalidArgumentError):
        iam.create_api_token(admin, "   ", expires_at=expires)

    with pytest.raises(NotPermittedError):
        iam.revoke_api_token(bob, token.token_id)
    with pytest.raises(NotFoundError):
        iam.revoke_api_token(admin, "pat_unknown")
    iam.revoke_api_token(admin, token.token_id)
    with pytest.raises(RevokedError):
        iam.verify_api_token(token.secret)
    iam.revoke_api_token(admin, token.token_id)  # revoking twice succeeds


def test_new_functions_check_their_arguments(iam):
    iam.create_account("alice", PASSWORD, roles=["admin"])
    admin = iam.login("alice", PASSWORD).access_token
    with pytest.raises(InvalidUtf8Error):
        iam.elevate(admin, b"o\xffps", password=PASSWORD)
    with pytest.raises(InvalidUtf8Error):
        iam.create_api_token(admin, b"l\xffabel", expires_at=int(time.time()) + 60)
    with pytest.raises(InvalidUtf8Error):
        iam.create_api_token(admin, "label", scopes=[b"\xff"], expires_at=int(time.time()) + 60)
    with pytest.raises(InvalidUtf8Error):
        iam.verify_api_token(b"iam_pat_\xff")
    with pytest.raises(NullParameterError):
        iam.elevate(None, "ops")
    with pytest.raises(NullParameterError):
        iam.end_elevation(admin, None)
    with pytest.raises(NullParameterError):
        iam.approve_elevation(admin, None)
    with pytest.raises(NullParameterError):
        iam.deny_elevation(None, "elr_x")
    with pytest.raises(NullParameterError):
        iam.grant_elevatable_role(None, "ops")
    with pytest.raises(NullParameterError):
        iam.create_api_token(admin, None, expires_at=int(time.time()) + 60)
    with pytest.raises(NullParameterError):
        iam.revoke_api_token(admin, None)
    with pytest.raises(NullParameterError):
        iam.verify_api_token(None)


def test_elevation_policies_in_the_configuration_are_checked():
    with pytest.raises(InvalidConfigError):
        Iam.memory({**config(), "elevation": {"ops": {"step_up": "fingerprint"}}})
    with pytest.raises(InvalidConfigError):
        Iam.memory({**config(), "default_elevation": {"max_duration_secs": 0}})
    with pytest.raises(InvalidConfigError):
        Iam.memory({**config(), "elevation": {"ops": {"approver_role": "Not A Role"}}})
    with Iam.memory(
        {
            **config(),
            "default_elevation": {"step_up": "none", "max_duration_secs": 60},
            "elevation_request_ttl_secs": 60,
            "api_token_max_ttl_secs": 3600,
        }
    ) as iam:
        bob = iam.create_account("bob", PASSWORD, roles=["ops"])
        iam.grant_elevatable_role(bob, "oncall")
        tokens = iam.login("bob", PASSWORD)
        with pytest.raises(InvalidArgumentError):
            iam.elevate(tokens.access_token, "oncall", duration_secs=61)
        assert not iam.elevate(tokens.access_token, "oncall").pending
        with pytest.raises(InvalidArgumentError):
            iam.create_api_token(tokens.access_token, "x", expires_at=int(time.time()) + 7200)

