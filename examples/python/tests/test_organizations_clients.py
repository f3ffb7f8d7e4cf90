"""Organizations (members, invitations, organization tokens) and the OAuth client registry
(registration from a dict or JSON, description, listing, secret rotation, disabling) with
introspection, through the binding; each refusal beside its success."""

import json

import pytest

from iam_ffi import (
    BadCredentialsError,
    ClientSecret,
    CredentialKind,
    InvalidArgumentError,
    InvalidStateError,
    NotFoundError,
    NotPermittedError,
    OAuthClient,
    RegisteredClient,
    RevokedError,
    WrongTokenKindError,
)


def test_organizations_members_and_invitations(iam, people):
    ids, tokens = people.ids, people.tokens
    org = iam.create_organization(tokens["ben"], "acme")
    assert org.startswith("org_")
    with pytest.raises(InvalidStateError):  # the name is taken
        iam.create_organization(tokens["ada"], "acme")
    with pytest.raises(InvalidArgumentError):
        iam.create_organization(tokens["ada"], "Not Valid!")
    described = iam.get_organization(org)
    assert (described.id, described.name) == (org, "acme")
    with pytest.raises(NotFoundError):
        iam.get_organization("org_unknown")

    # An owner's addition is an invitation, answered by the invited account.
    assert iam.set_membership(tokens["ben"], org, ids["cy"], "member") is True
    members = {m.account_id: m for m in iam.list_members(org)}
    assert members[ids["ben"]].role == "owner" and not members[ids["ben"]].pending
    assert members[ids["cy"]].pending and members[ids["cy"]].org_id == org
    with pytest.raises(NotPermittedError):  # not yet a member
        iam.org_token(tokens["cy"], org)
    iam.answer_invitation(tokens["cy"], org, True)
    scoped = iam.org_token(tokens["cy"], org)
    assert scoped.token not in repr(scoped) and org in repr(scoped)
    who = iam.verify(scoped.token)
    assert who.credential is CredentialKind.ORG_TOKEN
    assert (who.org_id, who.org_role, who.account_id) == (org, "member", ids["cy"])
    with pytest.raises(WrongTokenKindError):  # an organization token cannot mint another
        iam.org_token(scoped.token, org)
    (membership,) = iam.list_memberships(ids["cy"], tokens["cy"])
    assert (membership.org_id, membership.role, membership.pending) == (org, "member", False)
    with pytest.raises(NotPermittedError):
        iam.list_memberships(ids["ben"], tokens["cy"])

    # Outsiders learn nothing and manage nothing; an admin's addition takes effect at once.
    with pytest.raises(NotFoundError):
        iam.list_members(org, tokens["dee"])
    with pytest.raises(NotPermittedError):
        iam.set_membership(tokens["dee"], org, ids["dee"], "owner")
    assert iam.set_membership(tokens["ada"], org, ids["dee"], "member") is False
    with pytest.raises(NotFoundError):  # nothing to answer
        iam.answer_invitation(tokens["dee"], org, True)
    assert ids["dee"] in {m.account_id for m in iam.list_members(org, tokens["dee"])}
    with pytest.raises(NotFoundError):
        iam.set_membership(tokens["ada"], "org_unknown", ids["dee"], "member")
    with pytest.raises(InvalidArgumentError):
        iam.set_membership(tokens["ada"], org, ids["dee"], "Bad Role")

    # Removal voids the member's organization tokens at once; a declined invitation is gone.
    with pytest.raises(NotPermittedError):
        iam.remove_member(tokens["cy"], org, ids["dee"])
    iam.remove_member(tokens["ben"], org, ids["cy"])
    with pytest.raises(RevokedError):
        iam.verify(scoped.token)
    iam.remove_member(tokens["ben"], org, ids["cy"])  # not a member any more
    assert iam.set_membership(tokens["ben"], org, ids["cy"], "member")
    iam.answer_invitation(tokens["cy"], org, False)
    assert ids["cy"] not in {m.account_id for m in iam.list_members(org)}
    assert iam.list_memberships(ids["cy"]) == []


REPORTS = {
    "name": "reports",
    "kind": "confidential",
    "grant_types": ["client_credentials"],
    "scopes": ["reports"],
}


