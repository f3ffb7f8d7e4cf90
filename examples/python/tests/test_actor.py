"""Who asks: the actor token. Where iam.h makes it optional, ``actor_token=`` is keyword-only
and required, and only ``iam_ffi.APPLICATION`` means the embedding application itself: None, a
token passed by position, or a token taken for another argument never turn into the
application's authority. Where iam.h requires it, None is refused too. And no string argument
reaches C cut short at a NUL character."""

import copy
import inspect
import pickle

import pytest

import iam_ffi
from iam_ffi import (
    APPLICATION,
    Application,
    DeniedError,
    Iam,
    NotFoundError,
    NotPermittedError,
)

from conftest import PASSWORD

# Every method whose C function takes an optional actor, with arguments for the rest.
OPTIONAL_ACTOR = {
    "create_account": ("erin", PASSWORD),
    "get_account": ("acc_x",),
    "list_accounts": (),
    "iter_accounts": (),
    "set_password": ("acc_x", PASSWORD),
    "grant_role": ("acc_x", "auditor"),
    "revoke_role": ("acc_x", "auditor"),
    "disable_account": ("acc_x",),
    "enable_account": ("acc_x",),
    "revoke_session": ("ses_x",),
    "list_sessions": ("acc_x",),
    "revoke_all_sessions": ("acc_x",),
    "enrol_totp": ("acc_x",),
    "confirm_totp": ("acc_x", "123456"),
    "list_passkeys": ("acc_x",),
    "rename_passkey": ("pk_x", "desk"),
    "remove_passkey": ("pk_x",),
    "grant_elevatable_role": ("acc_x", "ops"),
    "revoke_elevatable_role": ("acc_x", "ops"),
    "list_api_tokens": ("acc_x",),
    "list_members": ("org_x",),
    "list_memberships": ("acc_x",),
    "get_oauth_client": ("cli_x",),
    "list_oauth_clients": (),
    "rotate_signing_key": (),
    "list_audit_events": (),
    "iter_audit_events": (),
}

# Every method whose C function requires an actor, with the name of that parameter (always the
# first) and arguments for the rest.
REQUIRED_ACTOR = {
    "schedule_deletion": ("actor_token", ("acc_x",)),
    "cancel_deletion": ("actor_token", ("acc_x",)),
    "issue_service_token": ("actor_token", ("acc_x",)),
    "revoke_service_token": ("actor_token", ("acc_x",)),
    "store_db_credentials": ("actor_token", ("acc_x", "db", 5432, "app", "app", "secret")),
    "fetch_db_credentials": ("actor_token", ("acc_x",)),
    "create_api_token": ("access_token", ("label",)),
    "revoke_api_token": ("access_token", ("pat_x",)),
    "elevate": ("access_token", ("ops",)),
    "end_elevation": ("access_token", ("ops",)),
    "approve_elevation": ("approver_token", ("elr_x",)),
    "deny_elevation": ("approver_token", ("elr_x",)),
    "list_elevation_requests": ("approver_token", ()),
    "register_client": ("actor_token", ({"name": "x", "kind": "public"},)),
    "rotate_client_secret": ("actor_token", ("cli_x",)),
    "disable_client": ("actor_token", ("cli_x",)),
    "create_organization": ("actor_token", ("acme",)),
    "set_membership": ("actor_token", ("org_x", "acc_x", "member")),
    "remove_member": ("actor_token", ("org_x", "acc_x")),
    "answer_invitation": ("access_token", ("org_x", True)),
    "org_token": ("access_token", ("org_x",)),
    "start_passkey_registration": ("access_token", ("laptop",)),
    "finish_passkey_registration": ("access_token", ("pkc_x", "{}")),
}


def call(method, *args, **kwargs):
    """Calls the method, and for an iterator also asks for its first item."""
    result = method(*args, **kwargs)
    if inspect.isgenerator(result):
        next(result, None)
    return result


