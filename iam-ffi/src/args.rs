//! Reading the plain arguments of an exported function: strings (checked for NULL and UTF-8),
//! string lists and out-parameters. Handle arguments go through the `castable` module.
//!
//! This module knows errors only, never a handle type.

use std::ffi::{c_char, CStr};

use crate::error::FfiError;

/// How many items a page holds when the caller asks for 0 (no preference).
pub(crate) const DEFAULT_PAGE: usize = 100;

/// The most items a page holds, whatever the caller asks for.
pub(crate) const MAX_PAGE: usize = 1000;

/// The size of a page the caller asked for as `limit`: 0 is [`DEFAULT_PAGE`], more than
/// [`MAX_PAGE`] is [`MAX_PAGE`].
pub(crate) fn page_limit(limit: usize) -> usize {
    match limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

/// A required string argument.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that stays valid and unchanged for `'a`.
pub(crate) unsafe fn arg_str<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<&'a str, FfiError> {
    if ptr.is_null() {
        return Err(FfiError::NullParameter(name));
    }
    // SAFETY: `ptr` is not NULL and the caller promises a valid NUL-terminated string.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|_| FfiError::InvalidUtf8(name))
}

/// An optional string argument (NULL means absent).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_opt_str<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<Option<&'a str>, FfiError> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { arg_str(ptr, name) }.map(Some)
    }
}

/// A required JSON argument, read as `T` (whose `Deserialize` decides which fields it admits).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_json<T: serde::de::DeserializeOwned>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<T, FfiError> {
    // SAFETY: forwarded from the caller.
    let text = unsafe { arg_str(ptr, name) }?;
    serde_json::from_str(text).map_err(|e| FfiError::InvalidJson {
        name,
        reason: e.to_string(),
    })
}

/// An optional out-parameter for a plain value: `None` when `ptr` is NULL; otherwise it is set
/// to `T::default()` at once, so a failed call leaves the default behind.
///
/// # Safety
/// `ptr` must be NULL or point to writable memory for a `T`, unaliased for `'a`.
pub(crate) unsafe fn arg_opt_out<'a, T: Default>(ptr: *mut T) -> Option<&'a mut T> {
    // SAFETY: the caller promises a NULL or valid, writable, unaliased pointer.
    let out = unsafe { ptr.as_mut() }?;
    *out = T::default();
    Some(out)
}

/// A required out-parameter for a plain value.
///
/// # Safety
/// `ptr` must be NULL or point to writable memory for a `T`, unaliased for `'a`.
pub(crate) unsafe fn arg_out<'a, T>(
    ptr: *mut T,
    name: &'static str,
) -> Result<&'a mut T, FfiError> {
    // SAFETY: the caller promises a NULL or valid, writable, unaliased pointer.
    unsafe { ptr.as_mut() }.ok_or(FfiError::NullParameter(name))
}

/// A required out-parameter that receives an owned pointer (a handle or a string); it is set to
/// NULL at once so that a failed call leaves NULL behind.
///
/// # Safety
/// As [`arg_out`].
pub(crate) unsafe fn arg_out_ptr<'a, T>(
    ptr: *mut *mut T,
    name: &'static str,
) -> Result<&'a mut *mut T, FfiError> {
    // SAFETY: forwarded from the caller.
    let out = unsafe { arg_out(ptr, name) }?;
    *out = std::ptr::null_mut();
    Ok(out)
}

/// A list of strings given as a pointer and a count (the pointer may be NULL when the count is 0).
///
/// # Safety
/// `ptr` must be NULL or point to `len` pointers, each NULL or a valid NUL-terminated string,
/// all valid and unchanged for `'a`.
pub(crate) unsafe fn arg_str_list<'a>(
    ptr: *const *const c_char,
    len: usize,
    name: &'static str,
) -> Result<Vec<&'a str>, FfiError> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(FfiError::NullParameter(name));
    }
    // SAFETY: not NULL, and the caller promises `len` readable elements.
    let items = unsafe { std::slice::from_raw_parts(ptr, len) };
    items
        .iter()
        // SAFETY: each element is NULL or a valid string, as the caller promises.
        .map(|p| unsafe { arg_str(*p, name) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_are_capped() {
        assert_eq!(page_limit(0), DEFAULT_PAGE);
        assert_eq!(page_limit(7), 7);
        assert_eq!(page_limit(MAX_PAGE + 1), MAX_PAGE);
    }

    #[test]
    fn null_and_non_utf8_strings_are_errors() {
        // SAFETY: NULL and a valid NUL-terminated byte string.
        unsafe {
            assert!(matches!(
                arg_str(std::ptr::null(), "s"),
                Err(FfiError::NullParameter("s"))
            ));
            let bad = b"\xff\xfe\0";
            assert!(matches!(
                arg_str(bad.as_ptr().cast(), "s"),
                Err(FfiError::InvalidUtf8("s"))
            ));
            assert_eq!(arg_opt_str(std::ptr::null(), "s").ok(), Some(None));
        }
    }
}
