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
    IamClosedError,
    IamError,
    Iam,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidUtf8Error,
    NotFoundError,
    NotPermittedError,
    RecentAuthenticationRequiredError,
    RefreshTokenReusedError,
    RevokedError,
    TokenInvalidError,
    TotpRequiredError,
    UsernameTakenError,
    WrongTokenKindError,
)

from conftest import PASSWORD, config


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
    with pytest.raises(IamClosedError, match="closed") as e:
        iam.login("alice", PASSWORD)
    # Still a ValueError (as before), and an IamError for code catching every iam failure.
    assert isinstance(e.value, ValueError) and isinstance(e.value, IamError)


class GatedLogins:
    """Stands in for the loaded library on one handle: holds every ``iam_login`` at a gate until
    released, records when each returned from the C call, and when ``iam_free`` was called."""

    def __init__(self, lib, expected):
        self._lib = lib
        self._expected = expected
        self._lock = threading.Lock()
        self.entered = 0
        self.all_entered = threading.Event()
        self.release = threading.Event()
        self.returned_at = []
        self.freed_at = None

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def iam_login(self, *args):
        with self._lock:
            self.entered += 1
            if self.entered == self._expected:
                self.all_entered.set()
        assert self.release.wait(30)
        status = self._lib.iam_login(*args)
        with self._lock:
            self.returned_at.append(time.monotonic())
        return status

    def iam_free(self, *args):
        self.freed_at = time.monotonic()
        return self._lib.iam_free(*args)


def test_close_waits_for_calls_in_flight(tmp_path):
    # A real Argon2id cost, hashed one at a time: the logins take a while once released.
    cfg = {
        **config(),
        "password": {"memory_kib": 19456, "iterations": 2, "max_concurrent_hashes": 1},
    }
    iam = Iam.sqlite(tmp_path / "iam.db", cfg)
    iam.create_account("alice", PASSWORD)
    workers = 4
    gate = GatedLogins(iam._lib, workers)
    iam._lib = gate
    results, errors = [], []

    def login():
        try:
            results.append(iam.login("alice", PASSWORD))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=login) for _ in range(workers)]
    for t in threads:
        t.start()
    assert gate.all_entered.wait(30)

    closer = threading.Thread(target=iam.close)
    closer.start()
    closer.join(0.5)
    assert closer.is_alive(), "close returned while calls were in flight"
    assert gate.freed_at is None and not iam.closed
    # Once closing has begun, new calls are refused at once instead of racing the free.
    with pytest.raises(IamClosedError):
        iam.verify("v4.public.anything")

    gate.release.set()  # the logins now run in the library while close waits
    closer.join(60)
    assert not closer.is_alive()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(results) == workers
    assert len({r.session_id for r in results}) == workers
    assert all(r.access_token.startswith("v4.public.") for r in results)
    assert gate.freed_at is not None and gate.freed_at >= max(gate.returned_at)
    assert iam.closed
    with pytest.raises(IamClosedError):
        iam.login("alice", PASSWORD)
    iam.close()

    # The sessions those logins made are real: a new handle on the same file verifies them.
    with Iam.sqlite(tmp_path / "iam.db", cfg) as again:
        for r in results:
            assert again.verify(r.access_token).session_id == r.session_id


def test_concurrent_close_and_calls_never_crash():
    # Without a gate: several threads call while another closes; each call either completes
    # or is refused with IamClosedError, and the process survives.
    for _ in range(5):
        iam = Iam.memory(config())
        iam.create_account("alice", PASSWORD)
        token = iam.login("alice", PASSWORD).access_token
        outcomes, errors = [], []
        start = threading.Barrier(5)

        def work():
            start.wait()
            for _ in range(10):
                try:
                    iam.verify(token)
                    iam.login("alice", PASSWORD)
                    outcomes.append("ok")
                except IamClosedError:
                    outcomes.append("closed")
                    return
                except BaseException as e:  # pragma: no cover - reported below
                    errors.append(e)
                    return

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        start.wait()
        time.sleep(0.01)
        iam.close()
        for t in threads:
            t.join(60)
        assert errors == []
        assert iam.closed and outcomes


def test_actor_token_is_authorized(iam):
    iam.create_account("alice", PASSWORD, roles=["admin"])
    bob = iam.create_account("bob", PASSWORD)
    billing = iam.create_account("billing")
    admin = iam.login("alice", PASSWORD).access_token
    user = iam.login("bob", PASSWORD).access_token

    with pytest.raises(NotPermittedError, match='"admin" is required'):
        iam.create_account("mallory", PASSWORD, roles=["admin"], actor_token=user)
    with pytest.raises(NotFoundError):
        iam.find_account("mallory")
    with pytest.raises(TokenInvalidError):
        iam.create_account("mallory", PASSWORD, actor_token="v4.public.garbage")
    dave = iam.create_account("dave", PASSWORD, actor_token=admin)
    assert iam.find_account("dave") == dave

    with pytest.raises(NotPermittedError):
        iam.set_password(dave, "bob picked this", actor_token=user)
    iam.login("dave", PASSWORD)
    iam.set_password(dave, "alice picked this", actor_token=admin)
    iam.login("dave", "alice picked this")

    # TOTP enrolment needs a login session: a service token is the wrong kind.
    service = iam.issue_service_token(admin, billing).token
    with pytest.raises(WrongTokenKindError):
        iam.enrol_totp(billing, actor_token=service)
    assert iam.enrol_totp(bob, actor_token=user).uri.startswith("otpauth://")


def test_actor_is_a_deprecated_alias_of_actor_token(iam):
    iam.create_account("alice", PASSWORD, roles=["admin"])
    iam.create_account("bob", PASSWORD)
    admin = iam.login("alice", PASSWORD).access_token
    user = iam.login("bob", PASSWORD).access_token
    with pytest.deprecated_call():
        carol = iam.create_account("carol", PASSWORD, actor=admin)
    assert iam.find_account("carol") == carol
    with pytest.deprecated_call(), pytest.raises(NotPermittedError):
        iam.create_account("mallory", PASSWORD, actor=user)
    with pytest.raises(TypeError):
        iam.create_account("erin", PASSWORD, actor_token=admin, actor=admin)


def test_a_stale_session_is_refused_for_sensitive_self_service():
    cfg = {**config(), "recent_authentication_secs": 1}
    with Iam.memory(cfg) as iam:
        iam.create_account("alice", PASSWORD, roles=["admin"])
        token = iam.login("alice", PASSWORD).access_token
        time.sleep(2)
        with pytest.raises(RecentAuthenticationRequiredError, match="within 1 s") as e:
            iam.create_api_token(token, "deploys", scopes=["admin"],
                                 expires_at=int(time.time()) + 3600)
        assert e.value.status == 25 and isinstance(e.value, DeniedError)
        fresh = iam.login("alice", PASSWORD).access_token
        assert iam.create_api_token(fresh, "deploys", scopes=["admin"],
                                    expires_at=int(time.time()) + 3600).secret
    with pytest.raises(InvalidConfigError, match="recent_authentication_secs"):
        Iam.memory({**config(), "recent_authentication_secs": 0})


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