def test_the_tables_name_every_method_taking_an_actor():
    keyword_only, first = set(), set()
    for name, method in inspect.getmembers(Iam, inspect.isfunction):
        if name.startswith("_"):
            continue
        parameters = list(inspect.signature(method).parameters.values())[1:]  # after self
        if "actor_token" in {p.name for p in parameters}:
            actor = next(p for p in parameters if p.name == "actor_token")
            if actor.kind is inspect.Parameter.KEYWORD_ONLY:
                # Required: no default, so leaving it out is an error, never the application.
                assert actor.default is inspect.Parameter.empty, name
                keyword_only.add(name)
            else:
                assert parameters[0] is actor, name
                first.add(name)
        elif parameters and parameters[0].name in ("access_token", "approver_token"):
            first.add(name)
    assert keyword_only == set(OPTIONAL_ACTOR)
    assert first - {"verify", "verify_for"} == set(REQUIRED_ACTOR)


@pytest.mark.parametrize("name", sorted(OPTIONAL_ACTOR))
def test_none_is_not_the_application(iam, people, name):
    method = getattr(iam, name)
    with pytest.raises(TypeError, match="iam_ffi.APPLICATION"):
        call(method, *OPTIONAL_ACTOR[name], actor_token=None)
    with pytest.raises(TypeError):  # left out
        call(method, *OPTIONAL_ACTOR[name])


@pytest.mark.parametrize("name", sorted(OPTIONAL_ACTOR))
def test_an_actor_passed_by_position_is_refused(iam, people, name):
    method = getattr(iam, name)
    with pytest.raises(TypeError):
        call(method, *OPTIONAL_ACTOR[name], people.tokens["ada"])


def test_nothing_happens_when_the_actor_is_refused(iam, people):
    with pytest.raises(TypeError):
        iam.create_account("erin", PASSWORD, actor_token=None)
    with pytest.raises(NotFoundError):
        iam.find_account("erin")
    # A missing request header (None) in a handler: refused, dee stays enabled.
    header = None
    with pytest.raises(TypeError, match="APPLICATION"):
        iam.disable_account(people.ids["dee"], actor_token=header)
    assert not iam.get_account(people.ids["dee"], actor_token=APPLICATION).disabled


def test_a_token_is_never_taken_for_another_argument(iam, people):
    # list_accounts(after, limit): a token in the cursor's place leaves the actor missing.
    with pytest.raises(TypeError, match="actor_token"):
        iam.list_accounts(people.tokens["ada"])
    with pytest.raises(TypeError):
        iam.iter_accounts(people.tokens["ada"])
    with pytest.raises(TypeError, match="limit"):
        iam.list_accounts(None, people.tokens["ada"], actor_token=APPLICATION)


def test_the_former_keyword_actor_is_gone(iam, people):
    with pytest.raises(TypeError, match="actor"):
        iam.create_account("erin", PASSWORD, actor=people.tokens["ada"])


def test_the_application_acts_without_a_token(iam, people):
    dee = people.ids["dee"]
    iam.disable_account(dee, actor_token=APPLICATION)
    assert iam.get_account(dee, actor_token=APPLICATION).disabled
    iam.enable_account(dee, actor_token=APPLICATION)
    everyone = list(iam.iter_accounts(actor_token=APPLICATION, page_size=2))
    assert sorted(a.id for a in everyone) == sorted(people.ids.values())
    # The audit log names no actor for what the application did itself.
    (disabled,) = iam.list_audit_events(kind="account.disabled", actor_token=APPLICATION)
    assert disabled.actor is None and disabled.account == dee


