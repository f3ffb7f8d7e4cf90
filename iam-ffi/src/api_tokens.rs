//! Personal API tokens: opaque secrets (`iam_pat_...`) with a label, scopes and an expiry,
//! created by a logged-in account, shown once, listed by their metadata.

use std::ffi::c_char;

use iam_core::Timestamp;

use crate::args::{arg_opt_str, arg_out_ptr, arg_str, arg_str_list};
use crate::boundary::ffi_panic_boundary;
use crate::castable::{set_boxed_mut_ptr, try_ref_from_ptr};
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::principal::{iam_principal_t, VerifiedPrincipal};
use crate::status::iam_status;
use crate::strings::{free_string, give_json, give_string};

/// Creates a personal API token for the holder of `access_token` (a login session's access
/// token). `label` names it for its owner (1-128 characters); `scopes` points to `scopes_len`
/// role names the token may use, each one the owner holds (it may be NULL when `scopes_len` is
/// 0); `expires_at_unix_secs` is its expiry in seconds since the Unix epoch (in the future, and
/// no further than the configured maximum, `api_token_max_ttl_secs`).
///
/// On success `*out_secret` holds the secret (`iam_pat_...`; it is shown only this once) and
/// `*out_token_id` its public id (`pat_...`, for `iam_revoke_api_token`); free both with
/// `iam_string_free`, which wipes them.
///
/// Fails with `IAM_STATUS_NOT_PERMITTED` (a scope the owner does not hold),
/// `IAM_STATUS_WRONG_TOKEN_KIND` (not a login session's token), `IAM_STATUS_INVALID_ARGUMENT`
/// (a bad label or scope, an expiry in the past or too far ahead), or the statuses of
/// `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `scopes` NULL or
/// `scopes_len` such strings; the out pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_create_api_token(
    iam: *const iam_t,
    access_token: *const c_char,
    label: *const c_char,
    scopes: *const *const c_char,
    scopes_len: usize,
    expires_at_unix_secs: i64,
    out_secret: *mut *mut c_char,
    out_token_id: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out_secret = unsafe { arg_out_ptr(out_secret, "out_secret") }?;
        // SAFETY: as above.
        let out_id = unsafe { arg_out_ptr(out_token_id, "out_token_id") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(access_token, "access_token") }?;
        // SAFETY: as above.
        let label = unsafe { arg_str(label, "label") }?;
        // SAFETY: as above.
        let scopes: Vec<String> = unsafe { arg_str_list(scopes, scopes_len, "scopes") }?
            .into_iter()
            .map(str::to_owned)
            .collect();
        let expires_at = Timestamp::from_secs(expires_at_unix_secs);
        let created = on_iam!(handle, |iam| {
            let owner = iam.verify(token).await?;
            Ok::<_, FfiError>(
                iam.create_api_token(&owner, label, &scopes, expires_at)
                    .await?,
            )
        })?;
        give_string(out_secret, created.secret.expose(), "API token")?;
        if let Err(e) = give_string(out_id, &created.info.id, "API token id") {
            // SAFETY: `out_secret` was just filled by `give_string` and is handed out nowhere else.
            unsafe { free_string(out_secret) };
            return Err(e);
        }
        Ok(())
    }
}

/// Revokes a personal API token by its id; it stops verifying at once. `access_token` must
/// belong to the token's owner or to an admin. Revoking a revoked token succeeds.
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such token), `IAM_STATUS_NOT_PERMITTED`, or the statuses
/// of `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_revoke_api_token(
    iam: *const iam_t,
    access_token: *const c_char,
    token_id: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(access_token, "access_token") }?;
        // SAFETY: as above.
        let token_id = unsafe { arg_str(token_id, "token_id") }?;
        on_iam!(handle, |iam| {
            let actor = iam.verify(token).await?;
            Ok::<_, FfiError>(
                iam.revoke_api_token(iam_core::Caller::Principal(&actor), token_id)
                    .await?,
            )
        })
    }
}

/// Verifies a personal API token's secret. On success `*out_principal` says whom it speaks for
/// (free it with `iam_principal_free`): its roles are the token's scopes the owner still holds,
/// its session id and token id are the token's id, its authentication method is `"api_token"`.
///
/// Fails with `IAM_STATUS_TOKEN_INVALID` (unknown or malformed), `IAM_STATUS_REVOKED`,
/// `IAM_STATUS_TOKEN_EXPIRED` or `IAM_STATUS_ACCOUNT_DISABLED`.
///
/// # Safety
/// `iam` must be NULL or a live handle; `secret` NULL or NUL-terminated; `out_principal` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn iam_verify_api_token(
    iam: *const iam_t,
    secret: *const c_char,
    out_principal: *mut *mut iam_principal_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_principal, "out_principal") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let secret = unsafe { arg_str(secret, "secret") }?;
        let principal = on_iam!(handle, |iam| iam.verify_api_token(secret).await)?;
        set_boxed_mut_ptr(out, VerifiedPrincipal::new(&principal)?);
        Ok(())
    }
}

/// Lists an account's personal API tokens, revoked and expired ones included (until the
/// sweeper prunes them), never their secrets. On success `*out_tokens_json` holds a JSON array
/// of tokens (`id`, `account_id`, `label`, `scopes`, and `created_at`, `expires_at` and
/// `revoked_at` (null while live) in milliseconds since the Unix epoch); free it with
/// `iam_string_free`. `actor_token` is the access token of whoever asks (NULL: the embedding
/// application itself): the account itself or an admin.
///
/// Fails with `IAM_STATUS_NOT_PERMITTED`, or the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_tokens_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_list_api_tokens(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
    out_tokens_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_tokens_json, "out_tokens_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let tokens = on_iam!(handle, |iam| iam
            .list_api_tokens(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                account_id
            )
            .await)?;
        give_json(out, &tokens, "API tokens")
    }
}
