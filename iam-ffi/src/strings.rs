//! Strings handed to C: allocated in one way only ([`give_string`], or [`give_json`] for a
//! value written as JSON), freed in one way only ([`free_string`], behind `iam_string_free`),
//! and overwritten with zeros when freed; and borrowed pointers into strings an object holds.
//!
//! This module knows errors only, never a handle type.

use std::ffi::{c_char, CString};
use std::ptr;

use serde::Serialize;
use zeroize::Zeroize;

use crate::error::FfiError;

/// A C copy of `text`, built so that no reallocation leaves an unwiped copy of a secret behind.
pub(crate) fn c_string(text: &str, what: &'static str) -> Result<CString, FfiError> {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    CString::new(bytes).map_err(|e| {
        let mut rejected = e.into_vec();
        rejected.zeroize();
        FfiError::InteriorNul(what)
    })
}

/// Overwrites a C string's bytes with zeros and frees it.
pub(crate) fn wipe(text: &mut CString) {
    let mut bytes = std::mem::take(text).into_bytes_with_nul();
    bytes.zeroize();
}

/// Hands a new string to the caller through `out`; free it with [`free_string`].
pub(crate) fn give_string(
    out: &mut *mut c_char,
    text: &str,
    what: &'static str,
) -> Result<(), FfiError> {
    *out = c_string(text, what)?.into_raw();
    Ok(())
}

/// Hands `value` to the caller as a new JSON string through `out`; free it with [`free_string`].
/// `what` names the value in errors.
pub(crate) fn give_json<T: Serialize + ?Sized>(
    out: &mut *mut c_char,
    value: &T,
    what: &'static str,
) -> Result<(), FfiError> {
    let json = serde_json::to_string(value).map_err(|_| FfiError::Serialize(what))?;
    give_string(out, &json, what)
}

/// The item at `index` of a list of C strings, borrowed, or NULL when out of range.
pub(crate) fn item(list: &[CString], index: usize) -> *const c_char {
    list.get(index).map_or(ptr::null(), |s| s.as_ptr())
}

/// A borrowed pointer to an optional string, NULL when absent.
pub(crate) fn opt_ptr(text: Option<&CString>) -> *const c_char {
    text.map_or(ptr::null(), |s| s.as_ptr())
}

/// C copies of `items`.
pub(crate) fn c_strings(items: &[String], what: &'static str) -> Result<Vec<CString>, FfiError> {
    items.iter().map(|s| c_string(s, what)).collect()
}

/// A C copy of an optional string.
pub(crate) fn opt_c_string(
    text: Option<&str>,
    what: &'static str,
) -> Result<Option<CString>, FfiError> {
    text.map(|t| c_string(t, what)).transpose()
}

/// Wipes and frees a string made by [`give_string`] and sets the caller's pointer to NULL. NULL,
/// or a pointer to NULL, is ignored, so freeing twice through the same variable is harmless.
///
/// # Safety
/// `slot` must be NULL or point to a writable pointer that is NULL or came from [`give_string`],
/// unmodified, and not freed through another copy.
pub(crate) unsafe fn free_string(slot: *mut *mut c_char) {
    // SAFETY: the caller promises NULL or a valid, writable pointer.
    let Some(slot) = (unsafe { slot.as_mut() }) else {
        return;
    };
    let ptr = std::mem::replace(slot, std::ptr::null_mut());
    if !ptr.is_null() {
        // SAFETY: `ptr` came from `CString::into_raw` in `give_string`, unmodified, and is
        // freed only here, once.
        let mut owned = unsafe { CString::from_raw(ptr) };
        wipe(&mut owned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_with_nul_are_refused() {
        assert!(c_string("a\0b", "x").is_err());
        let mut c = c_string("secret", "x").expect("no NUL");
        wipe(&mut c);
        assert!(c.is_empty());
    }

    #[test]
    fn values_are_handed_out_as_json() {
        let mut s: *mut c_char = std::ptr::null_mut();
        give_json(&mut s, &serde_json::json!({"a": [1, "x\u{0}y"]}), "x").expect("JSON");
        // SAFETY: `s` came from `give_json`, is read while live and freed once.
        unsafe {
            let text = std::ffi::CStr::from_ptr(s).to_str().expect("UTF-8");
            assert_eq!(text, r#"{"a":[1,"x\u0000y"]}"#);
            free_string(&raw mut s);
        }
    }

    #[test]
    fn freeing_a_string_nulls_the_pointer() {
        let mut s: *mut c_char = std::ptr::null_mut();
        give_string(&mut s, "token", "x").expect("no NUL");
        // SAFETY: `s` came from `give_string` and is freed once; the second call sees NULL.
        unsafe {
            free_string(&raw mut s);
            assert!(s.is_null());
            free_string(&raw mut s);
            free_string(std::ptr::null_mut());
        }
    }
}
