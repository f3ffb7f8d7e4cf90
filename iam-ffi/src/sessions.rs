//! Sessions: login, refresh, verify (access tokens and ID tokens), revoke.

use std::ffi::c_char;

use iam_core::{LoginRequest, SecretString};

use crate::args::{arg_opt_out, arg_opt_str, arg_out_ptr, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::{set_boxed_mut_ptr, try_ref_from_ptr};
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::principal::{iam_principal_t, VerifiedPrincipal};
use crate::status::iam_status;
use crate::strings::{give_json, give_string};
use crate::tokens::{iam_tokens_t, Tokens};

/// Logs in with username and password (and `totp_code`, six digits, once TOTP is on; NULL
/// otherwise). On success `*out_tokens` holds the new session's token pair (free it with
/// `iam_tokens_free`).
///
/// Fails with `IAM_STATUS_BAD_CREDENTIALS` (never saying which of username, password or code was
/// wrong), `IAM_STATUS_TOTP_REQUIRED`, `IAM_STATUS_THROTTLED` or `IAM_STATUS_ACCOUNT_DISABLED`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_tokens`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_login(
    iam: *const iam_t,
    username: *const c_char,
    password: *const c_char,
    totp_code: *const c_char,
    out_tokens: *mut *mut iam_tokens_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_tokens, "out_tokens") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let username = unsafe { arg_str(username, "username") }?;
        // SAFETY: as above.
        let password = SecretString::new(unsafe { arg_str(password, "password") }?);
        // SAFETY: as above.
        let code = unsafe { arg_opt_str(totp_code, "totp_code") }?;
        let mut request = LoginRequest::password(username, password);
        if let Some(code) = code {
            request = request.with_totp(code);
        }
        let success = on_iam!(handle, |iam| iam.login(&request).await)?;
        set_boxed_mut_ptr(out, Tokens::new(&success.tokens)?);
        Ok(())
    }
}

/// Trades a refresh token for a new pair; the old refresh token dies. Presenting a used refresh
/// token again revokes the whole session (`IAM_STATUS_REFRESH_TOKEN_REUSED`). On success
/// `*out_tokens` holds the new pair (free it with `iam_tokens_free`).
///
/// # Safety
/// `iam` must be NULL or a live handle; `refresh_token` NULL or NUL-terminated; `out_tokens`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_refresh(
    iam: *const iam_t,
    refresh_token: *const c_char,
    out_tokens: *mut *mut iam_tokens_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_tokens, "out_tokens") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let refresh = unsafe { arg_str(refresh_token, "refresh_token") }?;
        let pair = on_iam!(handle, |iam| iam.refresh(refresh).await)?;
        set_boxed_mut_ptr(out, Tokens::new(&pair)?);
        Ok(())
    }
}

/// Verifies an access token (signature, expiry, issuer, audience, revocation): a PASETO
/// v4.public token, or an RFC 9068 JWT access token (header `typ: at+jwt`) of a client
/// registered for them, with the same checks. The audience must be iam's own (`audience` of the
/// configuration). On success `*out_principal` says whom it speaks for (free it with
/// `iam_principal_free`).
///
/// Fails with `IAM_STATUS_TOKEN_INVALID`, `IAM_STATUS_TOKEN_EXPIRED` or `IAM_STATUS_REVOKED`.
///
/// # Safety
/// `iam` must be NULL or a live handle; `access_token` NULL or NUL-terminated; `out_principal`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_verify(
    iam: *const iam_t,
    access_token: *const c_char,
    out_principal: *mut *mut iam_principal_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of `verify_as`.
        unsafe { verify_as(iam, access_token, None, out_principal) }
    }
}

/// Verifies an access token as `iam_verify` does, for a resource server whose tokens are
/// minted for `audience` (a resource indicator, RFC 8707, that OAuth clients ask tokens for)
/// instead of iam's own audience: a token whose `aud` does not name it is
/// `IAM_STATUS_TOKEN_INVALID`. On success `*out_principal` says whom it speaks for (free it
/// with `iam_principal_free`).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_principal` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_verify_for(
    iam: *const iam_t,
    access_token: *const c_char,
    audience: *const c_char,
    out_principal: *mut *mut iam_principal_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of `verify_as`.
        unsafe { verify_as(iam, access_token, Some(audience), out_principal) }
    }
}

