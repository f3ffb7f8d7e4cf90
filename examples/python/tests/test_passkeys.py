"""Passkeys through the Python binding: the configuration, the starts of registration and of
both kinds of sign-in, management without passkeys, and the refusals of a finish."""

from datetime import datetime, timezone

import pytest

from iam_ffi import (
    APPLICATION,
    BadCredentialsError,
    Iam,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidStateError,
    NotFoundError,
    PasskeyChallenge,
)

from conftest import PASSWORD, config

PASSKEYS = {"rp_id": "example.com", "rp_origins": ["https://login.example.com"]}

#: A credential of the right shape whose ceremony iam never started.
WELL_FORMED_ASSERTION = {
    "id": "AAAA",
    "rawId": "AAAA",
    "type": "public-key",
    "extensions": {},
    "response": {
        "authenticatorData": "AAAA",
        "clientDataJSON": "AAAA",
        "signature": "AAAA",
        "userHandle": None,
    },
}


@pytest.fixture
def pk_iam():
    with Iam.memory({**config(), "passkeys": PASSKEYS}) as handle:
        yield handle


def test_passkeys_are_off_without_their_section_and_checked_with_it():
    with Iam.memory(config()) as iam:
        with pytest.raises(NotFoundError, match="passkey"):
            iam.start_passkey_login()
    bad = {"rp_id": "example.com", "rp_origins": ["https://evil.test"]}
    with pytest.raises(InvalidConfigError):
        Iam.memory({**config(), "passkeys": bad})


def test_registration_and_sign_in_start(pk_iam):
    pk_iam.create_account("pia", PASSWORD, actor_token=APPLICATION)
    token = pk_iam.login("pia", PASSWORD).access_token
    challenge = pk_iam.start_passkey_registration(token, "laptop")
    assert isinstance(challenge, PasskeyChallenge)
    assert challenge.ceremony.startswith("pkc_")
    assert challenge.options["publicKey"]["rp"]["id"] == "example.com"
    assert challenge.expires_at > datetime.now(timezone.utc)
    with pytest.raises(TypeError):
        pk_iam.start_passkey_registration(APPLICATION, "laptop")  # type: ignore[arg-type]

    login = pk_iam.start_passkey_login()
    assert login.ceremony.startswith("pkc_") and login.ceremony != challenge.ceremony
    assert login.options["publicKey"]["userVerification"] == "required"
    with pytest.raises(NotFoundError):
        pk_iam.start_passkey_login("pia", PASSWORD)
    with pytest.raises(BadCredentialsError):
        pk_iam.start_passkey_login("pia", "not pia's password")
    with pytest.raises(InvalidArgumentError):
        pk_iam.start_passkey_login("pia")


def test_finish_refusals_and_management_without_passkeys(pk_iam):
    pia = pk_iam.create_account("pia", PASSWORD, actor_token=APPLICATION)
    token = pk_iam.login("pia", PASSWORD).access_token
    challenge = pk_iam.start_passkey_registration(token, "laptop")
    with pytest.raises(InvalidArgumentError, match="credential"):
        pk_iam.finish_passkey_registration(token, challenge.ceremony, "not json")
    with pytest.raises(InvalidArgumentError):
        pk_iam.finish_passkey_login("pkc_unknown", "[1, 2")
    with pytest.raises(InvalidStateError):
        pk_iam.finish_passkey_login("pkc_unknown", WELL_FORMED_ASSERTION)

    assert pk_iam.list_passkeys(pia, actor_token=token) == []
    assert pk_iam.list_passkeys(pia, actor_token=APPLICATION) == []
    with pytest.raises(NotFoundError):
        pk_iam.rename_passkey("pk_unknown", "desk", actor_token=token)
    with pytest.raises(NotFoundError):
        pk_iam.remove_passkey("pk_unknown", actor_token=APPLICATION)
