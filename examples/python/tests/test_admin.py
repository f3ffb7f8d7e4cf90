"""The functions of an admin tool through the binding: accounts (describe, page through),
standing roles, disable and enable, scheduled deletion and the sweep, sessions, API-token
lists, elevation requests, signing keys and the audit log. Every refusal is checked beside its
success, with the exception class of its status."""

import base64
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from iam_ffi import (
    APPLICATION,
    Account,
    AccountDisabledError,
    AuditEvent,
    DeniedError,
    Iam,
    IamClosedError,
    InvalidArgumentError,
    NotFoundError,
    NotPermittedError,
    RevokedError,
    WrongTokenKindError,
)

from conftest import PASSWORD, config

POLICIES = {"breakglass": {"step_up": "none", "approver_role": "admin", "max_duration_secs": 600}}


@pytest.fixture(params=["memory", "sqlite"])
def iam(request, tmp_path):
    cfg = {**config(), "elevation": POLICIES}
    handle = Iam.memory(cfg) if request.param == "memory" else Iam.sqlite(tmp_path / "a.db", cfg)
    with handle:
        yield handle


def near_now(when: datetime, slack: float = 60) -> bool:
    return when.tzinfo is not None and abs(when.timestamp() - time.time()) < slack


def test_get_account(iam, people):
    ben = iam.get_account(people.ids["ben"], actor_token=APPLICATION)
    assert isinstance(ben, Account)
    assert (ben.id, ben.username, ben.kind) == (people.ids["ben"], "ben", "human")
    assert ben.roles == () and ben.elevatable_roles == ()
    assert not ben.disabled and ben.has_password and ben.totp == "off"
    assert ben.deletion_due is None and near_now(ben.created_at)
    assert ben.profile.email is None and not ben.profile.email_verified
    # The account itself and admins may read it; others may not.
    assert iam.get_account(people.ids["ben"], actor_token=people.tokens["ben"]) == ben
    assert iam.get_account(people.ids["ben"], actor_token=people.tokens["ada"]) == ben
    with pytest.raises(NotPermittedError):
        iam.get_account(people.ids["ada"], actor_token=people.tokens["ben"])
    with pytest.raises(NotFoundError):
        iam.get_account("acc_unknown", actor_token=APPLICATION)
    svc_id = iam.create_account("svc", actor_token=APPLICATION)
    svc = iam.get_account(svc_id, actor_token=APPLICATION)
    assert svc.kind == "system" and not svc.has_password


def test_list_accounts_page_by_page(iam, people):
    everyone = iam.list_accounts(limit=1000, actor_token=people.tokens["ada"])
    assert sorted(people.ids.values()) == [a.id for a in everyone]
    first = iam.list_accounts(limit=1, actor_token=APPLICATION)
    second = iam.list_accounts(after=first[0].id, limit=1, actor_token=APPLICATION)
    assert [first[0].id, second[0].id] == [a.id for a in everyone[:2]]
    assert iam.list_accounts(after=everyone[-1].id, actor_token=APPLICATION) == []
    assert list(iam.iter_accounts(page_size=1, actor_token=APPLICATION)) == everyone
    assert list(iam.iter_accounts(actor_token=people.tokens["ada"], page_size=3)) == everyone
    # A non-admin may not list accounts, whichever way.
    with pytest.raises(NotPermittedError) as e:
        iam.list_accounts(actor_token=people.tokens["ben"])
    assert isinstance(e.value, DeniedError) and e.value.status == 21
    with pytest.raises(NotPermittedError):
        next(iam.iter_accounts(actor_token=people.tokens["ben"]))
    with pytest.raises(ValueError):
        iam.list_accounts(limit=0, actor_token=APPLICATION)


def test_grant_and_revoke_a_role(iam, people):
    ben = people.ids["ben"]
    with pytest.raises(NotPermittedError):
        iam.grant_role(ben, "auditor", actor_token=people.tokens["ben"])
    with pytest.raises(InvalidArgumentError):
        iam.grant_role(ben, "Not A Role", actor_token=APPLICATION)
    with pytest.raises(NotFoundError):
        iam.grant_role("acc_unknown", "auditor", actor_token=APPLICATION)
    iam.grant_role(ben, "auditor", actor_token=people.tokens["ada"])
    iam.grant_role(ben, "auditor", actor_token=APPLICATION)  # again: no change
    assert iam.get_account(ben, actor_token=APPLICATION).roles == ("auditor",)
    assert iam.verify(people.relogin("ben")).has_role("auditor")

    with pytest.raises(NotPermittedError):
        iam.revoke_role(ben, "auditor", actor_token=people.tokens["ben"])
    iam.revoke_role(ben, "auditor", actor_token=people.tokens["ada"])
    with pytest.raises(RevokedError):  # the tokens carrying it are void at once
        iam.verify(people.tokens["ben"])
    iam.revoke_role(ben, "auditor", actor_token=APPLICATION)  # not held any more: no change
    assert not iam.verify(people.relogin("ben")).has_role("auditor")


