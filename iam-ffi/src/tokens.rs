//! [`iam_tokens_t`]: a token pair handed out by login and refresh, wiped when freed.

use std::ffi::{c_char, CString};

use iam_core::TokenPair;

use crate::boundary::ffi_panic_boundary;
use crate::castable::{free_box, try_ref_from_ptr, Castable, OwnershipBox};
use crate::error::FfiError;
use crate::strings::{c_string, wipe};

/// An access token and a refresh token: opaque to C. Read it with the `iam_tokens_*` getters
/// and free it (the tokens are overwritten with zeros) with `iam_tokens_free`.
#[allow(non_camel_case_types)]
pub struct iam_tokens_t {
    _private: [u8; 0],
}

impl Castable for iam_tokens_t {
    type Ownership = OwnershipBox;
    type RustType = Tokens;
}

/// What an [`iam_tokens_t`] points to: the pair as C strings.
pub(crate) struct Tokens {
    access_token: CString,
    refresh_token: CString,
    session_id: CString,
    expires_in: u64,
}

impl Tokens {
    /// The C copy of a token pair.
    pub(crate) fn new(pair: &TokenPair) -> Result<Self, FfiError> {
        Ok(Tokens {
            access_token: c_string(pair.access_token.expose(), "access token")?,
            refresh_token: c_string(pair.refresh_token.expose(), "refresh token")?,
            session_id: c_string(&pair.session_id, "session id")?,
            expires_in: pair.expires_in,
        })
    }
}

impl Drop for Tokens {
    fn drop(&mut self) {
        wipe(&mut self.access_token);
        wipe(&mut self.refresh_token);
    }
}

/// The access token (a PASETO v4.public bearer token), or NULL if `tokens` is NULL. Borrowed:
/// valid until `iam_tokens_free`.
///
/// # Safety
/// `tokens` must be NULL or a live `iam_tokens_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_tokens_access_token(tokens: *const iam_tokens_t) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live object.
        try_ref_from_ptr!(tokens).access_token.as_ptr()
    }
}

/// The refresh token (opaque; present it once to `iam_refresh`), or NULL if `tokens` is NULL.
/// Borrowed: valid until `iam_tokens_free`.
///
/// # Safety
/// `tokens` must be NULL or a live `iam_tokens_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_tokens_refresh_token(tokens: *const iam_tokens_t) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live object.
        try_ref_from_ptr!(tokens).refresh_token.as_ptr()
    }
}

/// The id of the session the pair belongs to (for `iam_revoke_session`), or NULL if `tokens` is
/// NULL. Borrowed: valid until `iam_tokens_free`.
///
/// # Safety
/// `tokens` must be NULL or a live `iam_tokens_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_tokens_session_id(tokens: *const iam_tokens_t) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live object.
        try_ref_from_ptr!(tokens).session_id.as_ptr()
    }
}

/// Seconds until the access token expires (0 if `tokens` is NULL).
///
/// # Safety
/// `tokens` must be NULL or a live `iam_tokens_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_tokens_expires_in(tokens: *const iam_tokens_t) -> u64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live object.
        try_ref_from_ptr!(tokens).expires_in
    }
}

/// Overwrites the tokens with zeros, frees them and sets `*tokens` to NULL. NULL, or a pointer
/// to NULL, is ignored.
///
/// # Safety
/// `tokens` must be NULL or point to a pointer that is NULL or was handed out by iam and not
/// freed through another copy. Strings borrowed from it are invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn iam_tokens_free(tokens: *mut *mut iam_tokens_t) {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those `free_box` needs.
        unsafe { free_box(tokens) }
    }
}