def test_register_describe_and_list_clients(iam, people):
    ada, ben = people.tokens["ada"], people.tokens["ben"]
    registered = iam.register_client(ada, REPORTS)
    assert isinstance(registered, RegisteredClient)
    client = registered.client
    assert isinstance(client, OAuthClient) and client.id.startswith("cli_")
    assert registered.client_id == client.id
    assert (client.name, client.kind, client.grant_types) == (
        "reports", "confidential", ("client_credentials",)
    )
    assert client.scopes == ("reports",) and client.owner == people.ids["ada"]
    assert not client.disabled and client.secret_rotated_at is None
    assert client.access_token_format == "paseto" and client.id_token_signed_response_alg == "RS256"
    assert registered.secret is not None and registered.secret.startswith("iam_cs_")
    assert registered.secret not in repr(registered) and "redacted" in repr(registered)

    # The same registration as JSON text; a public client has no secret.
    public = iam.register_client(ada, json.dumps({
        "name": "spa", "kind": "public", "redirect_uris": ["https://spa.example/cb"],
        "grant_types": ["authorization_code"], "id_token_signed_response_alg": "EdDSA",
    }))
    assert public.secret is None and public.client.kind == "public"
    assert public.client.redirect_uris == ("https://spa.example/cb",)
    assert public.client.id_token_signed_response_alg == "EdDSA" and public.client.require_pkce

    # Refused registrations: an unknown field (named), bad JSON, a bad redirect URI, and a
    # non-admin asking for a client that does not act for itself.
    with pytest.raises(InvalidArgumentError) as e:
        iam.register_client(ada, {"name": "x", "kind": "public", "redirect_uri": ["https://x/cb"]})
    assert "redirect_uri" in e.value.message
    with pytest.raises(InvalidArgumentError):
        iam.register_client(ada, "not json")
    with pytest.raises(InvalidArgumentError):
        iam.register_client(ada, {"name": "x", "kind": "public",
                                  "redirect_uris": ["javascript:alert(1)"],
                                  "grant_types": ["authorization_code"]})
    with pytest.raises(NotPermittedError):
        iam.register_client(ben, {"name": "x", "kind": "confidential"})
    # ... but a client acting for its owner, asking for nothing the owner lacks, is fine.
    own = iam.register_client(ben, {"name": "ben's script", "kind": "confidential",
                                    "grant_types": ["client_credentials"],
                                    "acts_for_owner": True})
    assert own.client.owner == people.ids["ben"] and own.client.acts_for_owner

    assert iam.get_oauth_client(client.id) == client
    assert iam.get_oauth_client(client.id, ada) == client
    with pytest.raises(NotFoundError):  # not ben's: as if it did not exist
        iam.get_oauth_client(client.id, ben)
    with pytest.raises(NotFoundError):
        iam.get_oauth_client("cli_unknown", ada)
    listed = iam.list_oauth_clients(ada)
    assert {c.id for c in listed} == {client.id, public.client_id, own.client_id}
    assert [c.id for c in listed] == sorted(c.id for c in listed)
    assert iam.list_oauth_clients() == listed
    with pytest.raises(NotPermittedError):
        iam.list_oauth_clients(ben)


def test_introspect_rotate_and_disable(iam, people):
    ada, ben = people.tokens["ada"], people.tokens["ben"]
    registered = iam.register_client(ada, REPORTS)
    client_id, secret = registered.client_id, registered.secret
    public = iam.register_client(ada, {"name": "spa", "kind": "public",
                                       "redirect_uris": ["https://spa.example/cb"],
                                       "grant_types": ["authorization_code"]})

    # A login session's token is neither issued to the client nor meant for its resources.
    answer = iam.introspect(client_id, secret, ada)
    assert not answer.active and answer.scopes == () and answer.sub is None
    assert not iam.introspect(client_id, secret, "garbage", "refresh_token").active
    with pytest.raises(BadCredentialsError) as e:
        iam.introspect(client_id, "iam_cs_wrong", ada)
    assert "invalid_client" in e.value.message
    with pytest.raises(BadCredentialsError):  # a public client cannot authenticate
        iam.introspect(public.client_id, "anything", ada)
    with pytest.raises(InvalidArgumentError):
        iam.introspect(client_id, secret, ada, "id_token")

    # Rotation: the old secret keeps working through its grace period.
    with pytest.raises(NotFoundError):
        iam.rotate_client_secret(ben, client_id)
    with pytest.raises(InvalidStateError):
        iam.rotate_client_secret(ada, public.client_id)
    rotated = iam.rotate_client_secret(ada, client_id)
    assert isinstance(rotated, ClientSecret) and rotated.client_id == client_id
    assert rotated.secret.startswith("iam_cs_") and rotated.secret != secret
    assert rotated.secret not in repr(rotated)
    assert not iam.introspect(client_id, rotated.secret, ada, "access_token").active
    assert not iam.introspect(client_id, secret, ada).active
    assert iam.get_oauth_client(client_id).secret_rotated_at is not None

    # Disabled for good: it cannot authenticate any more.
    with pytest.raises(NotFoundError):
        iam.disable_client(ben, client_id)
    assert iam.disable_client(ada, client_id) == 0
    with pytest.raises(BadCredentialsError):
        iam.introspect(client_id, rotated.secret, ada)
    assert iam.get_oauth_client(client_id, ada).disabled
    with pytest.raises(NotFoundError):
        iam.disable_client(ada, "cli_unknown")