def test_disable_and_enable(iam, people):
    dee = people.ids["dee"]
    with pytest.raises(NotPermittedError):
        iam.disable_account(dee, actor_token=people.tokens["ben"])
    iam.disable_account(dee, actor_token=people.tokens["ada"])
    iam.disable_account(dee, actor_token=APPLICATION)  # again
    assert iam.get_account(dee, actor_token=APPLICATION).disabled
    with pytest.raises(AccountDisabledError):
        iam.login("dee", PASSWORD)
    with pytest.raises(DeniedError):
        iam.verify(people.tokens["dee"])
    with pytest.raises(NotPermittedError):
        iam.enable_account(dee, actor_token=people.tokens["ben"])
    iam.enable_account(dee, actor_token=people.tokens["ada"])
    with pytest.raises(NotFoundError):
        iam.enable_account("acc_unknown", actor_token=APPLICATION)
    assert not iam.get_account(dee, actor_token=APPLICATION).disabled
    assert iam.verify(people.relogin("dee")).account_id == dee


def test_schedule_and_cancel_a_deletion(iam, people):
    dee = people.ids["dee"]
    with pytest.raises(NotPermittedError):
        iam.schedule_deletion(people.tokens["ben"], dee)
    due = iam.schedule_deletion(people.tokens["dee"], dee)  # the account itself, just signed in
    week = timedelta(days=7).total_seconds()  # the default grace
    assert due.tzinfo is not None and abs(due.timestamp() - time.time() - week) < 60
    scheduled = iam.get_account(dee, actor_token=APPLICATION).deletion_due
    assert int(scheduled.timestamp()) == int(due.timestamp())
    with pytest.raises(NotPermittedError):
        iam.cancel_deletion(people.tokens["ben"], dee)
    iam.cancel_deletion(people.tokens["dee"], dee)
    iam.cancel_deletion(people.tokens["dee"], dee)  # none left
    assert iam.get_account(dee, actor_token=APPLICATION).deletion_due is None
    iam.schedule_deletion(people.tokens["ada"], dee)
    with pytest.raises(NotFoundError):
        iam.schedule_deletion(people.tokens["ada"], "acc_unknown")
    report = iam.sweep()  # not due yet
    assert report.deleted_accounts == ()
    assert iam.get_account(dee, actor_token=APPLICATION).deletion_due is not None


def test_the_sweep_carries_out_a_due_deletion():
    with Iam.memory({**config(), "deletion_grace_secs": 1}) as iam:
        gus = iam.create_account("gus", PASSWORD, actor_token=APPLICATION)
        session = iam.login("gus", PASSWORD).access_token
        iam.schedule_deletion(session, gus)
        time.sleep(2)
        report = iam.sweep()
        assert report.deleted_accounts == (gus,)
        assert all(isinstance(n, int) for n in report.pruned_records.values())
        # The first sweep signs the audit chain's head; the next is not due for an hour.
        assert isinstance(report.audit_checkpoint, int) and report.audit_checkpoint > 0
        with pytest.raises(NotFoundError):
            iam.find_account("gus")
        with pytest.raises(DeniedError):
            iam.verify(session)
        again = iam.sweep()
        assert again.deleted_accounts == ()
        assert again.audit_checkpoint is None
        # Audit events outlive the account.
        kinds = [e.kind for e in iam.iter_audit_events(account_id=gus, actor_token=APPLICATION)]
        assert "account.created" in kinds


