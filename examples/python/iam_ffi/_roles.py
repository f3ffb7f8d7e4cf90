"""Standing roles: grant and revoke. (Elevatable roles, off until opened for a session, are in
``_elevation``.)"""

from __future__ import annotations

from typing import Optional

from ._c import C_STR, IAM_P, STATUS, Text, arg, check
from ._handle import Handle
from ._library import declare

declare(
    {
        "iam_grant_role": (STATUS, [IAM_P, C_STR, C_STR, C_STR]),
        "iam_revoke_role": (STATUS, [IAM_P, C_STR, C_STR, C_STR]),
    }
)


class Roles(Handle):
    """The role methods of :class:`~iam_ffi.Iam`."""

    def grant_role(self, account_id: Text, role: Text, actor_token: Optional[Text] = None) -> None:
        """Grants a standing role: the account's tokens carry it from its next login or
        refresh. Granting a role it holds succeeds. ``actor_token``: an admin (None: the
        embedding application)."""
        with self._call() as (lib, iam):
            check(lib, lib.iam_grant_role(iam, arg(account_id), arg(role), arg(actor_token)))

    def revoke_role(
        self, account_id: Text, role: Text, actor_token: Optional[Text] = None
    ) -> None:
        """Revokes a standing role: tokens issued before (which may carry it) stop verifying at
        once, as do tokens acting for the account. Revoking a role it does not hold succeeds.
        ``actor_token``: an admin (None: the embedding application)."""
        with self._call() as (lib, iam):
            check(lib, lib.iam_revoke_role(iam, arg(account_id), arg(role), arg(actor_token)))
