//! TOTP enrolment and confirmation.

use std::ffi::c_char;

use crate::args::{arg_opt_str, arg_out_ptr, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::{free_string, give_string};

/// Starts TOTP enrolment for a human account. Returns the shared secret (base32, for typing into
/// an authenticator) through `*out_secret_base32` and the `otpauth://totp/...` URI (for a QR code;
/// it contains the secret) through `*out_uri`; free both with `iam_string_free`, which wipes them.
/// TOTP is required at login only after `iam_confirm_totp`. `actor_token` is the access token of whoever asks (NULL: the embedding application itself).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; the out
/// pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_enrol_totp(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
    out_secret_base32: *mut *mut c_char,
    out_uri: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out_secret = unsafe { arg_out_ptr(out_secret_base32, "out_secret_base32") }?;
        // SAFETY: as above.
        let out_uri = unsafe { arg_out_ptr(out_uri, "out_uri") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let enrolment = on_iam!(handle, |iam| iam
            .enrol_totp(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                account_id
            )
            .await)?;
        give_string(out_secret, enrolment.secret_base32.expose(), "TOTP secret")?;
        if let Err(e) = give_string(out_uri, enrolment.uri.expose(), "TOTP URI") {
            // SAFETY: `out_secret` was just filled by `give_string` and is handed out nowhere else.
            unsafe { free_string(out_secret) };
            return Err(e);
        }
        Ok(())
    }
}

/// Confirms a pending TOTP enrolment with a current six-digit code; from then on login needs a
/// code. A wrong code fails with `IAM_STATUS_BAD_CREDENTIALS`. `actor_token` is the access token of whoever asks (NULL: the embedding application itself).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_confirm_totp(
    iam: *const iam_t,
    account_id: *const c_char,
    code: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let code = unsafe { arg_str(code, "code") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        on_iam!(handle, |iam| iam
            .confirm_totp(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                account_id,
                code
            )
            .await)?;
        Ok::<(), FfiError>(())
    }
}