def test_list_sessions_and_sign_out_everywhere(iam, people):
    ben = people.ids["ben"]
    session_id = iam.verify(people.tokens["ben"]).session_id
    sessions = iam.list_sessions(ben, actor_token=APPLICATION)
    assert [s.id for s in sessions] == [session_id]
    assert sessions[0].account_id == ben and not sessions[0].revoked
    assert sessions[0].amr == ("pwd",) and near_now(sessions[0].auth_time)
    assert sessions[0].expires_at > sessions[0].created_at
    assert iam.list_sessions(ben, actor_token=people.tokens["ben"]) == sessions
    with pytest.raises(NotPermittedError):
        iam.list_sessions(people.ids["ada"], actor_token=people.tokens["ben"])

    second = iam.login("ben", PASSWORD)  # newest first
    newest_first = iam.list_sessions(ben, actor_token=APPLICATION)
    assert [s.id for s in newest_first] == [second.session_id, session_id]
    with pytest.raises(NotPermittedError):
        iam.revoke_all_sessions(people.ids["ada"], actor_token=people.tokens["ben"])
    assert iam.revoke_all_sessions(ben, actor_token=people.tokens["ada"]) == 2
    for token in (people.tokens["ben"], second.access_token):
        with pytest.raises(RevokedError):
            iam.verify(token)
    revoked = iam.list_sessions(ben, actor_token=APPLICATION)
    assert all(s.revoked and near_now(s.revoked_at) for s in revoked)
    assert iam.revoke_all_sessions(ben, actor_token=APPLICATION) == 0
    with pytest.raises(NotFoundError):
        iam.revoke_all_sessions("acc_unknown", actor_token=APPLICATION)


def test_a_session_lists_its_open_elevations(iam, people):
    ben = people.ids["ben"]
    iam.grant_elevatable_role(ben, "ops", actor_token=APPLICATION)
    elevation = iam.elevate(people.tokens["ben"], "ops", duration_secs=300, password=PASSWORD)
    (session,) = iam.list_sessions(ben, actor_token=APPLICATION)
    (opened,) = session.elevations
    assert opened.role == "ops"
    assert abs(opened.until.timestamp() - elevation.until) < 1
    assert abs(opened.since.timestamp() - elevation.since) < 1


def test_list_api_tokens(iam, people):
    ada = people.ids["ada"]
    expires = int(time.time()) + 3600
    pat = iam.create_api_token(people.tokens["ada"], "reports", ["admin"], expires)
    (listed,) = iam.list_api_tokens(ada, actor_token=APPLICATION)
    assert (listed.id, listed.account_id, listed.label) == (pat.token_id, ada, "reports")
    assert listed.scopes == ("admin",) and not listed.revoked
    assert int(listed.expires_at.timestamp()) == expires and near_now(listed.created_at)
    assert pat.secret not in repr(listed)  # a listing never holds the secret
    with pytest.raises(NotPermittedError):
        iam.list_api_tokens(ada, actor_token=people.tokens["ben"])
    assert iam.list_api_tokens(people.ids["ben"], actor_token=people.tokens["ben"]) == []
    iam.revoke_api_token(people.tokens["ada"], pat.token_id)
    (listed,) = iam.list_api_tokens(ada, actor_token=people.tokens["ada"])
    assert listed.revoked and near_now(listed.revoked_at)


def test_list_elevation_requests(iam, people):
    ben = people.ids["ben"]
    iam.grant_elevatable_role(ben, "breakglass", actor_token=APPLICATION)
    pending = iam.elevate(people.tokens["ben"], "breakglass")
    assert pending.pending
    (request,) = iam.list_elevation_requests(people.tokens["ada"])
    assert request.id == pending.request_id and request.role == "breakglass"
    assert request.account_id == ben
    assert request.session_id == iam.verify(people.tokens["ben"]).session_id
    assert request.duration == timedelta(seconds=600)  # the policy's maximum
    assert int(request.expires_at.timestamp()) == pending.request_expires_at
    # ben cannot answer his own request, cy lacks the approver role: nothing for them.
    assert iam.list_elevation_requests(people.tokens["ben"]) == []
    assert iam.list_elevation_requests(people.tokens["cy"]) == []
    iam.create_account("svc", actor_token=APPLICATION)
    service_token = iam.issue_service_token(people.tokens["ada"], iam.find_account("svc")).token
    with pytest.raises(WrongTokenKindError):
        iam.list_elevation_requests(service_token)
    iam.deny_elevation(people.tokens["ada"], request.id)
    assert iam.list_elevation_requests(people.tokens["ada"]) == []


