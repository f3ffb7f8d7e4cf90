//! Reading the plain arguments of an exported function: strings (checked for NULL and UTF-8),
//! string lists and out-parameters. Handle arguments go through the `castable` module.
//!
//! This module knows errors only, never a handle type.

use std::ffi::{c_char, CStr};

use crate::error::FfiError;

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
