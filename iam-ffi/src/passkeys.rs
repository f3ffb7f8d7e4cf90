//! Passkeys (WebAuthn) for applications with their own front end: registration and management
//! for a signed-in account, and passwordless or second-factor sign-in. The options go to the
//! browser's `navigator.credentials.create()` or `.get()` as they are; the JSON the browser
//! produced comes back as it is, and iam-core parses and checks it.

use std::ffi::c_char;

use iam_core::{LoginRequest, PasskeyChallenge, SecretString};
use serde::Serialize;

use crate::args::{arg_opt_str, arg_out_ptr, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::{set_boxed_mut_ptr, try_ref_from_ptr};
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::give_json;
use crate::tokens::{iam_tokens_t, Tokens};

/// A started ceremony as handed to C: the id to finish it with, the browser's options, and
/// when it closes (milliseconds since the Unix epoch).
#[derive(Serialize)]
struct ChallengeOut<'a> {
    ceremony: &'a str,
    options: &'a serde_json::Value,
    expires_at: iam_core::Timestamp,
}

impl<'a> From<&'a PasskeyChallenge> for ChallengeOut<'a> {
    fn from(c: &'a PasskeyChallenge) -> Self {
        ChallengeOut {
            ceremony: &c.ceremony,
            options: &c.options,
            expires_at: c.expires_at,
        }
    }
}

/// Hands a started ceremony to the caller as JSON.
fn give_challenge(out: &mut *mut c_char, challenge: &PasskeyChallenge) -> Result<(), FfiError> {
    give_json(out, &ChallengeOut::from(challenge), "passkey challenge")
}

/// Starts registering a passkey labelled `label` for the account of `access_token` (a login
/// session of a person, signed in recently). On success `*out_challenge_json` holds
/// `{"ceremony", "options", "expires_at"}`: pass `options` to `navigator.credentials.create()`
/// and its result, with `ceremony`, to `iam_passkey_registration_finish`; free it with
/// `iam_string_free`.
///
/// Fails with `IAM_STATUS_NOT_FOUND` when passkeys are not configured (`"passkeys"` of the
/// configuration), `IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED`, `IAM_STATUS_INVALID_ARGUMENT`
/// for a bad label, or the statuses of `iam_verify` for the token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_challenge_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_passkey_registration_start(
    iam: *const iam_t,
    access_token: *const c_char,
    label: *const c_char,
    out_challenge_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_challenge_json, "out_challenge_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(access_token, "access_token") }?;
        // SAFETY: as above.
        let label = unsafe { arg_str(label, "label") }?;
        let challenge = on_iam!(handle, |iam| {
            let principal = iam.verify(token).await?;
            iam.start_passkey_registration(&principal, label).await
        })?;
        give_challenge(out, &challenge)
    }
}

/// Finishes registering a passkey: `credential_json` is what `navigator.credentials.create()`
/// produced for the challenge of `ceremony`, `access_token` the same session's token as at the
/// start. The ceremony is used up whatever the outcome. On success `*out_passkey_json` holds the
/// new passkey (as `iam_passkeys_list` lists it); free it with `iam_string_free`.
///
/// Fails with `IAM_STATUS_INVALID_ARGUMENT` (malformed or oversized credential JSON),
/// `IAM_STATUS_INVALID_STATE` (an unknown, used or expired ceremony, another session's, or a
/// passkey already registered), `IAM_STATUS_BAD_CREDENTIALS` (the answer did not verify), or the
/// statuses of `iam_verify` for the token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_passkey_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_passkey_registration_finish(
    iam: *const iam_t,
    access_token: *const c_char,
    ceremony: *const c_char,
    credential_json: *const c_char,
    out_passkey_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_passkey_json, "out_passkey_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(access_token, "access_token") }?;
        // SAFETY: as above.
        let ceremony = unsafe { arg_str(ceremony, "ceremony") }?;
        // SAFETY: as above.
        let credential = unsafe { arg_str(credential_json, "credential_json") }?;
        let info = on_iam!(handle, |iam| {
            let principal = iam.verify(token).await?;
            iam.finish_passkey_registration(&principal, ceremony, credential)
                .await
        })?;
        give_json(out, &info, "passkey")
    }
}

/// Lists an account's passkeys, oldest first. `actor_token` is the access token of whoever asks
/// (NULL: the embedding application itself): the account itself or an admin. On success
/// `*out_passkeys_json` holds a JSON array of passkeys (`id`, `label`, `credential_id`,
/// `aaguid` (or null), `created_at`, `last_used_at` (or null) in milliseconds since the Unix
/// epoch, `backup_eligible`, `backup_state`, `counter`; no key material); free it with
/// `iam_string_free`.
///
/// Fails with `IAM_STATUS_NOT_PERMITTED`, or the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_passkeys_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_passkeys_list(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
    out_passkeys_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_passkeys_json, "out_passkeys_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let list = on_iam!(handle, |iam| iam
            .list_passkeys(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                account_id
            )
            .await)?;
        give_json(out, &list, "passkeys")
    }
}

