//! Token-signing keys: rotating the active one, and the public keys that verify tokens.

use std::ffi::c_char;

use crate::args::{arg_opt_str, arg_out_ptr};
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::{give_json, give_string};

/// Makes a new signing key the active one (and new JOSE keys for ID tokens and JWT access
/// tokens): tokens signed by the old keys keep verifying until they expire. On success
/// `*out_key_id` holds the new key's id (its PASERK id, `k4.pid.…`, as in token footers); free it
/// with `iam_string_free`. `actor_token` is the access token of whoever asks (NULL: the
/// embedding application itself); iam decides whether it may (admins).
///
/// Fails with `IAM_STATUS_NOT_PERMITTED`, or the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; `actor_token` NULL or NUL-terminated; `out_key_id` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_rotate_signing_key(
    iam: *const iam_t,
    actor_token: *const c_char,
    out_key_id: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_key_id, "out_key_id") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let key_id = on_iam!(handle, |iam| iam
            .rotate_signing_key(crate::caller::acting(iam, actor).await?.as_ref().into())
            .await)?;
        give_string(out, &key_id, "key id")
    }
}

/// The public keys that verify iam's access tokens, for a resource server that verifies them
/// itself: on success `*out_keys_json` holds a JSON array of keys, each with `kid` (its PASERK
/// id), `paserk` (`k4.public.…`), `jwk` (an RFC 8037 OKP JWK) and `active` (whether it signs new
/// tokens; the others verify older tokens until they expire). Free it with `iam_string_free`.
/// Public: anyone may read them.
///
/// # Safety
/// `iam` must be NULL or a live handle; `out_keys_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_public_keys(
    iam: *const iam_t,
    out_keys_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_keys_json, "out_keys_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        let keys = on_iam!(handle, |iam| Ok::<_, iam_core::Error>(iam.public_keys()))?;
        give_json(out, &keys, "public keys")
    }
}
