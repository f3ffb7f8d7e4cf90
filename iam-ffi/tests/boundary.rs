//! Boundary cases best driven from Rust: calls from inside an async runtime, a SQLite database
//! reopened under the wrong master key, and many threads on one handle.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use iam_ffi::*;

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const KEY_B: &str = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo";

fn config(key: &str) -> CString {
    CString::new(format!(
        r#"{{"master_key":"{key}","password":{{"memory_kib":64,"iterations":1}},"worker_threads":2}}"#
    ))
    .expect("no NUL")
}

fn last_error() -> String {
    // SAFETY: iam_last_error never returns NULL and the text lives until the next call.
    unsafe { CStr::from_ptr(iam_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Opens a handle over memory.
fn open_memory() -> *mut iam_t {
    let mut iam = ptr::null_mut();
    // SAFETY: a valid config string and out-pointer.
    let status = unsafe { iam_open_memory(config(KEY_A).as_ptr(), &raw mut iam) };
    assert_eq!(status, iam_status::Ok, "{}", last_error());
    iam
}

#[test]
fn calls_from_inside_an_async_runtime_are_refused_not_panicking() {
    let mut iam = open_memory();
    let outer = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let handle = iam as usize;
    let status = outer.block_on(async move {
        let mut who = ptr::null_mut();
        // SAFETY: `handle` is the live handle opened above.
        unsafe { iam_verify(handle as *const iam_t, c"x".as_ptr(), &raw mut who) }
    });
    assert_eq!(status, iam_status::Runtime);
    assert!(last_error().contains("async runtime"));
    // SAFETY: the handle is freed once.
    unsafe { iam_free(&raw mut iam) };
}

#[test]
fn a_database_reopened_under_another_master_key_is_a_crypto_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path =
        CString::new(dir.path().join("iam.db").to_str().expect("UTF-8 path")).expect("no NUL");
    let mut iam = ptr::null_mut();
    // SAFETY: valid strings and out-pointers; each handle is freed once.
    unsafe {
        assert_eq!(
            iam_open_sqlite(path.as_ptr(), config(KEY_A).as_ptr(), &raw mut iam),
            iam_status::Ok,
            "{}",
            last_error()
        );
        iam_free(&raw mut iam);
        let status = iam_open_sqlite(path.as_ptr(), config(KEY_B).as_ptr(), &raw mut iam);
        assert_eq!(status, iam_status::Crypto, "{}", last_error());
        assert!(iam.is_null());
    }
}

/// One account per thread: logins of one account at once are limited by its guess budget,
/// since every attempt is reserved before its password is checked.
const THREAD_USERS: [&std::ffi::CStr; 8] = [
    c"user0", c"user1", c"user2", c"user3", c"user4", c"user5", c"user6", c"user7",
];

#[test]
fn many_threads_share_one_handle() {
    let mut iam = open_memory();
    for user in THREAD_USERS {
        let mut id: *mut c_char = ptr::null_mut();
        // SAFETY: valid arguments; the id is freed once.
        unsafe {
            let status = iam_create_account(
                iam,
                user.as_ptr(),
                c"correct horse battery".as_ptr(),
                ptr::null(),
                0,
                ptr::null(),
                &raw mut id,
            );
            assert_eq!(status, iam_status::Ok, "{}", last_error());
            iam_string_free(&raw mut id);
        }
    }
    let shared = iam as usize;
    let threads: Vec<_> = THREAD_USERS
        .into_iter()
        .map(|user| {
            std::thread::spawn(move || {
                let iam = shared as *const iam_t;
                for _ in 0..5 {
                    let mut tokens = ptr::null_mut();
                    let mut who = ptr::null_mut();
                    // SAFETY: the handle outlives the threads (joined below); each object is
                    // freed once.
                    unsafe {
                        let status = iam_login(
                            iam,
                            user.as_ptr(),
                            c"correct horse battery".as_ptr(),
                            ptr::null(),
                            &raw mut tokens,
                        );
                        assert_eq!(status, iam_status::Ok, "{}", last_error());
                        let status = iam_verify(iam, iam_tokens_access_token(tokens), &raw mut who);
                        assert_eq!(status, iam_status::Ok, "{}", last_error());
                        let status =
                            iam_revoke_session(iam, iam_tokens_session_id(tokens), ptr::null());
                        assert_eq!(status, iam_status::Ok, "{}", last_error());
                        let status = iam_verify(iam, iam_tokens_access_token(tokens), &raw mut who);
                        assert_eq!(status, iam_status::Revoked);
                        iam_principal_free(&raw mut who);
                        iam_tokens_free(&raw mut tokens);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panicked");
    }
    let mut events = 0;
    // SAFETY: the live handle, freed once.
    unsafe {
        assert_eq!(iam_verify_audit_chain(iam, &raw mut events), iam_status::Ok);
        assert!(events >= 8 * 5 * 2);
        iam_free(&raw mut iam);
    }
}
