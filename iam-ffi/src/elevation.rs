//! Elevation ("sudo mode"): opening an elevatable role (granted in `roles`) for a session with
//! a fresh proof, the pending requests and their approval, and [`iam_elevation_t`], what an
//! elevation attempt achieved.

use std::ffi::{c_char, CString};
use std::time::Duration;

use iam_core::{ElevationOutcome, SecretString, StepUpProof};

use crate::args::{arg_opt_out, arg_opt_str, arg_out_ptr, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::{free_box, set_boxed_mut_ptr, try_ref_from_ptr, Castable, OwnershipBox};
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::{c_string, give_json, opt_ptr, wipe};

/// What `iam_elevate` achieved: opaque to C. Either the role is open now (`active`: an access
/// token carrying it and when it closes) or it waits for another account's approval (`pending`:
/// a request id and when the request lapses). Read it with the `iam_elevation_*` getters; free
/// it (the token is overwritten with zeros) with `iam_elevation_free`.
#[allow(non_camel_case_types)]
pub struct iam_elevation_t {
    _private: [u8; 0],
}

impl Castable for iam_elevation_t {
    type Ownership = OwnershipBox;
    type RustType = ElevationAttempt;
}

/// What an [`iam_elevation_t`] points to: the outcome of one elevation attempt as C values.
pub(crate) struct ElevationAttempt {
    role: CString,
    /// Active: the new access token carrying the role.
    access_token: Option<CString>,
    /// Active: when the elevation was opened and when it closes (0 when pending).
    since: i64,
    until: i64,
    /// Pending: the request id and when it lapses (0 when active).
    request_id: Option<CString>,
    request_expires_at: i64,
}

impl ElevationAttempt {
    /// The C copy of what an elevation attempt achieved.
    fn new(role: &str, outcome: &ElevationOutcome) -> Result<Self, FfiError> {
        let role = c_string(role, "role")?;
        Ok(match outcome {
            ElevationOutcome::Active {
                elevation,
                access_token,
            } => ElevationAttempt {
                role,
                access_token: Some(c_string(access_token.expose(), "access token")?),
                since: elevation.since.as_secs(),
                until: elevation.until.as_secs(),
                request_id: None,
                request_expires_at: 0,
            },
            ElevationOutcome::Pending {
                request_id,
                expires_at,
            } => ElevationAttempt {
                role,
                access_token: None,
                since: 0,
                until: 0,
                request_id: Some(c_string(request_id, "request id")?),
                request_expires_at: expires_at.as_secs(),
            },
        })
    }
}

impl Drop for ElevationAttempt {
    fn drop(&mut self) {
        if let Some(token) = self.access_token.as_mut() {
            wipe(token);
        }
    }
}

/// Opens the elevatable `role` for the session of `access_token` (a login session's access
/// token) for `duration_secs` seconds (0: the role's maximum). `password` and `totp_code` (each
/// NULL when not given) are the fresh proof the role's policy asks for (by default the
/// password). On success `*out_elevation` says what happened (free it with
/// `iam_elevation_free`): either the role is open and the elevation holds a new access token
/// carrying it, or the role needs another account's approval and the elevation holds the
/// pending request's id (see `iam_approve_elevation`).
///
/// Fails with `IAM_STATUS_ELEVATION_NOT_ALLOWED` (the role is not elevatable for this account),
/// `IAM_STATUS_STEP_UP_REQUIRED` (a proof the policy needs is missing),
/// `IAM_STATUS_BAD_CREDENTIALS` (a wrong proof; failures count towards a back-off,
/// `IAM_STATUS_THROTTLED`), `IAM_STATUS_WRONG_TOKEN_KIND` (not a login session's token),
/// `IAM_STATUS_INVALID_ARGUMENT` (a duration beyond the role's maximum), or the statuses of
/// `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_elevation` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_elevate(
    iam: *const iam_t,
    access_token: *const c_char,
    role: *const c_char,
    duration_secs: u64,
    password: *const c_char,
    totp_code: *const c_char,
    out_elevation: *mut *mut iam_elevation_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_elevation, "out_elevation") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(access_token, "access_token") }?;
        // SAFETY: as above.
        let role = unsafe { arg_str(role, "role") }?;
        // SAFETY: as above.
        let password = unsafe { arg_opt_str(password, "password") }?;
        // SAFETY: as above.
        let totp_code = unsafe { arg_opt_str(totp_code, "totp_code") }?;
        let proof = StepUpProof {
            password: password.map(SecretString::new),
            totp_code: totp_code.map(str::to_owned),
            passkey: None,
        };
        let duration = (duration_secs > 0).then(|| Duration::from_secs(duration_secs));
        let outcome = on_iam!(handle, |iam| {
            let principal = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.elevate(&principal, role, duration, &proof).await?)
        })?;
        set_boxed_mut_ptr(out, ElevationAttempt::new(role, &outcome)?);
        Ok(())
    }
}

/// Ends an open elevation of `role` early for the session of `access_token`. Every access token
/// the session holds (elevated or not) stops verifying at once; refresh for a new one without
/// the role. Ending a role that is not open succeeds.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_end_elevation(
    iam: *const iam_t,
    access_token: *const c_char,
    role: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(access_token, "access_token") }?;
        // SAFETY: as above.
        let role = unsafe { arg_str(role, "role") }?;
        on_iam!(handle, |iam| {
            let principal = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.end_elevation(&principal, role).await?)
        })
    }
}

