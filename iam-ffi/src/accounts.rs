//! Accounts: create, look up (by name, by id, page by page), set a password.

use std::ffi::c_char;

use iam_core::{Caller, NewAccount, SecretString};

use crate::args::{arg_opt_str, arg_out_ptr, arg_str, arg_str_list, page_limit};
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::{give_json, give_string};

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

/// Describes an account as JSON through `*out_account_json` (free it with `iam_string_free`):
/// `id`, `username`, `kind` (`"human"` or `"system"`), `roles`, `elevatable_roles`, `disabled`,
/// `has_password`, `totp` (`"off"`, `"pending"` or `"on"`), `deletion_due` (when a scheduled
/// deletion falls due, or null), `created_at` (times in milliseconds since the Unix epoch) and
/// `profile` (`name`, `email`, `email_verified`, `updated_at`). No secret is ever part of it.
/// `actor_token` is the access token of whoever asks (NULL: the embedding application itself):
/// the account itself or an admin.
///
/// Fails with `IAM_STATUS_NOT_FOUND`, `IAM_STATUS_NOT_PERMITTED`, or the statuses of
/// `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_account_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_get_account(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
    out_account_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_account_json, "out_account_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let account = on_iam!(handle, |iam| iam
            .account(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                account_id
            )
            .await)?;
        give_json(out, &account, "account")
    }
}

/// Lists accounts ordered by id, one page at a time: at most `limit` of them (0: 100; at most
/// 1000) whose ids come after `after_account_id` (NULL: from the first). For the next page pass
/// the last id of this one. On success `*out_accounts_json` holds a JSON array of accounts as
/// `iam_get_account` describes them (free it with `iam_string_free`). `actor_token` is the
/// access token of whoever asks (NULL: the embedding application itself): an admin.
///
/// Fails with `IAM_STATUS_NOT_PERMITTED`, or the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_accounts_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_list_accounts(
    iam: *const iam_t,
    after_account_id: *const c_char,
    limit: usize,
    actor_token: *const c_char,
    out_accounts_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_accounts_json, "out_accounts_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let after = unsafe { arg_opt_str(after_account_id, "after_account_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let accounts = on_iam!(handle, |iam| iam
            .list_accounts(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                after,
                page_limit(limit)
            )
            .await)?;
        give_json(out, &accounts, "accounts")
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
