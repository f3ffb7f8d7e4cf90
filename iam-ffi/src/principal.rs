//! [`iam_principal_t`]: who a verified access token speaks for.

use std::ffi::{c_char, CString};
use std::ptr;

use iam_core::{AccountKind, Principal};

use crate::args::arg_str;
use crate::boundary::{ffi_panic_boundary, Defaultable};
use crate::castable::{free_box, try_ref_from_ptr, Castable, OwnershipBox};
use crate::error::FfiError;
use crate::strings::c_string;

/// Whether an account is a person or a machine.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum iam_account_kind {
    /// Unknown (returned for a NULL principal).
    #[default]
    Unknown = 0,
    /// A person: logs in with a password (and TOTP once enrolled).
    Human = 1,
    /// A machine: authenticates with tokens only.
    System = 2,
}

/// What C receives for a NULL principal (or after a panic): `Unknown`.
impl Defaultable for iam_account_kind {}

/// The verified holder of an access token: opaque to C. Read it with the `iam_principal_*`
/// getters; free it with `iam_principal_free`.
#[allow(non_camel_case_types)]
pub struct iam_principal_t {
    _private: [u8; 0],
}

impl Castable for iam_principal_t {
    type Ownership = OwnershipBox;
    type RustType = VerifiedPrincipal;
}

/// What an [`iam_principal_t`] points to: a verified principal as C values.
pub(crate) struct VerifiedPrincipal {
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

impl VerifiedPrincipal {
    /// The C copy of a verified principal.
    pub(crate) fn new(p: &Principal) -> Result<Self, FfiError> {
        Ok(VerifiedPrincipal {
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
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).account_id.as_ptr()
    }
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
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).session_id.as_ptr()
    }
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
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).token_id.as_ptr()
    }
}

/// Human or system (`IAM_ACCOUNT_KIND_UNKNOWN` if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_kind(principal: *const iam_principal_t) -> iam_account_kind {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).kind
    }
}

/// How many roles the token carries (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_roles_len(principal: *const iam_principal_t) -> usize {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).roles.len()
    }
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
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        let p = try_ref_from_ptr!(principal);
        item(&p.roles, index)
    }
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
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        let p = try_ref_from_ptr!(principal);
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        unsafe { arg_str(role, "role") }
            .is_ok_and(|r| p.roles.iter().any(|have| have.as_bytes() == r.as_bytes()))
    }
}

/// How many authentication methods (`amr`) the token names (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_amr_len(principal: *const iam_principal_t) -> usize {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).amr.len()
    }
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
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        let p = try_ref_from_ptr!(principal);
        item(&p.amr, index)
    }
}

/// When the token was issued, in seconds since the Unix epoch (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_issued_at(principal: *const iam_principal_t) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).issued_at
    }
}

/// When the token expires, in seconds since the Unix epoch (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_expires_at(principal: *const iam_principal_t) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).expires_at
    }
}

/// When the holder last proved a credential, in seconds since the Unix epoch (0 if `principal`
/// is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_auth_time(principal: *const iam_principal_t) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).auth_time
    }
}

/// Frees a principal and sets `*principal` to NULL. NULL, or a pointer to NULL, is ignored.
///
/// # Safety
/// `principal` must be NULL or point to a pointer that is NULL or was handed out by iam and not
/// freed through another copy. Strings borrowed from it are invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_free(principal: *mut *mut iam_principal_t) {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those `free_box` needs.
        unsafe { free_box(principal) }
    }
}
