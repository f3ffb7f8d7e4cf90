"""An account's lifecycle: disable and enable it, schedule its deletion (or cancel it), and the
sweep that carries out due deletions and prunes what expired."""

from __future__ import annotations

import ctypes
from datetime import datetime, timezone
from typing import Optional

from ._c import C_STR, IAM_P, OWNED_STR, STATUS, Text, arg, call_json, check
from ._handle import Handle
from ._library import declare
from .records import SweepReport

declare(
    {
        "iam_disable_account": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_enable_account": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_schedule_deletion": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.POINTER(ctypes.c_int64)],
        ),
        "iam_cancel_deletion": (STATUS, [IAM_P, C_STR, C_STR]),
        "iam_sweep": (STATUS, [IAM_P, ctypes.POINTER(OWNED_STR)]),
    }
)


class Lifecycle(Handle):
    """The account-lifecycle methods of :class:`~iam_ffi.Iam`."""

    def disable_account(self, account_id: Text, actor_token: Optional[Text] = None) -> None:
        """Disables an account: it can no longer log in (AccountDisabledError), and every token
        it holds or delegated stops verifying at once. Disabling it again succeeds.
        ``actor_token``: an admin (None: the embedding application)."""
        with self._call() as (lib, iam):
            check(lib, lib.iam_disable_account(iam, arg(account_id), arg(actor_token)))

    def enable_account(self, account_id: Text, actor_token: Optional[Text] = None) -> None:
        """Enables a disabled account again: it may log in; tokens voided while it was disabled
        stay void. ``actor_token``: an admin (None: the embedding application)."""
        with self._call() as (lib, iam):
            check(lib, lib.iam_enable_account(iam, arg(account_id), arg(actor_token)))

    def schedule_deletion(self, actor_token: Text, account_id: Text) -> datetime:
        """Schedules an account's deletion after the grace period (``deletion_grace_secs``);
        :meth:`sweep` carries it out once due. Returns when it falls due (UTC, whole seconds).
        ``actor_token``: the account's own login session with a recent sign-in, or an
        admin."""
        due = ctypes.c_int64()
        with self._call() as (lib, iam):
            status = lib.iam_schedule_deletion(
                iam, arg(actor_token), arg(account_id), ctypes.byref(due)
            )
            check(lib, status)
        return datetime.fromtimestamp(due.value, tz=timezone.utc)

    def cancel_deletion(self, actor_token: Text, account_id: Text) -> None:
        """Cancels a scheduled deletion (succeeds when none is scheduled). ``actor_token``: the
        account itself or an admin."""
        with self._call() as (lib, iam):
            check(lib, lib.iam_cancel_deletion(iam, arg(actor_token), arg(account_id)))

    def sweep(self) -> SweepReport:
        """Carries out every deletion due by now, then prunes expired sessions, tokens, grants,
        lapsed requests and idle throttle counters. Idempotent; run it periodically (e.g.
        hourly). It acts for the embedding application."""
        with self._call() as (lib, iam):
            report = call_json(lib, lib.iam_sweep, iam)
        return SweepReport.from_json(report)
