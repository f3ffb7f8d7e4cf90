"""The audit log: verify its hash chain."""

from __future__ import annotations

import ctypes

from ._c import IAM_P, STATUS, check
from ._handle import Handle
from ._library import declare

declare({"iam_verify_audit_chain": (STATUS, [IAM_P, ctypes.POINTER(ctypes.c_uint64)])})


class Audit(Handle):
    """The audit methods of :class:`~iam_ffi.Iam`."""

    def verify_audit_chain(self) -> int:
        """Verifies the whole audit chain; returns the number of events (AuditChainBrokenError
        names the first event that does not fit)."""
        count = ctypes.c_uint64()
        with self._call() as (lib, iam):
            check(lib, lib.iam_verify_audit_chain(iam, ctypes.byref(count)))
            return count.value
