//! The panic boundary every exported function's body sits in ([`ffi_panic_boundary!`]): a panic
//! stops here, and what C receives instead follows from the function's return type
//! ([`PanicOrDefault`]): `IAM_STATUS_PANIC` for a status, NULL for a pointer, 0 or false for a
//! number or a flag. A status-returning body yields `Result<(), FfiError>`, which becomes a status
//! plus this thread's last-error message.
//!
//! This module knows statuses and errors only, never a handle type.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::error::FfiError;
use crate::status::iam_status;

thread_local! {
    /// The message of the last failed call on this thread (empty after a success).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error (NUL bytes become spaces). Never panics: while
/// the thread is being torn down (its storage gone) the message is dropped.
pub(crate) fn set_last_error(message: &str) {
    let bytes: Vec<u8> = message
        .bytes()
        .map(|b| if b == 0 { b' ' } else { b })
        .collect();
    let text = CString::new(bytes).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut slot) = e.try_borrow_mut() {
            *slot = text;
        }
    });
}

/// A pointer to this thread's last-error message, never NULL; valid until the next
/// status-returning call on this thread. Never panics: while the thread is being torn down it
/// is a static empty string.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|e| e.try_borrow().map(|text| text.as_ptr()).ok())
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
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

/// A type an exported function returns to C, and what C receives in its place when the body
/// panicked.
pub(crate) trait PanicOrDefault {
    /// The value returned after a panic.
    fn value() -> Self;
}

/// A type a function body returns, and what it returns when a required pointer argument is NULL
/// (see `try_ref_from_ptr!`): an error naming the argument, or the type's default.
pub(crate) trait NullParameterOrDefault {
    /// The value returned when the argument `name` is NULL.
    fn value(name: &'static str) -> Self;
}

/// A return type whose `Default` (0, false, `()`, an "unknown" variant) is what C receives after a
/// panic or for a NULL argument. A trait of its own rather than `Default` itself, so that the
/// blanket implementations below cannot collide with the pointer ones.
pub(crate) trait Defaultable: Default {}

impl Defaultable for () {}
impl Defaultable for bool {}
impl Defaultable for u16 {}
impl Defaultable for u64 {}
impl Defaultable for i64 {}
impl Defaultable for usize {}

impl<T: Defaultable> PanicOrDefault for T {
    fn value() -> Self {
        T::default()
    }
}

impl<T> PanicOrDefault for *const T {
    fn value() -> Self {
        ptr::null()
    }
}

impl<T> PanicOrDefault for *mut T {
    fn value() -> Self {
        ptr::null_mut()
    }
}

impl PanicOrDefault for iam_status {
    fn value() -> Self {
        iam_status::Panic
    }
}

impl<T: Defaultable> NullParameterOrDefault for T {
    fn value(_name: &'static str) -> Self {
        T::default()
    }
}

impl<T> NullParameterOrDefault for *const T {
    fn value(_name: &'static str) -> Self {
        ptr::null()
    }
}

impl<T> NullParameterOrDefault for *mut T {
    fn value(_name: &'static str) -> Self {
        ptr::null_mut()
    }
}

impl NullParameterOrDefault for Result<(), FfiError> {
    fn value(name: &'static str) -> Self {
        Err(FfiError::NullParameter(name))
    }
}

/// What the body of an exported function yields, and how that reaches C.
pub(crate) trait Body {
    /// The C return type.
    type Output: PanicOrDefault;
    /// Turns what the body yielded into what C receives.
    fn finish(self) -> Self::Output;
    /// Notes that the body panicked with `message` (before C receives
    /// [`PanicOrDefault::value`]).
    fn panicked(_message: &str) {}
}

/// A getter or a free function: the body's value goes to C as it is. The last error is left
/// alone, so a message read with `iam_last_error` survives calls of these.
impl<T: PanicOrDefault> Body for T {
    type Output = T;
    fn finish(self) -> T {
        self
    }
}

/// A status-returning function: success clears the last error; an error becomes its status and
/// message; a panic becomes `IAM_STATUS_PANIC` with a message saying so.
impl Body for Result<(), FfiError> {
    type Output = iam_status;
    fn finish(self) -> iam_status {
        match self {
            Ok(()) => {
                set_last_error("");
                iam_status::Ok
            }
            Err(e) => {
                set_last_error(&e.to_string());
                e.status()
            }
        }
    }
    fn panicked(message: &str) {
        set_last_error(&format!("internal panic (a bug in iam): {message}"));
    }
}

/// Runs `body`, stopping a panic; see [`ffi_panic_boundary!`].
pub(crate) fn run<B: Body>(body: impl FnOnce() -> B) -> B::Output {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value.finish(),
        Err(payload) => {
            B::panicked(panic_message(payload.as_ref()));
            PanicOrDefault::value()
        }
    }
}

/// Wraps the body of an exported function: the body runs as a closure (so `?` and `return`
/// leave the body, not the function), a panic stops at the boundary, and what C receives, in
/// either case, follows from the body's type through [`Body`].
macro_rules! ffi_panic_boundary {
    ( $($body:tt)* ) => {
        $crate::boundary::run(|| { $($body)* })
    };
}
pub(crate) use ffi_panic_boundary;

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn last_error() -> String {
        // SAFETY: the pointer is this thread's live last-error string.
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// A body that panics before it could return `value`.
    fn fails<T>(value: T) -> T {
        assert!(std::hint::black_box(false), "a bug");
        value
    }

    #[test]
    fn a_panic_becomes_the_return_types_fallback() {
        let status: iam_status = ffi_panic_boundary! {
            fails(Ok(()))
        };
        assert_eq!(status, iam_status::Panic);
        assert!(last_error().contains("internal panic (a bug in iam): a bug"));
        let status: iam_status = ffi_panic_boundary! { Ok(()) };
        assert_eq!(status, iam_status::Ok);
        assert!(last_error().is_empty());

        let text: *const c_char = ffi_panic_boundary! { c"text".as_ptr() };
        assert!(!text.is_null());
        let text: *const c_char = ffi_panic_boundary! { fails(c"text".as_ptr()) };
        assert!(text.is_null());
        let count: usize = ffi_panic_boundary! { fails(1) };
        assert_eq!(count, 0);
        let flag: bool = ffi_panic_boundary! { fails(true) };
        assert!(!flag);
    }

    #[test]
    fn errors_become_their_status_and_getters_keep_the_message() {
        let status: iam_status = ffi_panic_boundary! {
            Err(FfiError::InvalidUtf8("name"))
        };
        assert_eq!(status, iam_status::InvalidUtf8);
        let message = last_error();
        assert!(message.contains("name"));
        let _: *const c_char = ffi_panic_boundary! { fails(c"text".as_ptr()) };
        assert_eq!(last_error(), message);
    }

    #[test]
    fn a_null_parameter_is_named_or_defaults() {
        let status = <Result<(), FfiError> as NullParameterOrDefault>::value("iam");
        assert!(matches!(status, Err(FfiError::NullParameter("iam"))));
        assert!(<*const u8 as NullParameterOrDefault>::value("p").is_null());
        assert_eq!(<i64 as NullParameterOrDefault>::value("p"), 0);
    }
}
