"""The audit log: list its events page by page, filtered, and verify its hash chain."""

from __future__ import annotations

import ctypes
import math
from datetime import datetime
from typing import Iterator, Optional, Union

from ._c import C_STR, IAM_P, OWNED_STR, STATUS, Text, arg, call_json, check
from ._handle import Handle
from ._library import declare
from .records import AuditEvent

declare(
    {
        "iam_verify_audit_chain": (STATUS, [IAM_P, ctypes.POINTER(ctypes.c_uint64)]),
        "iam_list_audit_events": (
            STATUS,
            [IAM_P, C_STR, C_STR, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint64,
             ctypes.c_size_t, C_STR, ctypes.POINTER(OWNED_STR)],
        ),
    }
)

#: A time bound: an aware datetime, or seconds since the Unix epoch.
TimeBound = Union[datetime, int]


def _seconds(bound: Optional[TimeBound], round_up: bool) -> int:
    """A time bound in whole seconds since the Unix epoch (0: none), rounded outward so the
    window never loses an event: down for a start, up for an end."""
    if bound is None:
        return 0
    if isinstance(bound, datetime):
        if bound.tzinfo is None:
            raise ValueError("give an aware datetime (e.g. tzinfo=timezone.utc), not a naive one")
        stamp = bound.timestamp()
        return math.ceil(stamp) if round_up else math.floor(stamp)
    return int(bound)


class Audit(Handle):
    """The audit methods of :class:`~iam_ffi.Iam`."""

    def list_audit_events(
        self,
        *,
        account_id: Optional[Text] = None,
        kind: Optional[Text] = None,
        since: Optional[TimeBound] = None,
        until: Optional[TimeBound] = None,
        after_seq: int = 0,
        limit: int = 100,
        actor_token: Optional[Text] = None,
    ) -> list[AuditEvent]:
        """One page of audit events in chain order: at most ``limit`` (1-1000) with a sequence
        number after ``after_seq`` (0: from the first); for the next page pass the last event's
        ``seq`` (:meth:`iter_audit_events` does). Filters (None for none): ``account_id``
        (events concerning that account), ``kind`` (e.g. ``"login.succeeded"``; an unknown
        kind is InvalidArgumentError), ``since`` (at or after) and ``until`` (before), each an
        aware datetime or Unix seconds; iam compares whole seconds, so datetimes are rounded
        outward. ``actor_token``: an admin (None: the embedding application)."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        if after_seq < 0:
            raise ValueError("after_seq must not be negative")
        with self._call() as (lib, iam):
            events = call_json(
                lib, lib.iam_list_audit_events, iam, arg(account_id), arg(kind),
                _seconds(since, round_up=False), _seconds(until, round_up=True), after_seq,
                limit, arg(actor_token),
            )
        return [AuditEvent.from_json(e) for e in events]

    def iter_audit_events(
        self,
        *,
        account_id: Optional[Text] = None,
        kind: Optional[Text] = None,
        since: Optional[TimeBound] = None,
        until: Optional[TimeBound] = None,
        after_seq: int = 0,
        page_size: int = 100,
        actor_token: Optional[Text] = None,
    ) -> Iterator[AuditEvent]:
        """Every audit event matching the filters of :meth:`list_audit_events`, in chain
        order, fetched ``page_size`` at a time (each page one call)."""
        while True:
            page = self.list_audit_events(
                account_id=account_id, kind=kind, since=since, until=until,
                after_seq=after_seq, limit=page_size, actor_token=actor_token,
            )
            yield from page
            if len(page) < page_size:
                return
            after_seq = page[-1].seq

    def verify_audit_chain(self) -> int:
        """Verifies the whole audit chain; returns the number of events (AuditChainBrokenError
        names the first event that does not fit)."""
        count = ctypes.c_uint64()
        with self._call() as (lib, iam):
            check(lib, lib.iam_verify_audit_chain(iam, ctypes.byref(count)))
            return count.value
