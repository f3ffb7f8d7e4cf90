//! The life of an account: disabling and enabling it, scheduling its deletion (and cancelling
//! that), and the sweep that carries out due deletions and prunes what has expired.

use std::ffi::c_char;

use crate::args::{arg_opt_out, arg_opt_str, arg_out_ptr, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::give_json;

/// Whether an account is being disabled or enabled.
#[derive(Clone, Copy)]
enum Switch {
    Disable,
    Enable,
}

/// The body of `iam_disable_account` and `iam_enable_account`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
unsafe fn switch_account(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
    switch: Switch,
) -> Result<(), FfiError> {
    // SAFETY: the caller's promises are those of this function.
    let handle = try_ref_from_ptr!(iam);
    // SAFETY: as above.
    let account_id = unsafe { arg_str(account_id, "account_id") }?;
    // SAFETY: as above.
    let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
    on_iam!(handle, |iam| {
        let who = crate::caller::acting(iam, actor).await?;
        let caller = who.as_ref().into();
        match switch {
            Switch::Disable => iam.disable_account(caller, account_id).await,
            Switch::Enable => iam.enable_account(caller, account_id).await,
        }
    })?;
    Ok(())
}

/// Disables an account: it can no longer log in (`IAM_STATUS_ACCOUNT_DISABLED`), and every
/// token it holds or delegated stops verifying at once. Disabling a disabled account succeeds.
/// `actor_token` is the access token of whoever asks (NULL: the embedding application itself);
/// iam decides whether it may (admins).
///
/// Fails with `IAM_STATUS_NOT_FOUND`, `IAM_STATUS_NOT_PERMITTED`, or the statuses of
/// `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_disable_account(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of `switch_account`.
        unsafe { switch_account(iam, account_id, actor_token, Switch::Disable) }
    }
}

/// Enables a disabled account again: it may log in; tokens voided while it was disabled stay
/// void. Enabling an enabled account succeeds. `actor_token` as for `iam_disable_account`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_enable_account(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of `switch_account`.
        unsafe { switch_account(iam, account_id, actor_token, Switch::Enable) }
    }
}

/// Schedules an account's deletion after the configured grace period; `iam_sweep` carries it
/// out once due, and `iam_cancel_deletion` cancels it until then. `actor_access_token` must
/// belong to the account itself (a recent sign-in of its login session) or to an admin. If
/// `out_due_at` is not NULL it receives when the deletion falls due, in seconds since the Unix
/// epoch (0 on failure).
///
/// Fails with `IAM_STATUS_NOT_FOUND`, `IAM_STATUS_NOT_PERMITTED`,
/// `IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED`, or the statuses of `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_due_at`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_schedule_deletion(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    account_id: *const c_char,
    out_due_at: *mut i64,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or writable.
        let out_due_at = unsafe { arg_opt_out(out_due_at) };
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        let due = on_iam!(handle, |iam| {
            let actor = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.schedule_deletion(&actor, account_id).await?)
        })?;
        if let Some(out) = out_due_at {
            *out = due.as_secs();
        }
        Ok(())
    }
}

/// Cancels an account's scheduled deletion; cancelling when none is scheduled succeeds.
/// `actor_access_token` must belong to the account itself or to an admin.
///
/// Fails with `IAM_STATUS_NOT_FOUND`, `IAM_STATUS_NOT_PERMITTED`, or the statuses of
/// `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_cancel_deletion(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    account_id: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        on_iam!(handle, |iam| {
            let actor = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.cancel_deletion(&actor, account_id).await?)
        })
    }
}

/// Carries out every deletion due by now (voiding the account's tokens, then removing the
/// account, its API tokens, memberships, stored credentials and pending requests; audit events
/// stay), then prunes expired sessions, tokens, grants, lapsed requests and idle throttle
/// counters, and signs a checkpoint of the audit chain's head when one is due. Run it
/// periodically (e.g. hourly); it is idempotent. It acts for the embedding
/// application itself. If `out_report_json` is not NULL it receives a JSON object (free it with
/// `iam_string_free`): `deleted_accounts` (the ids deleted), `pruned` (`records`, a list of
/// `[kind, count]` pairs, `throttles`, `revocations`) and `audit_checkpoint` (the audit event a
/// new checkpoint signed, or null).
///
/// # Safety
/// `iam` must be NULL or a live handle; `out_report_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_sweep(
    iam: *const iam_t,
    out_report_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or writable.
        let out = unsafe { arg_out_ptr(out_report_json, "out_report_json") }.ok();
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        let report = on_iam!(handle, |iam| iam.sweep().await)?;
        match out {
            Some(out) => give_json(out, &report, "sweep report"),
            None => Ok(()),
        }
    }
}
