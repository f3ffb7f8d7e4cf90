//! The audit chain.

use crate::boundary::{arg_out, arg_ref, guard};
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;

/// Walks the whole audit chain, checking every link. On success `*out_events` holds the number
/// of events; a broken chain fails with `IAM_STATUS_AUDIT_CHAIN_BROKEN`, the last error naming
/// the first broken link.
///
/// # Safety
/// `iam` must be NULL or a live handle; `out_events` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_verify_audit_chain(
    iam: *const iam_t,
    out_events: *mut u64,
) -> iam_status {
    guard(|| {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out(out_events, "out_events") }?;
        *out = 0;
        // SAFETY: as above.
        let handle = unsafe { arg_ref(iam, "iam") }?;
        *out = on_iam!(handle, |iam| iam
            .verify_audit_chain(iam_core::Caller::System)
            .await)?;
        Ok(())
    })
}
