//! Service (system) accounts: their one live token, and the database credentials kept for them.

use std::ffi::{c_char, CString};

use iam_core::{DbCredentials, SecretString};

use crate::args::{arg_opt_out, arg_out_ptr, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::{free_box, set_boxed_mut_ptr, try_ref_from_ptr, Castable, OwnershipBox};
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::{c_string, give_string, wipe};

/// Issues the token of a system account, revoking its previous one (there is exactly one live
/// token per service account). The caller proves who it is with `actor_access_token`: an admin,
/// or an account holding the role named like the service account. Returns the token through
/// `*out_token` (free it with `iam_string_free`, which wipes it) and, if `out_expires_at` is not
/// NULL, its expiry in seconds since the Unix epoch through `*out_expires_at` (0 on failure).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_token`
/// NULL or writable; `out_expires_at` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_issue_service_token(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    service_account_id: *const c_char,
    out_token: *mut *mut c_char,
    out_expires_at: *mut i64,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or writable.
        let out_expires_at = unsafe { arg_opt_out(out_expires_at) };
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_token, "out_token") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let actor_token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let service_id = unsafe { arg_str(service_account_id, "service_account_id") }?;
        let issued = on_iam!(handle, |iam| {
            let actor = iam.verify(actor_token).await?;
            Ok::<_, FfiError>(iam.issue_service_token(&actor, service_id).await?)
        })?;
        give_string(out, issued.token.expose(), "service token")?;
        if let Some(expires) = out_expires_at {
            *expires = issued.expires_at.as_secs();
        }
        Ok(())
    }
}

/// Revokes the live token of a system account. `actor_access_token` must belong to an admin.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_revoke_service_token(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    service_account_id: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let actor_token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let service_id = unsafe { arg_str(service_account_id, "service_account_id") }?;
        on_iam!(handle, |iam| {
            let actor = iam.verify(actor_token).await?;
            Ok::<_, FfiError>(iam.revoke_service_token(&actor, service_id).await?)
        })
    }
}

/// Stores (or replaces) the database credentials kept for a system account, encrypted at rest.
/// `actor_access_token` must belong to an admin.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_store_db_credentials(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    service_account_id: *const c_char,
    host: *const c_char,
    port: u16,
    database: *const c_char,
    user: *const c_char,
    password: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let actor_token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let service_id = unsafe { arg_str(service_account_id, "service_account_id") }?;
        let creds = DbCredentials {
            // SAFETY: as above.
            host: unsafe { arg_str(host, "host") }?.to_owned(),
            port,
            // SAFETY: as above.
            database: unsafe { arg_str(database, "database") }?.to_owned(),
            // SAFETY: as above.
            user: unsafe { arg_str(user, "user") }?.to_owned(),
            // SAFETY: as above.
            password: SecretString::new(unsafe { arg_str(password, "password") }?),
        };
        on_iam!(handle, |iam| {
            let actor = iam.verify(actor_token).await?;
            Ok::<_, FfiError>(iam.store_db_credentials(&actor, service_id, &creds).await?)
        })
    }
}

/// Database credentials fetched for a service account: opaque to C. Read them with the
/// `iam_db_credentials_*` getters; free them (the password is overwritten with zeros) with
/// `iam_db_credentials_free`.
#[allow(non_camel_case_types)]
pub struct iam_db_credentials_t {
    _private: [u8; 0],
}

impl Castable for iam_db_credentials_t {
    type Ownership = OwnershipBox;
    type RustType = FetchedCredentials;
}

/// What an [`iam_db_credentials_t`] points to: fetched credentials as C strings.
pub(crate) struct FetchedCredentials {
    host: CString,
    port: u16,
    database: CString,
    user: CString,
    password: CString,
}

impl Drop for FetchedCredentials {
    fn drop(&mut self) {
        wipe(&mut self.password);
    }
}

/// Fetches the database credentials kept for a system account. Allowed for the service account
/// itself and for holders of the role named like it, proven by `actor_access_token`; every fetch,
/// allowed or refused, is audited. On success `*out_credentials` holds them (free them with
/// `iam_db_credentials_free`).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_credentials` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_fetch_db_credentials(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    service_account_id: *const c_char,
    out_credentials: *mut *mut iam_db_credentials_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_credentials, "out_credentials") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let actor_token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let service_id = unsafe { arg_str(service_account_id, "service_account_id") }?;
        let creds = on_iam!(handle, |iam| {
            let actor = iam.verify(actor_token).await?;
            Ok::<_, FfiError>(iam.fetch_db_credentials(&actor, service_id).await?)
        })?;
        set_boxed_mut_ptr(
            out,
            FetchedCredentials {
                host: c_string(&creds.host, "host")?,
                port: creds.port,
                database: c_string(&creds.database, "database")?,
                user: c_string(&creds.user, "user")?,
                password: c_string(creds.password.expose(), "password")?,
            },
        );
        Ok(())
    }
}

/// The server host name, or NULL if `credentials` is NULL. Borrowed: valid until
/// `iam_db_credentials_free`.
///
/// # Safety
/// `credentials` must be NULL or a live `iam_db_credentials_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_db_credentials_host(
    credentials: *const iam_db_credentials_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live set of credentials.
        try_ref_from_ptr!(credentials).host.as_ptr()
    }
}

/// The server port (0 if `credentials` is NULL).
///
/// # Safety
/// `credentials` must be NULL or a live `iam_db_credentials_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_db_credentials_port(credentials: *const iam_db_credentials_t) -> u16 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live set of credentials.
        try_ref_from_ptr!(credentials).port
    }
}

/// The database name, or NULL if `credentials` is NULL. Borrowed: valid until
/// `iam_db_credentials_free`.
///
/// # Safety
/// `credentials` must be NULL or a live `iam_db_credentials_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_db_credentials_database(
    credentials: *const iam_db_credentials_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live set of credentials.
        try_ref_from_ptr!(credentials).database.as_ptr()
    }
}

/// The role (user) name, or NULL if `credentials` is NULL. Borrowed: valid until
/// `iam_db_credentials_free`.
///
/// # Safety
/// `credentials` must be NULL or a live `iam_db_credentials_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_db_credentials_user(
    credentials: *const iam_db_credentials_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live set of credentials.
        try_ref_from_ptr!(credentials).user.as_ptr()
    }
}

/// The password, or NULL if `credentials` is NULL. Borrowed: valid until
/// `iam_db_credentials_free`, which wipes it; do not keep copies longer than needed.
///
/// # Safety
/// `credentials` must be NULL or a live `iam_db_credentials_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_db_credentials_password(
    credentials: *const iam_db_credentials_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live set of credentials.
        try_ref_from_ptr!(credentials).password.as_ptr()
    }
}

/// Overwrites the password with zeros, frees the credentials and sets `*credentials` to NULL.
/// NULL, or a pointer to NULL, is ignored.
///
/// # Safety
/// `credentials` must be NULL or point to a pointer that is NULL or was handed out by iam and not
/// freed through another copy. Strings borrowed from it are invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn iam_db_credentials_free(credentials: *mut *mut iam_db_credentials_t) {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those `free_box` needs.
        unsafe { free_box(credentials) }
    }
}