/// Approves a pending elevation request: the role opens for the requester's session, whose next
/// `iam_refresh` yields an access token carrying it. `approver_access_token` must carry the
/// role's approver role and belong to another account than the requester. If `out_until` is not
/// NULL it receives when the elevation closes, in seconds since the Unix epoch.
///
/// Fails with `IAM_STATUS_NOT_PERMITTED` (the approver lacks the approver role),
/// `IAM_STATUS_SELF_APPROVAL`, `IAM_STATUS_ELEVATION_REQUEST_CLOSED` (unknown, answered or
/// expired request, or the requester's session ended) or `IAM_STATUS_INVALID_STATE` (the role no
/// longer needs approval).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_until`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_approve_elevation(
    iam: *const iam_t,
    approver_access_token: *const c_char,
    request_id: *const c_char,
    out_until: *mut i64,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or writable.
        let out_until = unsafe { arg_opt_out(out_until) };
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(approver_access_token, "approver_access_token") }?;
        // SAFETY: as above.
        let request_id = unsafe { arg_str(request_id, "request_id") }?;
        let elevation = on_iam!(handle, |iam| {
            let approver = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.approve_elevation(&approver, request_id).await?)
        })?;
        if let Some(until) = out_until {
            *until = elevation.until.as_secs();
        }
        Ok(())
    }
}

/// Lists the pending elevation requests that the holder of `approver_access_token` (a login
/// session of a person) may answer: those for roles whose approver role the token carries,
/// made by other accounts, not yet lapsed. On success `*out_requests_json` holds a JSON array of
/// requests (`id`, `account_id`, `session_id`, `role`, `duration_ms`, and `created_at` and
/// `expires_at` in milliseconds since the Unix epoch); free it with `iam_string_free`. Answer
/// one with `iam_approve_elevation` or `iam_deny_elevation`.
///
/// Fails with `IAM_STATUS_WRONG_TOKEN_KIND` (not a person's login session), or the statuses of
/// `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; `approver_access_token` NULL or NUL-terminated;
/// `out_requests_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_list_elevation_requests(
    iam: *const iam_t,
    approver_access_token: *const c_char,
    out_requests_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_requests_json, "out_requests_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(approver_access_token, "approver_access_token") }?;
        let requests = on_iam!(handle, |iam| {
            let approver = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.pending_elevations(&approver).await?)
        })?;
        give_json(out, &requests, "elevation requests")
    }
}

/// Denies a pending elevation request (the same rights as approving it, and the same failures).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_deny_elevation(
    iam: *const iam_t,
    approver_access_token: *const c_char,
    request_id: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(approver_access_token, "approver_access_token") }?;
        // SAFETY: as above.
        let request_id = unsafe { arg_str(request_id, "request_id") }?;
        on_iam!(handle, |iam| {
            let approver = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.deny_elevation(&approver, request_id).await?)
        })
    }
}

/// Whether the elevation waits for approval (false if `elevation` is NULL).
///
/// # Safety
/// `elevation` must be NULL or a live `iam_elevation_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_elevation_is_pending(elevation: *const iam_elevation_t) -> bool {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live elevation.
        try_ref_from_ptr!(elevation).request_id.is_some()
    }
}

/// The role, or NULL if `elevation` is NULL. Borrowed: valid until `iam_elevation_free`.
///
/// # Safety
/// `elevation` must be NULL or a live `iam_elevation_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_elevation_role(elevation: *const iam_elevation_t) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live elevation.
        try_ref_from_ptr!(elevation).role.as_ptr()
    }
}

/// The new access token carrying the role (a PASETO v4.public bearer token; it expires no later
/// than the elevation), or NULL when pending or if `elevation` is NULL. Borrowed: valid until
/// `iam_elevation_free`, which wipes it.
///
/// # Safety
/// `elevation` must be NULL or a live `iam_elevation_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_elevation_access_token(
    elevation: *const iam_elevation_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live elevation.
        let e = try_ref_from_ptr!(elevation);
        opt_ptr(e.access_token.as_ref())
    }
}

/// When the role was opened, in seconds since the Unix epoch (0 when pending or if `elevation`
/// is NULL).
///
/// # Safety
/// `elevation` must be NULL or a live `iam_elevation_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_elevation_since(elevation: *const iam_elevation_t) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live elevation.
        try_ref_from_ptr!(elevation).since
    }
}

/// When the role closes, in seconds since the Unix epoch (0 when pending or if `elevation` is
/// NULL).
///
/// # Safety
/// `elevation` must be NULL or a live `iam_elevation_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_elevation_until(elevation: *const iam_elevation_t) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live elevation.
        try_ref_from_ptr!(elevation).until
    }
}

/// The id of the pending request (for the approver), or NULL when active or if `elevation` is
/// NULL. Borrowed: valid until `iam_elevation_free`.
///
/// # Safety
/// `elevation` must be NULL or a live `iam_elevation_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_elevation_request_id(
    elevation: *const iam_elevation_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live elevation.
        let e = try_ref_from_ptr!(elevation);
        opt_ptr(e.request_id.as_ref())
    }
}

/// When the pending request lapses unanswered, in seconds since the Unix epoch (0 when active
/// or if `elevation` is NULL).
///
/// # Safety
/// `elevation` must be NULL or a live `iam_elevation_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_elevation_request_expires_at(
    elevation: *const iam_elevation_t,
) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live elevation.
        try_ref_from_ptr!(elevation).request_expires_at
    }
}

/// Overwrites the access token with zeros, frees the elevation and sets `*elevation` to NULL.
/// NULL, or a pointer to NULL, is ignored.
///
/// # Safety
/// `elevation` must be NULL or point to a pointer that is NULL or was handed out by iam and not
/// freed through another copy. Strings borrowed from it are invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn iam_elevation_free(elevation: *mut *mut iam_elevation_t) {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those `free_box` needs.
        unsafe { free_box(elevation) }
    }
}