def test_a_users_token_is_refused_for_an_admin_call(iam, people):
    ben, dee = people.tokens["ben"], people.ids["dee"]
    with pytest.raises(NotPermittedError, match="admin") as refused:
        iam.disable_account(dee, actor_token=ben)
    assert isinstance(refused.value, DeniedError) and refused.value.status == 21
    assert not iam.get_account(dee, actor_token=APPLICATION).disabled
    with pytest.raises(NotPermittedError):
        iam.grant_role(people.ids["ben"], "admin", actor_token=ben)
    with pytest.raises(NotPermittedError):
        next(iam.iter_accounts(actor_token=ben))
    # The same calls with an admin's token go through, and name the admin in the audit log.
    iam.disable_account(dee, actor_token=people.tokens["ada"])
    (disabled,) = iam.list_audit_events(kind="account.disabled", actor_token=APPLICATION)
    assert disabled.actor == people.ids["ada"]


@pytest.mark.parametrize("name", sorted(REQUIRED_ACTOR))
def test_a_required_actor_is_never_none_nor_the_application(iam, name):
    parameter, rest = REQUIRED_ACTOR[name]
    method = getattr(iam, name)
    for missing in (None, APPLICATION):
        with pytest.raises(TypeError, match=f"{parameter} is required"):
            method(missing, *rest)


def test_application_is_one_final_value_with_a_clear_repr():
    assert repr(APPLICATION) == "iam_ffi.APPLICATION"
    assert iam_ffi.APPLICATION is APPLICATION and isinstance(APPLICATION, Application)
    assert Application() is APPLICATION
    assert copy.copy(APPLICATION) is APPLICATION and copy.deepcopy(APPLICATION) is APPLICATION
    assert pickle.loads(pickle.dumps(APPLICATION)) is APPLICATION
    with pytest.raises(TypeError):

        class Impostor(Application):  # noqa: F841 (refused as it is defined)
            pass

    with pytest.raises(AttributeError):
        APPLICATION.token = "x"  # no state to set


def test_an_actor_of_another_type_is_refused(iam):
    with pytest.raises(TypeError, match="int"):
        iam.list_accounts(actor_token=42)


@pytest.mark.parametrize("nul", ["admin\x00x", b"admin\x00x"])
def test_a_nul_character_is_refused_not_cut_short(iam, people, nul):
    # Each would reach iam as "admin" (C strings end at the first NUL).
    with pytest.raises(ValueError, match="NUL"):
        iam.create_account(nul, PASSWORD, actor_token=APPLICATION)
    with pytest.raises(NotFoundError):
        iam.find_account("admin")
    with pytest.raises(ValueError, match="NUL"):
        iam.find_account(nul)
    with pytest.raises(ValueError, match="NUL"):
        iam.login(nul, PASSWORD)
    with pytest.raises(ValueError, match="NUL"):
        iam.grant_role(people.ids["ben"], nul, actor_token=APPLICATION)
    with pytest.raises(ValueError, match="NUL"):
        iam.create_account("erin", PASSWORD, roles=["reports", nul], actor_token=APPLICATION)
    with pytest.raises(ValueError, match="NUL"):
        iam.list_accounts(actor_token=nul)
    with pytest.raises(ValueError, match="NUL"):
        iam.schedule_deletion(nul, people.ids["ben"])
    assert not iam.get_account(people.ids["ben"], actor_token=APPLICATION).roles
    with pytest.raises(NotFoundError):
        iam.find_account("erin")


def test_a_password_with_a_nul_character_is_refused(iam, people):
    # "correct horse battery\x00anything" must not log in as "correct horse battery".
    with pytest.raises(ValueError, match="NUL"):
        iam.login("ada", PASSWORD + "\x00anything")
    with pytest.raises(ValueError, match="NUL"):
        iam.set_password(people.ids["ben"], "short\x00" + PASSWORD, actor_token=APPLICATION)
    assert iam.verify(iam.login("ben", PASSWORD).access_token).account_id == people.ids["ben"]


def test_a_sqlite_path_with_a_nul_character_is_refused(tmp_path):
    with pytest.raises(ValueError, match="NUL"):
        Iam.sqlite(str(tmp_path / "iam.db") + "\x00.other", {"master_key": "k"})
