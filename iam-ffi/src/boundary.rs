//! The boundary every exported function goes through: panics stop here, errors become a status
//! plus a thread-local message, pointer arguments are checked, and values handed out are
//! allocated (and later freed and wiped) in one way only.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use zeroize::Zeroize;

use crate::error::FfiError;
use crate::status::iam_status;

thread_local! {
    /// The message of the last failed call on this thread (empty after a success).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error (NUL bytes become spaces).
pub(crate) fn set_last_error(message: &str) {
    let bytes: Vec<u8> = message
        .bytes()
        .map(|b| if b == 0 { b' ' } else { b })
        .collect();
    let text = CString::new(bytes).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

/// A pointer to this thread's last-error message; valid until the next status-returning call on
/// this thread.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic payload"
    }
}

/// Runs the body of a status-returning function: clears the last error, turns an error into its
/// status and message, and stops a panic with [`iam_status::Panic`].
pub(crate) fn guard(body: impl FnOnce() -> Result<(), FfiError>) -> iam_status {
    set_last_error("");
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => iam_status::Ok,
        Ok(Err(e)) => {
            set_last_error(&e.to_string());
            e.status()
        }
        Err(payload) => {
            set_last_error(&format!(
                "internal panic (a bug in iam): {}",
                panic_message(payload.as_ref())
            ));
            iam_status::Panic
        }
    }
}

/// Runs the body of a function that returns a plain value (a getter or a free function):
/// a panic yields `fallback`. The last error is left alone.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
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

/// A required borrowed object.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` that is not mutated for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, name: &'static str) -> Result<&'a T, FfiError> {
    // SAFETY: the caller promises a NULL or valid, live pointer.
    unsafe { ptr.as_ref() }.ok_or(FfiError::NullParameter(name))
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

/// A required out-parameter that receives an owned pointer; it is set to NULL at once so that a
/// failed call leaves NULL behind.
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

/// Hands a new string to the caller through `out`; free it with `iam_string_free`.
pub(crate) fn give_string(
    out: &mut *mut c_char,
    text: &str,
    what: &'static str,
) -> Result<(), FfiError> {
    *out = c_string(text, what)?.into_raw();
    Ok(())
}

/// A type handed to C as an owned pointer made by [`give`], freed only by [`take_and_drop`]
/// (through the type's own `*_free` function), so no handle is freed the wrong way.
pub(crate) trait Handed {}

impl Handed for crate::handle::iam_t {}
impl Handed for crate::tokens::iam_tokens_t {}
impl Handed for crate::principal::iam_principal_t {}
impl Handed for crate::service_accounts::iam_db_credentials_t {}
impl Handed for crate::elevation::iam_elevation_t {}

/// Hands a new object to the caller through `out`; free it with its `*_free` function.
pub(crate) fn give<T: Handed>(out: &mut *mut T, value: T) {
    *out = Box::into_raw(Box::new(value));
}

/// Frees an object handed out by [`give`] and sets the caller's pointer to NULL. NULL, or a
/// pointer to NULL, is ignored, so freeing twice through the same variable is harmless.
///
/// # Safety
/// `slot` must be NULL or point to a pointer that is NULL or came from [`give`] with the same `T`
/// and has not been freed through another copy.
pub(crate) unsafe fn take_and_drop<T: Handed>(slot: *mut *mut T) {
    // SAFETY: the caller promises `slot` is NULL or valid.
    let Some(slot) = (unsafe { slot.as_mut() }) else {
        return;
    };
    let ptr = std::mem::replace(slot, std::ptr::null_mut());
    if !ptr.is_null() {
        // SAFETY: `ptr` came from `Box::into_raw` in `give` and is freed only here, once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, iam_status::Panic);
        // SAFETY: the pointer is this thread's live last-error string.
        let text = unsafe { CStr::from_ptr(last_error_ptr()) };
        assert!(text.to_string_lossy().contains("boom"));
        assert_eq!(guard(|| Ok(())), iam_status::Ok);
        // SAFETY: as above.
        assert!(unsafe { CStr::from_ptr(last_error_ptr()) }.is_empty());
        assert_eq!(guard_value(7, || panic!("x")), 7);
    }

    #[test]
    fn null_and_non_utf8_strings_are_statuses() {
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

    impl Handed for u32 {}

    #[test]
    fn freeing_nulls_the_pointer() {
        let mut p: *mut u32 = std::ptr::null_mut();
        give(&mut p, 5);
        // SAFETY: `p` came from `give` and is freed once; the second call sees NULL.
        unsafe {
            take_and_drop(&raw mut p);
            assert!(p.is_null());
            take_and_drop(&raw mut p);
            take_and_drop::<u32>(std::ptr::null_mut());
        }
    }

    #[test]
    fn strings_with_nul_are_refused() {
        assert!(c_string("a\0b", "x").is_err());
        let mut c = c_string("secret", "x").expect("no NUL");
        wipe(&mut c);
        assert!(c.is_empty());
    }
}