def test_rotate_the_signing_key(iam, people):
    (key,) = iam.public_keys()
    assert key.active and key.kid.startswith("k4.pid.") and key.paserk.startswith("k4.public.")
    assert key.jwk["kty"] == "OKP" and key.jwk["crv"] == "Ed25519" and key.jwk["kid"] == key.kid
    # The PASERK and the JWK are the same Ed25519 public key.
    raw = base64.urlsafe_b64decode(key.paserk.removeprefix("k4.public.") + "==")
    assert len(raw) == 32 and base64.urlsafe_b64decode(key.jwk["x"] + "==") == raw

    with pytest.raises(NotPermittedError):
        iam.rotate_signing_key(actor_token=people.tokens["ben"])
    kid = iam.rotate_signing_key(actor_token=people.tokens["ada"])
    assert kid.startswith("k4.pid.") and kid != key.kid
    keys = {k.kid: k for k in iam.public_keys()}
    assert keys[kid].active and not keys[key.kid].active  # the old key still verifies
    assert iam.rotate_signing_key(actor_token=APPLICATION) not in keys
    # Tokens signed before keep verifying; new ones are signed by the new key.
    assert iam.verify(people.tokens["ada"]).account_id == people.ids["ada"]
    assert iam.verify(people.relogin("ada")).account_id == people.ids["ada"]


def test_audit_events_page_by_page(iam, people):
    iam.grant_role(people.ids["ben"], "auditor", actor_token=people.tokens["ada"])
    total = iam.verify_audit_chain()
    first, second = iam.list_audit_events(limit=2, actor_token=APPLICATION)
    assert isinstance(first, AuditEvent)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == "0" * 64 and second.prev_hash == first.hash
    assert near_now(first.at)
    (third,) = iam.list_audit_events(after_seq=2, limit=1, actor_token=people.tokens["ada"])
    assert third.seq == 3 and third.prev_hash == second.hash

    # Pages of three follow one another to the end of the chain: every event once, in order,
    # each linked to the one before.
    events = list(iam.iter_audit_events(page_size=3, actor_token=APPLICATION))
    assert [e.seq for e in events] == list(range(1, total + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))
    assert events == iam.list_audit_events(limit=1000, actor_token=APPLICATION)
    last_two = iam.iter_audit_events(after_seq=total - 2, page_size=1, actor_token=APPLICATION)
    assert list(last_two) == events[-2:]

    # Filters: by kind, by account, by time.
    (granted,) = iam.list_audit_events(kind="role.granted", actor_token=APPLICATION)
    assert granted.kind == "role.granted" and granted.account == people.ids["ben"]
    assert "auditor" in granted.detail.values() and granted.actor == people.ids["ada"]
    created = iam.list_audit_events(
        account_id=people.ids["ben"], kind="account.created", actor_token=APPLICATION
    )
    assert [e.detail["username"] for e in created] == ["ben"]
    # Nothing before 1971.
    assert iam.list_audit_events(until=31536000, actor_token=APPLICATION) == []
    hour = timedelta(hours=1)
    now = datetime.now(timezone.utc)
    within = iam.list_audit_events(
        since=now - hour, until=now + hour, limit=1000, actor_token=APPLICATION
    )
    assert within == events
    assert iam.list_audit_events(since=now + hour, actor_token=APPLICATION) == []
    with pytest.raises(ValueError):
        iam.list_audit_events(since=datetime.now(), actor_token=APPLICATION)  # naive: which zone?

    with pytest.raises(InvalidArgumentError):
        iam.list_audit_events(kind="no.such.kind", actor_token=APPLICATION)
    with pytest.raises(NotPermittedError):
        iam.list_audit_events(actor_token=people.tokens["ben"])
    with pytest.raises(NotPermittedError):
        next(iam.iter_audit_events(actor_token=people.tokens["ben"]))


def test_paging_stops_once_the_iam_is_closed():
    iam = Iam.memory(config())
    for name in ("a1", "a2", "a3"):
        iam.create_account(name, PASSWORD, actor_token=APPLICATION)
    pages = iam.iter_audit_events(page_size=1, actor_token=APPLICATION)
    assert next(pages).seq == 1
    iam.close()
    with pytest.raises(IamClosedError):
        next(pages)


def test_threads_share_the_admin_calls(iam, people):
    """Listing calls hand out JSON strings that each thread takes and frees on its own."""
    def listings():
        return (
            iam.list_accounts(actor_token=APPLICATION),
            iam.list_sessions(people.ids["ben"], actor_token=APPLICATION),
            iam.public_keys(),
        )

    expected = listings()
    failures = []

    def work():
        try:
            for _ in range(20):
                assert listings() == expected
                first = iam.list_audit_events(limit=3, actor_token=APPLICATION)
                assert [e.seq for e in first] == [1, 2, 3]
        except BaseException as e:  # reported below, from the main thread
            failures.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
