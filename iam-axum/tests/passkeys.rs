//! Passkeys over HTTP with webauthn-rs's software authenticator: registration, listing,
//! renaming and removal, passwordless and second-factor sign-in, a passkey step-up, and bad
//! input answered with typed 4xx errors.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

use common::{start_with_oauth, Server, ADMIN_PASSWORD};
use iam_core::PasskeyConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
    WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const ORIGIN: &str = "https://login.example.com";

async fn server() -> Server {
    start_with_oauth(|c| c.passkeys = Some(PasskeyConfig::new("example.com", ORIGIN))).await
}

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

/// The software authenticator, with the user handle and credential id it registered, so it can
/// answer passwordless challenges as a discoverable authenticator would.
struct Device {
    auth: SoftPasskey,
    user_handle: String,
    credential_id: String,
}

impl Device {
    fn answer(&mut self, options: &Value) -> Value {
        let mut options = options.clone();
        let discoverable = options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty);
        if discoverable {
            options["publicKey"]["allowCredentials"] =
                json!([{"type": "public-key", "id": self.credential_id}]);
        }
        let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        let cred: PublicKeyCredential = self.auth.do_authentication(origin(), options).unwrap();
        let mut cred = serde_json::to_value(&cred).unwrap();
        if discoverable {
            cred["response"]["userHandle"] = self.user_handle.clone().into();
        }
        cred
    }
}

/// Registers a passkey for the holder of `token`.
async fn register(s: &Server, token: &str) -> (Device, Value) {
    let start = s
        .post(
            "/iam/passkeys/registration",
            Some(token),
            json!({"label": "laptop"}),
        )
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let ceremony = start.body["ceremony"].as_str().unwrap().to_owned();
    let options: CreationChallengeResponse =
        serde_json::from_value(start.body["options"].clone()).unwrap();
    let mut auth = SoftPasskey::new(true);
    let reg = auth.do_registration(origin(), options).unwrap();
    let reg = serde_json::to_value(&reg).unwrap();
    let done = s
        .post(
            &format!("/iam/passkeys/registration/{ceremony}"),
            Some(token),
            reg.clone(),
        )
        .await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    let device = Device {
        auth,
        user_handle: start.body["options"]["publicKey"]["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        credential_id: reg["rawId"].as_str().unwrap().to_owned(),
    };
    (device, done.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn passkeys_register_sign_in_and_step_up_over_http() {
    let s = server().await;
    let admin = s.admin_token().await;
    let (mut device, info) = register(&s, &admin).await;
    assert_eq!(info["label"], "laptop");
    let list = s.get("/iam/passkeys", &admin).await;
    assert_eq!(list.body["passkeys"].as_array().unwrap().len(), 1);

    // Passwordless.
    let start = s.post("/iam/login/passkey", None, json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let ceremony = start.body["ceremony"].as_str().unwrap().to_owned();
    let answer = device.answer(&start.body["options"]);
    let path = format!("/iam/login/passkey/{ceremony}");
    let login = s.post(&path, None, answer.clone()).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["account"]["username"], "admin");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let who = s.get("/iam/whoami", &token).await;
    assert_eq!(who.body["amr"], json!(["hwk", "user"]));
    // The same answer again.
    s.post(&path, None, answer)
        .await
        .assert_error(400, "passkey_ceremony_invalid");

    // Password first, then the passkey.
    let start = s
        .post(
            "/iam/login/passkey",
            None,
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let answer = device.answer(&start.body["options"]);
    let ceremony = start.body["ceremony"].as_str().unwrap();
    let login = s
        .post(&format!("/iam/login/passkey/{ceremony}"), None, answer)
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let who = s.get("/iam/whoami", &token).await;
    assert_eq!(who.body["amr"], json!(["pwd", "hwk", "mfa"]));

    // A passkey step-up renews the sign-in.
    let start = s
        .post("/iam/passkeys/step-up", Some(&token), json!({}))
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let answer = device.answer(&start.body["options"]);
    let reauth = s
        .post(
            "/iam/reauthenticate",
            Some(&token),
            json!({"passkey": {"ceremony": start.body["ceremony"], "credential": answer}}),
        )
        .await;
    assert_eq!(reauth.status, StatusCode::OK, "{}", reauth.body);

    // Rename, then remove.
    let id = info["id"].as_str().unwrap();
    let renamed = s
        .call(
            Method::PATCH,
            &format!("/iam/passkeys/{id}"),
            Some(&token),
            Some(json!({"label": "blue key"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["label"], "blue key");
    let removed = s
        .call(
            Method::DELETE,
            &format!("/iam/passkeys/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let list = s.get("/iam/passkeys", &token).await;
    assert_eq!(list.body["passkeys"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_passkey_input_gets_typed_client_errors() {
    let s = server().await;
    let admin = s.admin_token().await;
    let (mut device, _) = register(&s, &admin).await;
    let start = s.post("/iam/login/passkey", None, json!({})).await;
    let ceremony = start.body["ceremony"].as_str().unwrap().to_owned();
    let path = format!("/iam/login/passkey/{ceremony}");
    // Malformed credential JSON of the right outer shape.
    s.post(
        &path,
        None,
        json!({"id": 1, "rawId": "x", "type": "public-key", "response": {}}),
    )
    .await
    .assert_error(422, "invalid_webauthn");
    // Not JSON at all.
    let raw = s
        .client
        .post(s.url(&path))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    common::Answer::from(raw)
        .await
        .assert_error(400, "malformed_json");
    // An answer to another challenge.
    let other = s.post("/iam/login/passkey", None, json!({})).await;
    let answer = device.answer(&other.body["options"]);
    s.post(&path, None, answer.clone())
        .await
        .assert_error(401, "passkey_rejected");
    // An unknown ceremony.
    s.post("/iam/login/passkey/pkc_unknown", None, answer)
        .await
        .assert_error(400, "passkey_ceremony_invalid");
    // Half of the password-first body.
    s.post("/iam/login/passkey", None, json!({"username": "admin"}))
        .await
        .assert_error(422, "invalid_body");
    // A wrong password.
    s.post(
        "/iam/login/passkey",
        None,
        json!({"username": "admin", "password": "wrong password!"}),
    )
    .await
    .assert_error(401, "invalid_credentials");
    // A label must not be blank.
    s.post(
        "/iam/passkeys/registration",
        Some(&admin),
        json!({"label": "   "}),
    )
    .await
    .assert_error(422, "invalid_label");
    // Oversized, over HTTP/2: the early 413 reaches a client that is still sending, where over
    // HTTP/1.1 the server closes the connection first and the client may see a broken pipe.
    let huge =
        json!({"id": "A".repeat(70_000), "rawId": "x", "type": "public-key", "response": {}});
    let raw = s
        .h2_client()
        .post(s.url(&path))
        .json(&huge)
        .send()
        .await
        .unwrap();
    common::Answer::from(raw)
        .await
        .assert_error(413, "payload_too_large");
}
