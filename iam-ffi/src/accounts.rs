//! Accounts: create, look up, set a password.

use std::ffi::c_char;

use iam_core::{Caller, NewAccount, SecretString};

use crate::args::{arg_opt_str, arg_out_ptr, arg_str, arg_str_list};
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::give_string;

/// Creates an account and returns its id through `*out_account_id` (free it with
/// `iam_string_free`).
///
/// With a `password` the account is a human one; with `password` NULL it is a system (service)
/// account, which authenticates with service tokens only. `roles` points to `roles_len` role
/// names (it may be NULL when `roles_len` is 0). `actor_token` is the access token of whoever asks (NULL: the embedding application itself); iam decides whether it may.
///
/// Fails with `IAM_STATUS_USERNAME_TAKEN`, or `IAM_STATUS_INVALID_ARGUMENT` for a bad username,
/// password or role.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `roles` NULL or
/// `roles_len` such strings; `out_account_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_create_account(
    iam: *const iam_t,
    username: *const c_char,
    password: *const c_char,
    roles: *const *const c_char,
    roles_len: usize,
    actor_token: *const c_char,
    out_account_id: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_account_id, "out_account_id") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let username = unsafe { arg_str(username, "username") }?;
        // SAFETY: as above.
        let password = unsafe { arg_opt_str(password, "password") }?;
        // SAFETY: as above.
        let roles = unsafe { arg_str_list(roles, roles_len, "roles") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let new = match password {
            Some(p) => NewAccount::human(username, SecretString::new(p)),
            None => NewAccount::system(username),
        }
        .with_roles(roles);
        let account = on_iam!(handle, |iam| {
            let who = crate::caller::acting(iam, actor).await?;
            iam.create_account(new, who.as_ref().into()).await
        })?;
        give_string(out, &account.id, "account id")
    }
}

/// Looks up the id of the account named `username` and returns it through `*out_account_id`
/// (free it with `iam_string_free`). Fails with `IAM_STATUS_NOT_FOUND` if there is none.
///
/// # Safety
/// `iam` must be NULL or a live handle; `username` NULL or NUL-terminated; `out_account_id` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_find_account(
    iam: *const iam_t,
    username: *const c_char,
    out_account_id: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_account_id, "out_account_id") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let username = unsafe { arg_str(username, "username") }?;
        let found = on_iam!(handle, |iam| iam
            .account_by_username(Caller::System, username)
            .await)?;
        let account = found.ok_or(iam_core::Error::NotFound(iam_core::Missing::Account))?;
        give_string(out, &account.id, "account id")
    }
}

/// Sets (or replaces) the password of a human account. `actor_token` is the access token of
/// whoever asks (NULL: the embedding application itself); iam decides whether it may.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_set_password(
    iam: *const iam_t,
    account_id: *const c_char,
    password: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let password = SecretString::new(unsafe { arg_str(password, "password") }?);
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        on_iam!(handle, |iam| iam
            .set_password(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                account_id,
                &password
            )
            .await)?;
        Ok::<(), FfiError>(())
    }
}
