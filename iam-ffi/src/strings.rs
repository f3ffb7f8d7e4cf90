//! Strings handed to C: allocated in one way only ([`give_string`]), freed in one way only
//! ([`free_string`], behind `iam_string_free`), and overwritten with zeros when freed.
//!
//! This module knows errors only, never a handle type.

use std::ffi::{c_char, CString};

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