/// The body of `iam_verify` (`audience` `None`: iam's own) and `iam_verify_for`.
///
/// # Safety
/// As `iam_verify_for`.
unsafe fn verify_as(
    iam: *const iam_t,
    access_token: *const c_char,
    audience: Option<*const c_char>,
    out_principal: *mut *mut iam_principal_t,
) -> Result<(), FfiError> {
    // SAFETY: the caller's promises are those of `iam_verify_for`.
    let out = unsafe { arg_out_ptr(out_principal, "out_principal") }?;
    // SAFETY: as above.
    let handle = try_ref_from_ptr!(iam);
    // SAFETY: as above.
    let token = unsafe { arg_str(access_token, "access_token") }?;
    let audience = match audience {
        // SAFETY: as above.
        Some(ptr) => Some(unsafe { arg_str(ptr, "audience") }?),
        None => None,
    };
    let principal = on_iam!(handle, |iam| match audience {
        None => iam.verify(token).await,
        Some(audience) => iam.verify_for(token, audience).await,
    })?;
    set_boxed_mut_ptr(out, VerifiedPrincipal::new(&principal)?);
    Ok(())
}

/// Verifies an OpenID Connect ID token this iam issued to `client_id`: the signature (one of
/// the JOSE keys of its JWKS), header `typ` `JWT` (an access token is refused), `iss` the
/// configured issuer, `aud` naming `client_id`, and `exp` not passed. On success
/// `*out_claims_json` holds its claims as a JSON object (owned: free it with
/// `iam_string_free`); on failure it is NULL.
///
/// Fails with `IAM_STATUS_TOKEN_INVALID` (malformed, not signed by this iam, another issuer,
/// another client, not an ID token) or `IAM_STATUS_TOKEN_EXPIRED`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_claims_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_verify_id_token(
    iam: *const iam_t,
    id_token: *const c_char,
    client_id: *const c_char,
    out_claims_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_claims_json, "out_claims_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(id_token, "id_token") }?;
        // SAFETY: as above.
        let client_id = unsafe { arg_str(client_id, "client_id") }?;
        let claims = on_iam!(handle, |iam| iam.verify_id_token(token, client_id).await)?;
        give_string(out, &serde_json::Value::Object(claims).to_string(), "ID token claims")?;
        Ok::<(), FfiError>(())
    }
}

/// Revokes a session: its refresh token dies and its access tokens stop verifying at once.
/// Revoking a revoked session succeeds. `actor_token` is the access token of whoever asks (NULL: the embedding application itself); iam decides whether it may.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_revoke_session(
    iam: *const iam_t,
    session_id: *const c_char,
    actor_token: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let session_id = unsafe { arg_str(session_id, "session_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        on_iam!(handle, |iam| iam
            .revoke_session(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                session_id
            )
            .await)?;
        Ok::<(), FfiError>(())
    }
}

/// Lists an account's sessions, newest first (revoked and expired ones too, until the sweeper
/// prunes them). `actor_token` is the access token of whoever asks (NULL: the embedding
/// application itself): the account itself or an admin. On success `*out_sessions_json` holds
/// a JSON array of sessions (`id`, `account_id`, `created_at`, `expires_at`, `revoked_at`,
/// `last_refreshed_at`, `auth_time` in milliseconds since the Unix epoch, `amr`, and the open
/// `elevations`); free it with `iam_string_free`.
///
/// Fails with `IAM_STATUS_NOT_PERMITTED`, or the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_sessions_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_list_sessions(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
    out_sessions_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_sessions_json, "out_sessions_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let sessions = on_iam!(handle, |iam| iam
            .list_sessions(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                account_id
            )
            .await)?;
        give_json(out, &sessions, "sessions")
    }
}

/// Signs an account out everywhere: revokes every session (their access tokens stop verifying
/// at once) and withdraws what it delegated (OAuth grants, client tokens acting for it). If
/// `out_revoked` is not NULL it receives how many live sessions were revoked. `actor_token` is
/// the access token of whoever asks (NULL: the embedding application itself): a login session
/// of the account itself, or an admin.
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such account), `IAM_STATUS_NOT_PERMITTED`, or the
/// statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_revoked`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_revoke_all_sessions(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
    out_revoked: *mut u64,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or writable.
        let out_revoked = unsafe { arg_opt_out(out_revoked) };
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let revoked = on_iam!(handle, |iam| iam
            .revoke_all_sessions(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                account_id
            )
            .await)?;
        if let Some(out) = out_revoked {
            *out = u64::try_from(revoked).unwrap_or(u64::MAX);
        }
        Ok::<(), FfiError>(())
    }
}
