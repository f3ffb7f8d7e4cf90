//! Roles of an account: standing roles (carried by every token) and elevatable ones (held but
//! off until opened for one session with `iam_elevate`), granted and revoked.

use std::ffi::c_char;

use crate::args::{arg_opt_str, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;

/// Which role set changes, and how.
#[derive(Clone, Copy)]
enum RoleChange {
    /// Add a standing role.
    Grant,
    /// Remove a standing role.
    Revoke,
    /// Add an elevatable role.
    GrantElevatable,
    /// Remove an elevatable role.
    RevokeElevatable,
}

/// The body of the four role functions: reads the arguments, then lets iam decide whether the
/// actor may make `change` and make it.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
unsafe fn change_role(
    iam: *const iam_t,
    account_id: *const c_char,
    role: *const c_char,
    actor_token: *const c_char,
    change: RoleChange,
) -> Result<(), FfiError> {
    // SAFETY: the caller's promises are those of this function.
    let handle = try_ref_from_ptr!(iam);
    // SAFETY: as above.
    let account_id = unsafe { arg_str(account_id, "account_id") }?;
    // SAFETY: as above.
    let role = unsafe { arg_str(role, "role") }?;
    // SAFETY: as above.
    let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
    on_iam!(handle, |iam| {
        let who = crate::caller::acting(iam, actor).await?;
        let caller = who.as_ref().into();
        match change {
            RoleChange::Grant => iam.grant_role(caller, account_id, role).await,
            RoleChange::Revoke => iam.revoke_role(caller, account_id, role).await,
            RoleChange::GrantElevatable => {
                iam.grant_elevatable_role(caller, account_id, role).await
            }
            RoleChange::RevokeElevatable => {
                iam.revoke_elevatable_role(caller, account_id, role).await
            }
        }
    })?;
    Ok(())
}

/// Grants a standing role to an account: its tokens carry the role from its next login or
/// refresh. Granting a role it holds succeeds. `actor_token` is the access token of whoever
/// asks (NULL: the embedding application itself); iam decides whether it may (admins).
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such account), `IAM_STATUS_INVALID_ARGUMENT` (a bad
/// role name), `IAM_STATUS_NOT_PERMITTED`, or the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_grant_role(
    iam: *const iam_t,
    account_id: *const c_char,
    role: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of `change_role`.
        unsafe { change_role(iam, account_id, role, actor_token, RoleChange::Grant) }
    }
}

/// Revokes a standing role: access tokens issued before (which may carry it) stop verifying at
/// once, as do tokens acting for the account; its next refresh yields tokens without it.
/// Revoking a role the account does not hold succeeds. `actor_token` as for `iam_grant_role`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_revoke_role(
    iam: *const iam_t,
    account_id: *const c_char,
    role: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of `change_role`.
        unsafe { change_role(iam, account_id, role, actor_token, RoleChange::Revoke) }
    }
}

/// Makes `role` elevatable for an account: the account holds it, but it is off until opened for
/// one session with `iam_elevate`. Granting it again succeeds. `actor_token` is the access
/// token of whoever asks (NULL: the embedding application itself); iam decides whether it may.
///
/// Fails with `IAM_STATUS_NOT_FOUND` for an unknown account, `IAM_STATUS_INVALID_ARGUMENT` for a
/// bad role name.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_grant_elevatable_role(
    iam: *const iam_t,
    account_id: *const c_char,
    role: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of `change_role`.
        unsafe { change_role(iam, account_id, role, actor_token, RoleChange::GrantElevatable) }
    }
}

/// Takes an elevatable role away from an account; access tokens carrying it (open elevations)
/// stop verifying at once. Revoking a role the account does not have succeeds.
/// `actor_token` is the access token of whoever asks (NULL: the embedding application itself);
/// iam decides whether it may.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_revoke_elevatable_role(
    iam: *const iam_t,
    account_id: *const c_char,
    role: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of `change_role`.
        unsafe { change_role(iam, account_id, role, actor_token, RoleChange::RevokeElevatable) }
    }
}
