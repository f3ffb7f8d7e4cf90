//! The C ABI's string entry points with arbitrary bytes (invalid UTF-8 included) as
//! NUL-terminated strings: every call returns a status, never crashes or unwinds.
#![no_main]

use std::ffi::{c_char, CString};
use std::ptr;
use std::sync::OnceLock;

use iam_ffi::*;
use libfuzzer_sys::fuzz_target;

struct Handle(*mut iam_t);
// SAFETY: iam_t is documented as safe to share between threads.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

fn handle() -> &'static Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let config = CString::new(
            r#"{"master_key":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc","password":{"memory_kib":64,"iterations":1,"parallelism":1},"worker_threads":1}"#,
        )
        .expect("config");
        let mut iam: *mut iam_t = ptr::null_mut();
        // SAFETY: valid string and out pointer.
        let status = unsafe { iam_open_memory(config.as_ptr(), &mut iam) };
        assert_eq!(status, iam_status::Ok, "open");
        Handle(iam)
    })
}

/// Splits the input at NUL bytes into up to three C strings.
fn strings(data: &[u8]) -> Vec<CString> {
    data.split(|b| *b == 0)
        .take(3)
        .map(|part| CString::new(part).expect("no NUL inside"))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let iam = handle().0;
    let parts = strings(data);
    let get = |i: usize| {
        parts
            .get(i)
            .map_or(ptr::null(), |s| s.as_ptr() as *const c_char)
    };
    // SAFETY: every pointer is NULL or a live NUL-terminated string; out pointers are valid.
    unsafe {
        let mut tokens: *mut iam_tokens_t = ptr::null_mut();
        let mut principal: *mut iam_principal_t = ptr::null_mut();
        let mut account: *mut c_char = ptr::null_mut();
        let _ = iam_create_account(
            iam,
            get(0),
            get(1),
            ptr::null(),
            0,
            ptr::null(),
            &mut account,
        );
        iam_string_free(&mut account);
        let _ = iam_login(iam, get(0), get(1), get(2), &mut tokens);
        iam_tokens_free(&mut tokens);
        let _ = iam_refresh(iam, get(0), &mut tokens);
        iam_tokens_free(&mut tokens);
        let _ = iam_verify(iam, get(0), &mut principal);
        iam_principal_free(&mut principal);
        let _ = iam_revoke_session(iam, get(0), get(1));
        assert!(!iam_last_error().is_null());
    }
});