/// Renames passkey `passkey_id` to `label`. `actor_token` is the access token of whoever asks
/// (NULL: the embedding application itself): its owner, signed in recently, or an admin. On
/// success `*out_passkey_json` holds the renamed passkey; free it with `iam_string_free`.
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such passkey, or not the actor's to manage),
/// `IAM_STATUS_INVALID_ARGUMENT` for a bad label, `IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED`,
/// or the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_passkey_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_passkey_rename(
    iam: *const iam_t,
    passkey_id: *const c_char,
    label: *const c_char,
    actor_token: *const c_char,
    out_passkey_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_passkey_json, "out_passkey_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let id = unsafe { arg_str(passkey_id, "passkey_id") }?;
        // SAFETY: as above.
        let label = unsafe { arg_str(label, "label") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let info = on_iam!(handle, |iam| iam
            .rename_passkey(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                id,
                label
            )
            .await)?;
        give_json(out, &info, "passkey")
    }
}

/// Removes passkey `passkey_id`: it signs in no more. `actor_token` is the access token of
/// whoever asks (NULL: the embedding application itself): its owner, signed in recently, or an
/// admin.
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such passkey, or not the actor's to manage),
/// `IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED`, or the statuses of `iam_verify` for the actor
/// token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_passkey_remove(
    iam: *const iam_t,
    passkey_id: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let id = unsafe { arg_str(passkey_id, "passkey_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        on_iam!(handle, |iam| iam
            .remove_passkey(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                id
            )
            .await)?;
        Ok::<(), FfiError>(())
    }
}

/// Starts a passkey sign-in. With `username` and `password` both NULL it is passwordless: any
/// discoverable passkey may answer. With both given, the password (and the login back-off) is
/// checked first as `iam_login` checks it, and only that account's passkeys may answer (the
/// passkey is the second factor; TOTP is not asked for). On success `*out_challenge_json` holds
/// `{"ceremony", "options", "expires_at"}`: pass `options` to `navigator.credentials.get()` and
/// its result, with `ceremony`, to `iam_passkey_login_finish`; free it with `iam_string_free`.
///
/// Fails with `IAM_STATUS_INVALID_ARGUMENT` when only one of `username` and `password` is given,
/// `IAM_STATUS_NOT_FOUND` when passkeys are not configured or the account has none (said only
/// to someone who knew its password), and the statuses of `iam_login` for the password.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_challenge_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_passkey_login_start(
    iam: *const iam_t,
    username: *const c_char,
    password: *const c_char,
    out_challenge_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_challenge_json, "out_challenge_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let username = unsafe { arg_opt_str(username, "username") }?;
        // SAFETY: as above.
        let password = unsafe { arg_opt_str(password, "password") }?;
        let request = match (username, password) {
            (Some(u), Some(p)) => Some(LoginRequest::password(u, SecretString::new(p))),
            (None, None) => None,
            _ => {
                return Err(FfiError::InvalidArgument {
                    name: "password",
                    reason: "give both username and password, or neither",
                })
            }
        };
        let challenge = on_iam!(handle, |iam| iam
            .start_passkey_login(request.as_ref())
            .await)?;
        give_challenge(out, &challenge)
    }
}

/// Finishes a passkey sign-in: `credential_json` is what `navigator.credentials.get()` produced
/// for the challenge of `ceremony`. The ceremony is used up whatever the outcome. On success
/// `*out_tokens` holds the new session's token pair, as `iam_login` gives it (free it with
/// `iam_tokens_free`).
///
/// Fails with `IAM_STATUS_INVALID_ARGUMENT` (malformed or oversized credential JSON),
/// `IAM_STATUS_INVALID_STATE` (an unknown, used or expired ceremony),
/// `IAM_STATUS_BAD_CREDENTIALS` (the answer did not verify, or the key's counter went back),
/// `IAM_STATUS_THROTTLED` or `IAM_STATUS_ACCOUNT_DISABLED`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_tokens`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_passkey_login_finish(
    iam: *const iam_t,
    ceremony: *const c_char,
    credential_json: *const c_char,
    out_tokens: *mut *mut iam_tokens_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_tokens, "out_tokens") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let ceremony = unsafe { arg_str(ceremony, "ceremony") }?;
        // SAFETY: as above.
        let credential = unsafe { arg_str(credential_json, "credential_json") }?;
        let success = on_iam!(handle, |iam| iam
            .finish_passkey_login(ceremony, credential)
            .await)?;
        set_boxed_mut_ptr(out, Tokens::new(&success.tokens)?);
        Ok(())
    }
}
