//! The audit chain.

use crate::args::arg_out;
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
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
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out(out_events, "out_events") }?;
        *out = 0;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        *out = on_iam!(handle, |iam| iam
            .verify_audit_chain(iam_core::Caller::System)
            .await)?;
        Ok(())
    }
}
