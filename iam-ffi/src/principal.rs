//! [`iam_principal_t`]: who a verified access token speaks for.

use std::ffi::{c_char, CString};
use std::ptr;

use iam_core::{AccountKind, Principal};

use crate::boundary::{arg_str, c_string, guard_value, take_and_drop};
use crate::error::FfiError;

/// Whether an account is a person or a machine.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum iam_account_kind {
    /// Unknown (returned for a NULL principal).
    Unknown = 0,
    /// A person: logs in with a password (and TOTP once enrolled).
    Human = 1,
    /// A machine: authenticates with tokens only.
    System = 2,
}

/// The verified holder of an access token: opaque to C. Read it with the `iam_principal_*`
/// getters; free it with `iam_principal_free`.
#[allow(non_camel_case_types)]
pub struct iam_principal_t {
    account_id: CString,
    session_id: CString,
    token_id: CString,
    kind: iam_account_kind,
    roles: Vec<CString>,
    amr: Vec<CString>,
    issued_at: i64,
    expires_at: i64,
    auth_time: i64,
}

fn c_strings(items: &[String], what: &'static str) -> Result<Vec<CString>, FfiError> {
    items.iter().map(|s| c_string(s, what)).collect()
}

impl iam_principal_t {
    pub(crate) fn new(p: &Principal) -> Result<Self, FfiError> {
        Ok(iam_principal_t {
            account_id: c_string(&p.account_id, "account id")?,
            session_id: c_string(&p.session_id, "session id")?,
            token_id: c_string(&p.token_id, "token id")?,
            kind: match p.kind {
                AccountKind::Human => iam_account_kind::Human,
                AccountKind::System => iam_account_kind::System,
            },
            roles: c_strings(&p.roles, "role")?,
            amr: c_strings(&p.amr, "authentication method")?,
            issued_at: p.issued_at.as_secs(),
            expires_at: p.expires_at.as_secs(),
            auth_time: p.auth_time.as_secs(),
        })
    }
}

/// Reads a field of a principal, or `fallback` if the pointer is NULL (or on a panic).
fn read<T: Copy>(
    principal: *const iam_principal_t,
    fallback: T,
    field: impl FnOnce(&iam_principal_t) -> T,
) -> T {
    guard_value(fallback, || {
        // SAFETY: every getter's caller promises NULL or a live principal.
        unsafe { principal.as_ref() }.map_or(fallback, field)
    })
}

/// The item at `index`, or NULL when out of range.
fn item(list: &[CString], index: usize) -> *const c_char {
    list.get(index).map_or(ptr::null(), |s| s.as_ptr())
}

/// The account id (`sub`), or NULL if `principal` is NULL. Borrowed: valid until
/// `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_account_id(
    principal: *const iam_principal_t,
) -> *const c_char {
    read(principal, ptr::null(), |p| p.account_id.as_ptr())
}

/// The session id (`sid`; for a service token, its grant id), or NULL if `principal` is NULL.
/// Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_session_id(
    principal: *const iam_principal_t,
) -> *const c_char {
    read(principal, ptr::null(), |p| p.session_id.as_ptr())
}

/// The token id (`jti`), or NULL if `principal` is NULL. Borrowed: valid until
/// `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_token_id(
    principal: *const iam_principal_t,
) -> *const c_char {
    read(principal, ptr::null(), |p| p.token_id.as_ptr())
}

/// Human or system (`IAM_ACCOUNT_KIND_UNKNOWN` if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_kind(principal: *const iam_principal_t) -> iam_account_kind {
    read(principal, iam_account_kind::Unknown, |p| p.kind)
}

/// How many roles the token carries (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_roles_len(principal: *const iam_principal_t) -> usize {
    read(principal, 0, |p| p.roles.len())
}

/// The role at `index` (0-based), or NULL if out of range or `principal` is NULL. Borrowed:
/// valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_role(
    principal: *const iam_principal_t,
    index: usize,
) -> *const c_char {
    read(principal, ptr::null(), |p| item(&p.roles, index))
}

/// Whether the token carries `role` (false if either pointer is NULL or `role` is not UTF-8).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`; `role` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_has_role(
    principal: *const iam_principal_t,
    role: *const c_char,
) -> bool {
    read(principal, false, |p| {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        unsafe { arg_str(role, "role") }
            .is_ok_and(|r| p.roles.iter().any(|have| have.as_bytes() == r.as_bytes()))
    })
}

/// How many authentication methods (`amr`) the token names (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_amr_len(principal: *const iam_principal_t) -> usize {
    read(principal, 0, |p| p.amr.len())
}

/// The authentication method at `index` (`"pwd"`, `"otp"`, `"service_token"`, ...), or NULL if
/// out of range or `principal` is NULL. Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_amr(
    principal: *const iam_principal_t,
    index: usize,
) -> *const c_char {
    read(principal, ptr::null(), |p| item(&p.amr, index))
}

/// When the token was issued, in seconds since the Unix epoch (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_issued_at(principal: *const iam_principal_t) -> i64 {
    read(principal, 0, |p| p.issued_at)
}

/// When the token expires, in seconds since the Unix epoch (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_expires_at(principal: *const iam_principal_t) -> i64 {
    read(principal, 0, |p| p.expires_at)
}

/// When the holder last proved a credential, in seconds since the Unix epoch (0 if `principal`
/// is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_auth_time(principal: *const iam_principal_t) -> i64 {
    read(principal, 0, |p| p.auth_time)
}

/// Frees a principal and sets `*principal` to NULL. NULL, or a pointer to NULL, is ignored.
///
/// # Safety
/// `principal` must be NULL or point to a pointer that is NULL or was handed out by iam and not
/// freed through another copy. Strings borrowed from it are invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_free(principal: *mut *mut iam_principal_t) {
    // SAFETY: the caller's promises are those `take_and_drop` needs.
    guard_value((), || unsafe { take_and_drop(principal) });
}
