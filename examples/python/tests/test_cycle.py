"""The Python binding over the freshly built libiam_ffi: the login / verify / refresh / revoke
cycle, TOTP, service tokens, database credentials, the audit chain, and misuse."""

import base64
import hashlib
import hmac
import struct
import threading
import time
import urllib.parse

import pytest

import iam_ffi
from iam_ffi import (
    BadCredentialsError,
    DeniedError,
    IamError,
    Iam,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidUtf8Error,
    NotFoundError,
    NotPermittedError,
    RefreshTokenReusedError,
    RevokedError,
    TokenInvalidError,
    TotpRequiredError,
    UsernameTakenError,
)

from conftest import config

PASSWORD = "correct horse battery"


def totp(secret_base32: str, at: float) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s)."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_login_verify_refresh_revoke(iam):
    alice = iam.create_account("alice", PASSWORD, roles=["admin"])
    assert alice.startswith("acc_")
    assert iam.find_account("alice") == alice

    with pytest.raises(BadCredentialsError) as e:
        iam.login("alice", "wrong password")
    assert e.value.message == "denied: invalid credentials"
    assert isinstance(e.value, DeniedError) and e.value.status == 11

    tokens = iam.login("alice", PASSWORD)
    assert tokens.access_token.startswith("v4.public.")
    assert tokens.expires_in > 0
    who = iam.verify(tokens.access_token)
    assert who.account_id == alice
    assert who.session_id == tokens.session_id
    assert who.kind == "human"
    assert who.has_role("admin") and who.roles == ("admin",)
    assert "pwd" in who.amr
    assert who.expires_at > who.issued_at

    nxt = iam.refresh(tokens.refresh_token)
    assert nxt.refresh_token != tokens.refresh_token
    assert iam.verify(nxt.access_token).session_id == tokens.session_id

    iam.revoke_session(nxt.session_id)
    with pytest.raises(RevokedError):
        iam.verify(nxt.access_token)
    with pytest.raises(DeniedError):
        iam.refresh(nxt.refresh_token)
    assert iam.verify_audit_chain() > 0


def test_refresh_reuse_revokes_the_session(iam):
    iam.create_account("bob", PASSWORD)
    first = iam.login("bob", PASSWORD)
    second = iam.refresh(first.refresh_token)
    with pytest.raises(RefreshTokenReusedError):
        iam.refresh(first.refresh_token)
    with pytest.raises(RevokedError):
        iam.verify(second.access_token)


def test_totp_enrol_confirm_and_login(iam):
    bob = iam.create_account("bob", PASSWORD)
    enrolment = iam.enrol_totp(bob)
    assert enrolment.uri.startswith("otpauth://totp/")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(enrolment.uri).query)
    assert query["secret"] == [enrolment.secret_base32]
    assert "redacted" in repr(enrolment)

    with pytest.raises(InvalidArgumentError):
        iam.confirm_totp(bob, "12ab")
    now = time.time()
    iam.confirm_totp(bob, totp(enrolment.secret_base32, now))

    with pytest.raises(TotpRequiredError):
        iam.login("bob", PASSWORD)
    # The code just used is spent; the next step's code is within the skew window.
    tokens = iam.login("bob", PASSWORD, totp_code=totp(enrolment.secret_base32, now + 30))
    assert "otp" in iam.verify(tokens.access_token).amr


def test_service_token_and_db_credentials(iam):
    alice = iam.create_account("alice", PASSWORD, roles=["admin"])
    iam.create_account("bob", PASSWORD)
    billing = iam.create_account("billing")  # no password: a system account
    admin = iam.login("alice", PASSWORD).access_token
    bob = iam.login("bob", PASSWORD).access_token

    issued = iam.issue_service_token(admin, billing)
    assert issued.expires_at > time.time()
    who = iam.verify(issued.token)
    assert who.kind == "system" and who.account_id == billing
    with pytest.raises(NotPermittedError):
        iam.issue_service_token(bob, billing)

    iam.store_db_credentials(admin, billing, "db.internal", 5432, "billing", "rw", "s3cret")
    creds = iam.fetch_db_credentials(issued.token, billing)
    assert (creds.host, creds.port, creds.database, creds.user, creds.password) == (
        "db.internal",
        5432,
        "billing",
        "rw",
        "s3cret",
    )
    assert "s3cret" not in repr(creds)
    with pytest.raises(NotPermittedError):
        iam.fetch_db_credentials(bob, billing)

    iam.revoke_service_token(admin, billing)
    with pytest.raises(RevokedError):
        iam.verify(issued.token)
    assert alice


def test_errors_and_misuse(iam):
    iam.create_account("alice", PASSWORD)
    with pytest.raises(UsernameTakenError):
        iam.create_account("alice", PASSWORD)
    with pytest.raises(InvalidArgumentError):
        iam.create_account("Not Valid!", PASSWORD)
    with pytest.raises(NotFoundError):
        iam.find_account("nobody")
    with pytest.raises(TokenInvalidError):
        iam.verify("v4.public.nonsense")
    with pytest.raises(InvalidUtf8Error):
        iam.login(b"al\xffice", PASSWORD)
    with pytest.raises(iam_ffi.NullParameterError):
        iam.login(None, PASSWORD)


def test_threads_share_one_handle(iam):
    iam.create_account("alice", PASSWORD)
    token = iam.login("alice", PASSWORD).access_token
    errors = []

    def work():
        try:
            for _ in range(20):
                iam.verify(token)
            iam.login("alice", PASSWORD)
        except IamError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_context_manager_closes_and_close_is_idempotent():
    with Iam.memory(config()) as iam:
        iam.create_account("alice", PASSWORD)
    assert iam.closed
    iam.close()
    with pytest.raises(ValueError):
        iam.login("alice", PASSWORD)


def test_bad_config_raises():
    with pytest.raises(InvalidConfigError):
        Iam.memory({"master_key": "too-short"})
    with pytest.raises(InvalidConfigError):
        Iam.memory({**config(), "no_such_setting": 1})


def test_sqlite_keeps_state_across_handles(tmp_path):
    cfg = config()
    with Iam.sqlite(tmp_path / "iam.db", cfg) as iam:
        alice = iam.create_account("alice", PASSWORD)
    with Iam.sqlite(tmp_path / "iam.db", cfg) as iam:
        assert iam.find_account("alice") == alice
        iam.login("alice", PASSWORD)


def test_version():
    assert iam_ffi.version()
