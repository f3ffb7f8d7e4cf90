//! Whole passkey ceremonies through the C functions, with webauthn-rs's software passkey as
//! the authenticator (which the C test program cannot be): registration, listing and renaming,
//! passwordless and second-factor sign-in, a replayed answer, removal.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use iam_ffi::*;
use serde_json::Value;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, RequestChallengeResponse, Url, WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const ORIGIN: &str = "https://login.example.com";
const PASSWORD: &str = "pia's long password";

fn c(text: &str) -> CString {
    CString::new(text).expect("no NUL")
}

fn last_error() -> String {
    // SAFETY: iam_last_error never returns NULL and the text lives until the next call.
    unsafe { CStr::from_ptr(iam_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Copies a string iam handed out, then frees it.
fn take(mut s: *mut c_char) -> String {
    assert!(!s.is_null());
    // SAFETY: `s` was handed out by iam, is read while live, and freed once.
    unsafe {
        let text = CStr::from_ptr(s).to_str().expect("UTF-8").to_owned();
        iam_string_free(&raw mut s);
        text
    }
}

/// Parses a JSON string iam handed out.
fn take_json(s: *mut c_char) -> Value {
    serde_json::from_str(&take(s)).expect("JSON")
}

/// An open handle with passkeys on, and pia's id and access token.
struct Fixture {
    iam: *mut iam_t,
    pia: String,
    access: CString,
}

impl Fixture {
    fn new() -> Self {
        let config = c(&format!(
            r#"{{"master_key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                "password":{{"memory_kib":64,"iterations":1}},"worker_threads":2,
                "passkeys":{{"rp_id":"example.com","rp_origins":["{ORIGIN}"]}}}}"#
        ));
        let mut iam = ptr::null_mut();
        let mut id = ptr::null_mut();
        let mut tokens = ptr::null_mut();
        // SAFETY: valid strings and out-pointers; the tokens are freed once.
        unsafe {
            assert_eq!(
                iam_open_memory(config.as_ptr(), &raw mut iam),
                iam_status::Ok
            );
            let status = iam_create_account(
                iam,
                c"pia".as_ptr(),
                c(PASSWORD).as_ptr(),
                ptr::null(),
                0,
                ptr::null(),
                &raw mut id,
            );
            assert_eq!(status, iam_status::Ok, "{}", last_error());
            let status = iam_login(
                iam,
                c"pia".as_ptr(),
                c(PASSWORD).as_ptr(),
                ptr::null(),
                &raw mut tokens,
            );
            assert_eq!(status, iam_status::Ok, "{}", last_error());
            let access = CStr::from_ptr(iam_tokens_access_token(tokens)).to_owned();
            iam_tokens_free(&raw mut tokens);
            Fixture {
                iam,
                pia: take(id),
                access,
            }
        }
    }

    /// Registers a passkey labelled `label` on `auth`; returns the record and the credential
    /// id and user handle (base64url) a discoverable authenticator answers with.
    fn register(&self, auth: &mut SoftPasskey, label: &str) -> (Value, String, String) {
        let mut out = ptr::null_mut();
        // SAFETY: a live handle, valid strings and out-pointer.
        let status = unsafe {
            iam_passkey_registration_start(
                self.iam,
                self.access.as_ptr(),
                c(label).as_ptr(),
                &raw mut out,
            )
        };
        assert_eq!(status, iam_status::Ok, "{}", last_error());
        let challenge = take_json(out);
        let options: CreationChallengeResponse =
            serde_json::from_value(challenge["options"].clone()).expect("creation options");
        let credential = auth
            .do_registration(Url::parse(ORIGIN).expect("URL"), options)
            .expect("the authenticator registers");
        let json = serde_json::to_string(&credential).expect("JSON");
        let ceremony = c(challenge["ceremony"].as_str().expect("ceremony"));
        // SAFETY: as above.
        let status = unsafe {
            iam_passkey_registration_finish(
                self.iam,
                self.access.as_ptr(),
                ceremony.as_ptr(),
                c(&json).as_ptr(),
                &raw mut out,
            )
        };
        assert_eq!(status, iam_status::Ok, "{}", last_error());
        let record = take_json(out);
        // The same answer again: the ceremony is used up.
        // SAFETY: as above.
        let again = unsafe {
            iam_passkey_registration_finish(
                self.iam,
                self.access.as_ptr(),
                ceremony.as_ptr(),
                c(&json).as_ptr(),
                &raw mut out,
            )
        };
        assert_eq!(again, iam_status::InvalidState);
        assert!(out.is_null());
        let user = challenge["options"]["publicKey"]["user"]["id"]
            .as_str()
            .expect("user handle")
            .to_owned();
        let credential_id = record["credential_id"].as_str().expect("id").to_owned();
        (record, credential_id, user)
    }

    /// Starts a sign-in (after `username` and `password` when given); returns the challenge.
    fn login_start(&self, password_first: Option<(&str, &str)>) -> Result<Value, iam_status> {
        let (user, pass) = match password_first {
            Some((u, p)) => (Some(c(u)), Some(c(p))),
            None => (None, None),
        };
        let arg = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        let mut out = ptr::null_mut();
        // SAFETY: a live handle, NULL or valid strings, a valid out-pointer.
        let status =
            unsafe { iam_passkey_login_start(self.iam, arg(&user), arg(&pass), &raw mut out) };
        if status == iam_status::Ok {
            Ok(take_json(out))
        } else {
            assert!(out.is_null());
            Err(status)
        }
    }

    /// Finishes a sign-in; returns the principal's account id and `amr`.
    fn login_finish(
        &self,
        challenge: &Value,
        credential: &str,
    ) -> Result<(String, Vec<String>), iam_status> {
        let ceremony = c(challenge["ceremony"].as_str().expect("ceremony"));
        let mut tokens = ptr::null_mut();
        // SAFETY: a live handle, valid strings and out-pointers; every object is freed once.
        unsafe {
            let status = iam_passkey_login_finish(
                self.iam,
                ceremony.as_ptr(),
                c(credential).as_ptr(),
                &raw mut tokens,
            );
            if status != iam_status::Ok {
                assert!(tokens.is_null());
                return Err(status);
            }
            let mut who = ptr::null_mut();
            let status = iam_verify(self.iam, iam_tokens_access_token(tokens), &raw mut who);
            assert_eq!(status, iam_status::Ok, "{}", last_error());
            let account = CStr::from_ptr(iam_principal_account_id(who))
                .to_str()
                .expect("UTF-8")
                .to_owned();
            let amr = (0..iam_principal_amr_len(who))
                .map(|i| {
                    CStr::from_ptr(iam_principal_amr(who, i))
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            iam_principal_free(&raw mut who);
            iam_tokens_free(&raw mut tokens);
            Ok((account, amr))
        }
    }

    fn list(&self) -> Value {
        let mut out = ptr::null_mut();
        let id = c(&self.pia);
        // SAFETY: a live handle, valid strings and out-pointer.
        let status =
            unsafe { iam_passkeys_list(self.iam, id.as_ptr(), self.access.as_ptr(), &raw mut out) };
        assert_eq!(status, iam_status::Ok, "{}", last_error());
        take_json(out)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: the handle is freed once.
        unsafe { iam_free(&raw mut self.iam) };
    }
}

/// The authenticator's answer to a sign-in challenge, as a discoverable passkey gives it: it
/// picks its own credential and names its user.
fn answer(auth: &mut SoftPasskey, challenge: &Value, credential_id: &str, user: &str) -> String {
    let mut options = challenge["options"].clone();
    options["publicKey"]["allowCredentials"] =
        serde_json::json!([{"type": "public-key", "id": credential_id}]);
    let options: RequestChallengeResponse =
        serde_json::from_value(options).expect("request options");
    let credential = auth
        .do_authentication(Url::parse(ORIGIN).expect("URL"), options)
        .expect("the authenticator answers");
    let mut json = serde_json::to_value(&credential).expect("JSON");
    json["response"]["userHandle"] = user.into();
    json.to_string()
}

#[test]
fn a_passkey_registers_signs_in_and_is_removed_through_the_c_functions() {
    let fx = Fixture::new();
    let mut auth = SoftPasskey::new(true);
    let (record, credential_id, user) = fx.register(&mut auth, "laptop");
    assert_eq!(record["label"], "laptop");
    assert!(record["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("pk_")));
    let mut fields: Vec<&str> = record
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "aaguid",
            "backup_eligible",
            "backup_state",
            "counter",
            "created_at",
            "credential_id",
            "id",
            "label",
            "last_used_at"
        ],
        "no key material"
    );
    assert_eq!(fx.list(), Value::Array(vec![record.clone()]));

    // Passwordless: a session of pia's, proved by the key and its user verification.
    let challenge = fx.login_start(None).expect("start");
    let credential = answer(&mut auth, &challenge, &credential_id, &user);
    let (account, amr) = fx.login_finish(&challenge, &credential).expect("finish");
    assert_eq!(account, fx.pia);
    assert!(amr.iter().any(|m| m == "user"), "{amr:?}");
    assert!(!amr.iter().any(|m| m == "pwd"), "{amr:?}");
    // The same answer again: the ceremony is used up.
    assert_eq!(
        fx.login_finish(&challenge, &credential),
        Err(iam_status::InvalidState)
    );
    // An answer from another origin does not verify.
    let challenge = fx.login_start(None).expect("start");
    let mut options = challenge["options"].clone();
    options["publicKey"]["allowCredentials"] =
        serde_json::json!([{"type": "public-key", "id": credential_id}]);
    let options: RequestChallengeResponse = serde_json::from_value(options).expect("options");
    let wrong_origin = auth
        .do_authentication(
            Url::parse("https://evil.example.com").expect("URL"),
            options,
        )
        .expect("the authenticator answers");
    let mut wrong = serde_json::to_value(&wrong_origin).expect("JSON");
    wrong["response"]["userHandle"] = user.as_str().into();
    assert_eq!(
        fx.login_finish(&challenge, &wrong.to_string()),
        Err(iam_status::BadCredentials)
    );

    // After the password: the passkey is the second factor.
    let challenge = fx.login_start(Some(("pia", PASSWORD))).expect("start");
    let credential = answer(&mut auth, &challenge, &credential_id, &user);
    let (account, amr) = fx.login_finish(&challenge, &credential).expect("finish");
    assert_eq!(account, fx.pia);
    assert!(
        amr.iter().any(|m| m == "pwd") && amr.iter().any(|m| m == "mfa"),
        "{amr:?}"
    );

    // Rename and remove.
    let id = c(record["id"].as_str().expect("id"));
    let mut out = ptr::null_mut();
    // SAFETY: a live handle, valid strings and out-pointer.
    let status = unsafe {
        iam_passkey_rename(
            fx.iam,
            id.as_ptr(),
            c"desk key".as_ptr(),
            ptr::null(),
            &raw mut out,
        )
    };
    assert_eq!(status, iam_status::Ok, "{}", last_error());
    assert_eq!(take_json(out)["label"], "desk key");
    assert_eq!(fx.list()[0]["label"], "desk key");
    // SAFETY: as above.
    let status = unsafe { iam_passkey_remove(fx.iam, id.as_ptr(), fx.access.as_ptr()) };
    assert_eq!(status, iam_status::Ok, "{}", last_error());
    assert_eq!(fx.list(), Value::Array(vec![]));
    assert_eq!(
        fx.login_start(Some(("pia", PASSWORD))),
        Err(iam_status::NotFound)
    );
}
