"""Organizations: create and describe one, manage its members (an owner's addition is an
invitation the account answers), list members and memberships, and mint an access token
scoped to one organization."""

from __future__ import annotations

import ctypes
from typing import Optional

from ._c import C_STR, IAM_P, OWNED_STR, STATUS, Text, arg, as_str, call_json, call_string, check
from ._handle import Handle
from ._library import declare
from .models import OrgToken
from .records import Membership, Organization

declare(
    {
        "iam_create_organization": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_get_organization": (STATUS, [IAM_P, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_set_membership": (
            STATUS,
            [IAM_P, C_STR, C_STR, C_STR, C_STR, ctypes.POINTER(ctypes.c_bool)],
        ),
        "iam_remove_member": (STATUS, [IAM_P, C_STR, C_STR, C_STR]),
        "iam_list_members": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_list_memberships": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_org_token": (STATUS, [IAM_P, C_STR, C_STR, ctypes.POINTER(OWNED_STR)]),
        "iam_answer_invitation": (STATUS, [IAM_P, C_STR, C_STR, ctypes.c_bool]),
    }
)


class Organizations(Handle):
    """The organization methods of :class:`~iam_ffi.Iam`."""

    def create_organization(self, actor_token: Text, name: Text) -> str:
        """Creates an organization named ``name`` (the rules of usernames; a taken name is
        InvalidStateError) and returns its id (``org_…``); the holder of ``actor_token``
        becomes its first member, with the role ``"owner"``."""
        with self._call() as (lib, iam):
            return call_string(lib, lib.iam_create_organization, iam, arg(actor_token), arg(name))

    def get_organization(self, org_id: Text) -> Organization:
        """Describes an organization (for the embedding application: no actor token)."""
        with self._call() as (lib, iam):
            org = call_json(lib, lib.iam_get_organization, iam, arg(org_id))
        return Organization.from_json(org)

    def set_membership(self, actor_token: Text, org_id: Text, account_id: Text, role: Text) -> bool:
        """Adds an account to an organization with ``role``, or changes its role there (its
        earlier tokens for the organization stop verifying). An admin's change takes effect at
        once; an owner's addition of a new member is an invitation the account answers with
        :meth:`answer_invitation`. Returns whether the membership waits for that answer."""
        pending = ctypes.c_bool()
        with self._call() as (lib, iam):
            status = lib.iam_set_membership(
                iam, arg(actor_token), arg(org_id), arg(account_id), arg(role),
                ctypes.byref(pending),
            )
            check(lib, status)
            return pending.value

    def remove_member(self, actor_token: Text, org_id: Text, account_id: Text) -> None:
        """Removes a member (admins and the organization's owners); its tokens for the
        organization stop verifying at once. Removing a non-member succeeds."""
        with self._call() as (lib, iam):
            check(
                lib, lib.iam_remove_member(iam, arg(actor_token), arg(org_id), arg(account_id))
            )

    def answer_invitation(self, access_token: Text, org_id: Text, accept: bool) -> None:
        """Accepts (or, with ``accept`` False, declines and removes) an owner's invitation to
        ``org_id``, for the holder of ``access_token`` (the invited account's login session)."""
        with self._call() as (lib, iam):
            check(
                lib, lib.iam_answer_invitation(iam, arg(access_token), arg(org_id), bool(accept))
            )

    def list_members(self, org_id: Text, actor_token: Optional[Text] = None) -> list[Membership]:
        """An organization's members (pending invitations included), ordered by account id.
        ``actor_token``: a member or an admin (others get NotFoundError; None: the embedding
        application)."""
        with self._call() as (lib, iam):
            members = call_json(lib, lib.iam_list_members, iam, arg(org_id), arg(actor_token))
        return [Membership.from_json(m) for m in members]

    def list_memberships(
        self, account_id: Text, actor_token: Optional[Text] = None
    ) -> list[Membership]:
        """The organizations an account belongs to (pending invitations included), ordered by
        organization id. ``actor_token``: the account itself or an admin (None: the embedding
        application)."""
        with self._call() as (lib, iam):
            memberships = call_json(
                lib, lib.iam_list_memberships, iam, arg(account_id), arg(actor_token)
            )
        return [Membership.from_json(m) for m in memberships]

    def org_token(self, access_token: Text, org_id: Text) -> OrgToken:
        """Mints an access token for the session of ``access_token`` (a login session's or a
        service token) scoped to ``org_id``: its principal names the organization and the
        holder's role there. Not a member, or an invitation not yet accepted:
        NotPermittedError."""
        with self._call() as (lib, iam):
            token = call_string(lib, lib.iam_org_token, iam, arg(access_token), arg(org_id))
        return OrgToken(org_id=as_str(org_id), token=token)
