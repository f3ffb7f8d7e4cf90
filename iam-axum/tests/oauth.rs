//! End-to-end tests of the OAuth 2.0 endpoints and pages: a real server on 127.0.0.1 with an
//! ephemeral port and a temporary SQLite store, driven with reqwest as a browser (cookies,
//! HTML forms with CSRF tokens) and as OAuth clients.

#![allow(
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    clippy::many_single_char_names
)]

#[path = "interop/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{form, pkce, query_params, start, Browser, Options, Page, Server, ALICE_PASSWORD};
use iam_axum::{RateLimit, WebFingerPublication};
use iam_core::{Clock, GrantType, ManualClock, NewClient, SystemClock, Timestamp};
use reqwest::StatusCode;
use serde_json::Value;

const REDIRECT: &str = "https://app.example/cb";

fn manual_clock() -> ManualClock {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    ManualClock::new(Timestamp::from_millis(
        i64::try_from(now.as_millis()).unwrap(),
    ))
}

async fn server() -> Server<SystemClock> {
    start(SystemClock, Options::default()).await
}

/// Registers a confidential web client allowed the code and refresh grants.
async fn web_client<C: Clock>(s: &Server<C>, name: &str) -> (String, String) {
    let reg = s
        .register(
            NewClient::confidential(name)
                .redirect_uri(REDIRECT)
                .grants([GrantType::AuthorizationCode, GrantType::RefreshToken])
                .scopes(["profile", "notes:read"]),
        )
        .await;
    (
        reg.client.id,
        reg.client_secret.unwrap().expose().to_owned(),
    )
}

/// POSTs a form to `path` with optional Basic credentials.
async fn post_form<C: Clock>(
    s: &Server<C>,
    path: &str,
    basic: Option<(&str, &str)>,
    pairs: &[(&str, &str)],
) -> Page {
    let mut req = s
        .http
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(harness::enc(id), Some(harness::enc(secret)));
    }
    page(req.send().await.unwrap()).await
}

async fn page(r: reqwest::Response) -> Page {
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

fn assert_oauth_error(p: &Page, status: u16, code: &str) {
    assert_eq!(p.status.as_u16(), status, "{}", p.body);
    assert!(
        p.header("content-type").starts_with("application/json"),
        "{:?}",
        p.headers
    );
    let v = p.json();
    assert_eq!(v["error"], code, "{}", p.body);
    assert!(v["error_description"].is_string(), "{}", p.body);
}

fn assert_page_headers(p: &Page) {
    assert_eq!(
        p.header("content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    );
    assert_eq!(p.header("x-frame-options"), "DENY");
    assert_eq!(p.header("referrer-policy"), "no-referrer");
    assert_eq!(p.header("cache-control"), "no-store");
    assert!(p.header("content-type").starts_with("text/html"));
}

fn authorize_url<C: Clock>(s: &Server<C>, client_id: &str, challenge: &str, extra: &str) -> String {
    format!(
        "{}?response_type=code&client_id={client_id}&redirect_uri={}&scope=profile%20notes%3Aread&state=st%2F1&code_challenge={challenge}&code_challenge_method=S256{extra}",
        s.url("/oauth2/authorize"),
        harness::enc(REDIRECT)
    )
}

/// Logs in through the pages and consents; returns the redirect's parameters.
async fn code_through_pages<C: Clock>(
    s: &Server<C>,
    b: &mut Browser,
    client_id: &str,
    challenge: &str,
) -> std::collections::HashMap<String, String> {
    let login = b.get(&authorize_url(s, client_id, challenge, "")).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_page_headers(&login);
    let consent = b.login(&login, "alice", ALICE_PASSWORD).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(consent.body.contains("Allow"), "{}", consent.body);
    assert!(consent.body.contains("notes:read"));
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let location = done.location();
    assert!(location.starts_with(REDIRECT), "{location}");
    query_params(&location)
}

#[tokio::test(flavor = "multi_thread")]
async fn authorization_code_with_pkce_through_the_pages() {
    let s = server().await;
    let (client_id, secret) = web_client(&s, "Notes <b>App</b>").await;
    let mut b = s.browser();
    let (verifier, challenge) = pkce();

    // Login page: hardened, with a CSRF cookie and session cookie flags.
    let login = b.get(&authorize_url(&s, &client_id, &challenge, "")).await;
    assert_page_headers(&login);
    let csrf_cookie = login
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("iam_csrf="))
        .unwrap();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Lax"));
    // The username field is empty and has the focus, unless a login_hint prefills it (escaped;
    // the password field then has the focus).
    let username_input = |html: &str| {
        let i = html.find("<input id=\"username\"").unwrap();
        let end = i + html[i..].find('>').unwrap();
        html[i..=end].to_owned()
    };
    let input = username_input(&login.body);
    assert!(
        !input.contains("value=") && input.contains("autofocus"),
        "{input}"
    );
    for (hint, shown) in [
        ("alice", "alice"),
        ("al%22%3E%3Cb%3Eice", "al&quot;&gt;&lt;b&gt;ice"),
    ] {
        let extra = format!("&login_hint={hint}");
        let hinted = s
            .browser()
            .get(&authorize_url(&s, &client_id, &challenge, &extra))
            .await;
        assert_eq!(hinted.status, StatusCode::OK, "{}", hinted.body);
        let input = username_input(&hinted.body);
        assert!(input.contains(&format!(" value=\"{shown}\"")), "{input}");
        assert!(!input.contains("autofocus"), "{input}");
        assert!(hinted
            .body
            .contains("current-password\" required autofocus>"));
        assert!(!hinted.body.contains("<b>ice"));
    }
    let consent = b.login(&login, "alice", ALICE_PASSWORD).await;
    let session_cookie = consent
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("iam_session="))
        .unwrap();
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"));
    assert!(session_cookie.contains("Path=/"));
    // The client's name is escaped.
    assert!(
        consent.body.contains("Notes &lt;b&gt;App&lt;/b&gt;"),
        "{}",
        consent.body
    );
    assert!(!consent.body.contains("<b>App"));
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.header("referrer-policy"), "no-referrer");
    // After a form post the browser continues by meta refresh, not by a redirect (browsers
    // apply the page's form-action 'self' to redirects that follow a submission).
    assert_page_headers(&done);
    assert!(done.location().starts_with(REDIRECT));
    assert!(done.body.contains("Continue to the application"));
    let q = query_params(&done.location());
    assert_eq!(q["state"], "st/1");
    assert_eq!(
        q["iss"],
        s.base.as_str(),
        "RFC 9207: the response names its issuer"
    );
    let code = q["code"].clone();

    // Wrong verifier first: invalid_grant.
    let bad = post_form(
        &s,
        "/oauth2/token",
        Some((&client_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "x".repeat(43).as_str()),
        ],
    )
    .await;
    assert_oauth_error(&bad, 400, "invalid_grant");

    // A fresh code, exchanged properly.
    let (verifier2, challenge2) = (verifier.clone(), challenge.clone());
    let again = b.get(&authorize_url(&s, &client_id, &challenge2, "")).await;
    assert_eq!(
        again.status,
        StatusCode::FOUND,
        "consent is remembered: {}",
        again.body
    );
    let code = query_params(&again.location())["code"].clone();
    let tok = post_form(
        &s,
        "/oauth2/token",
        Some((&client_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier2),
        ],
    )
    .await;
    assert_eq!(tok.status, StatusCode::OK, "{}", tok.body);
    assert_eq!(tok.header("cache-control"), "no-store");
    assert_eq!(tok.header("pragma"), "no-cache");
    let t = tok.json();
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_u64().unwrap() > 0);
    let access = t["access_token"].as_str().unwrap().to_owned();
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();
    let who = s.iam.verify(&access).await.unwrap();
    assert_eq!(who.client_id.as_deref(), Some(client_id.as_str()));

    // Introspection of the access token: active.
    let intro = post_form(
        &s,
        "/oauth2/introspect",
        Some((&client_id, &secret)),
        &[("token", &access)],
    )
    .await;
    assert_eq!(intro.status, StatusCode::OK, "{}", intro.body);
    let i = intro.json();
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], client_id.as_str());
    assert_eq!(i["token_type"], "Bearer");

    // Replay of the code: invalid_grant, and the tokens it gave are revoked (RFC 6749 §4.1.2).
    let replay = post_form(
        &s,
        "/oauth2/token",
        Some((&client_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier2),
        ],
    )
    .await;
    assert_oauth_error(&replay, 400, "invalid_grant");
    let i = post_form(
        &s,
        "/oauth2/introspect",
        Some((&client_id, &secret)),
        &[("token", &access), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(i.json(), serde_json::json!({"active": false}));
    let _ = refresh;
    let again = b.get(&authorize_url(&s, &client_id, &challenge, "")).await;
    let code = query_params(&again.location())["code"].clone();
    let t = post_form(
        &s,
        "/oauth2/token",
        Some((&client_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .json();
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();

    // Refresh rotation: the new pair works, the old refresh token is dead.
    let rotated = post_form(
        &s,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_refresh = rotated.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, refresh);
    let reused = post_form(
        &s,
        "/oauth2/token",
        Some((&client_id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_oauth_error(&reused, 400, "invalid_grant");

    // Revocation: unknown tokens answer 200; revoked tokens introspect inactive.
    let unknown = post_form(
        &s,
        "/oauth2/revoke",
        Some((&client_id, &secret)),
        &[
            ("token", "no-such-token"),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::OK, "{}", unknown.body);
    assert!(unknown.body.is_empty());
    let second = b.get(&authorize_url(&s, &client_id, &challenge, "")).await;
    let code = query_params(&second.location())["code"].clone();
    let fresh = post_form(
        &s,
        "/oauth2/token",
        Some((&client_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .json();
    let fresh_refresh = fresh["refresh_token"].as_str().unwrap();
    let revoked = post_form(
        &s,
        "/oauth2/revoke",
        Some((&client_id, &secret)),
        &[("token", fresh_refresh)],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    for token in [fresh_refresh, fresh["access_token"].as_str().unwrap()] {
        let i = post_form(
            &s,
            "/oauth2/introspect",
            Some((&client_id, &secret)),
            &[("token", token)],
        )
        .await;
        assert_eq!(i.json(), serde_json::json!({"active": false}));
    }
    let i = post_form(
        &s,
        "/oauth2/introspect",
        Some((&client_id, &secret)),
        &[("token", "garbage")],
    )
    .await;
    assert_eq!(i.json(), serde_json::json!({"active": false}));
}

#[tokio::test(flavor = "multi_thread")]
async fn public_client_uses_pkce_without_secret() {
    let s = server().await;
    let reg = s
        .register(
            NewClient::public("cli")
                .redirect_uri(REDIRECT)
                .grants([GrantType::AuthorizationCode, GrantType::RefreshToken])
                .scopes(["profile", "notes:read"]),
        )
        .await;
    let mut b = s.browser();
    let (verifier, challenge) = pkce();
    let q = code_through_pages(&s, &mut b, &reg.client.id, &challenge).await;
    let tok = post_form(
        &s,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", &reg.client.id),
        ],
    )
    .await;
    assert_eq!(tok.status, StatusCode::OK, "{}", tok.body);
    // Basic with an empty password also names the public client.
    let (verifier, challenge) = pkce();
    let authorize = b
        .get(&authorize_url(&s, &reg.client.id, &challenge, ""))
        .await;
    let code = query_params(&authorize.location())["code"].clone();
    let tok = post_form(
        &s,
        "/oauth2/token",
        Some((&reg.client.id, "")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(tok.status, StatusCode::OK, "{}", tok.body);
    // A public client cannot skip PKCE.
    let (_, challenge) = pkce();
    let authorize = b
        .get(&authorize_url(&s, &reg.client.id, &challenge, ""))
        .await;
    let code = query_params(&authorize.location())["code"].clone();
    let tok = post_form(
        &s,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &reg.client.id),
        ],
    )
    .await;
    assert_oauth_error(&tok, 400, "invalid_grant");
}

#[tokio::test(flavor = "multi_thread")]
async fn prompt_none_answers_login_and_consent_required_by_redirect() {
    let s = server().await;
    let (client_id, _) = web_client(&s, "Silent").await;
    let (_, challenge) = pkce();
    let mut b = s.browser();

    let none = b
        .get(&authorize_url(&s, &client_id, &challenge, "&prompt=none"))
        .await;
    assert_eq!(none.status, StatusCode::FOUND, "{}", none.body);
    let q = query_params(&none.location());
    assert!(none.location().starts_with(REDIRECT));
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st/1");
    assert_eq!(
        q["iss"],
        s.base.as_str(),
        "error responses name the issuer too"
    );

    // Logged in (plain login page), but no consent yet.
    let login = b.get("/oauth2/login").await;
    let signed_in = b.login(&login, "alice", ALICE_PASSWORD).await;
    assert!(signed_in.body.contains("signed in"), "{}", signed_in.body);
    let none = b
        .get(&authorize_url(&s, &client_id, &challenge, "&prompt=none"))
        .await;
    let q = query_params(&none.location());
    assert_eq!(q["error"], "consent_required", "{}", none.location());
    assert_eq!(q["state"], "st/1");

    // After consent, prompt=none yields a code silently; prompt=login asks again.
    let consent = b.get(&authorize_url(&s, &client_id, &challenge, "")).await;
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    assert!(query_params(&done.location()).contains_key("code"));
    let silent = b
        .get(&authorize_url(&s, &client_id, &challenge, "&prompt=none"))
        .await;
    assert!(query_params(&silent.location()).contains_key("code"));
    let relogin = b
        .get(&authorize_url(&s, &client_id, &challenge, "&prompt=login"))
        .await;
    assert_eq!(relogin.status, StatusCode::OK);
    let after = b.login(&relogin, "alice", ALICE_PASSWORD).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert!(query_params(&after.location()).contains_key("code"));

    // Deny: access_denied with state.
    let other_client = web_client(&s, "Other").await.0;
    let consent = b
        .get(&authorize_url(&s, &other_client, &challenge, ""))
        .await;
    let denied = b.submit(&consent, &[("decision", "deny")]).await;
    let q = query_params(&denied.location());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st/1");
}

#[tokio::test(flavor = "multi_thread")]
async fn authorization_errors_that_must_not_redirect_are_shown() {
    let s = server().await;
    let (client_id, _) = web_client(&s, "Shown").await;
    let (_, challenge) = pkce();
    let mut b = s.browser();
    // An unregistered redirect URI: shown, never redirected (no open redirect).
    let evil = format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
        harness::enc("https://evil.example/cb")
    );
    let p = b.get(&evil).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.location().is_empty());
    assert_page_headers(&p);
    // Unknown client, to a non-browser: JSON.
    let r = s
        .http
        .get(s.url("/oauth2/authorize?response_type=code&client_id=nope"))
        .send()
        .await
        .unwrap();
    let p = page(r).await;
    assert_oauth_error(&p, 400, "invalid_client");
    // A repeated client_id is shown too.
    let r = s
        .http
        .get(s.url(&format!(
            "/oauth2/authorize?client_id={client_id}&client_id={client_id}&response_type=code"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(page(r).await.status, StatusCode::BAD_REQUEST);
    // A malformed query string.
    let r = s
        .http
        .get(s.url("/oauth2/authorize?client_id=%zz"))
        .send()
        .await
        .unwrap();
    assert_oauth_error(&page(r).await, 400, "invalid_request");
    // Other problems redirect with the error, e.g. a missing PKCE challenge.
    let p = b
        .get(&format!(
            "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&state=s",
            harness::enc(REDIRECT)
        ))
        .await;
    assert_eq!(p.status, StatusCode::FOUND);
    assert_eq!(query_params(&p.location())["error"], "invalid_request");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_errors_follow_rfc_6749() {
    let s = server().await;
    let reg = s
        .register(
            NewClient::confidential("machine")
                .grants([GrantType::ClientCredentials])
                .scopes(["reports"]),
        )
        .await;
    let id = reg.client.id.as_str();
    let secret = reg.client_secret.unwrap().expose().to_owned();

    let bad_secret = post_form(
        &s,
        "/oauth2/token",
        Some((id, "wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&bad_secret, 401, "invalid_client");
    assert!(bad_secret.header("www-authenticate").starts_with("Basic"));
    let unknown = post_form(
        &s,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "nope"),
            ("client_secret", "x"),
        ],
    )
    .await;
    assert_oauth_error(&unknown, 401, "invalid_client");
    let none = post_form(
        &s,
        "/oauth2/token",
        None,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&none, 401, "invalid_client");
    let unsupported = post_form(
        &s,
        "/oauth2/token",
        Some((id, &secret)),
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
    )
    .await;
    assert_oauth_error(&unsupported, 400, "unsupported_grant_type");
    let missing = post_form(&s, "/oauth2/token", Some((id, &secret)), &[]).await;
    assert_oauth_error(&missing, 400, "invalid_request");
    let unauthorized = post_form(
        &s,
        "/oauth2/token",
        Some((id, &secret)),
        &[("grant_type", "authorization_code"), ("code", "abc")],
    )
    .await;
    assert_oauth_error(&unauthorized, 400, "unauthorized_client");
    let scope = post_form(
        &s,
        "/oauth2/token",
        Some((id, &secret)),
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    assert_oauth_error(&scope, 400, "invalid_scope");
    let two_methods = post_form(
        &s,
        "/oauth2/token",
        Some((id, &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_oauth_error(&two_methods, 400, "invalid_request");

    // Client credentials, by Basic and by post.
    let by_basic = post_form(
        &s,
        "/oauth2/token",
        Some((id, &secret)),
        &[("grant_type", "client_credentials"), ("scope", "reports")],
    )
    .await;
    assert_eq!(by_basic.status, StatusCode::OK, "{}", by_basic.body);
    let t = by_basic.json();
    assert_eq!(t["scope"], "reports");
    assert!(t.get("refresh_token").is_none());
    let by_post = post_form(
        &s,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(by_post.status, StatusCode::OK, "{}", by_post.body);
    let access = t["access_token"].as_str().unwrap();
    let i = post_form(
        &s,
        "/oauth2/introspect",
        Some((id, &secret)),
        &[("token", access)],
    )
    .await;
    let i = i.json();
    assert_eq!(i["active"], true);
    assert_eq!(i["sub"], id);
    assert_eq!(i["scope"], "reports");
    // Revoking the access token makes it inactive.
    let r = post_form(
        &s,
        "/oauth2/revoke",
        Some((id, &secret)),
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let i = post_form(
        &s,
        "/oauth2/introspect",
        Some((id, &secret)),
        &[("token", access)],
    )
    .await;
    assert_eq!(i.json(), serde_json::json!({"active": false}));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_answers_json_4xx() {
    let s = server().await;
    let reg = s
        .register(
            NewClient::confidential("m")
                .grants([GrantType::ClientCredentials])
                .scopes(["reports"]),
        )
        .await;
    let id = reg.client.id.as_str();
    let secret = reg.client_secret.unwrap().expose().to_owned();
    let auth = |r: reqwest::RequestBuilder| r.basic_auth(id, Some(&secret));

    // Wrong content type.
    for path in [
        "/oauth2/token",
        "/oauth2/revoke",
        "/oauth2/introspect",
        "/oauth2/device_authorization",
    ] {
        let r = auth(s.http.post(s.url(path)))
            .header("content-type", "application/json")
            .body(r#"{"grant_type":"client_credentials"}"#)
            .send()
            .await
            .unwrap();
        assert_oauth_error(&page(r).await, 400, "invalid_request");
        let r = auth(s.http.post(s.url(path)))
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_oauth_error(&page(r).await, 400, "invalid_request");
    }
    // Malformed bodies.
    for body in [
        "grant_type=%zz",
        "grant_type=client_credentials&%FF=1",
        "=x",
    ] {
        let r = auth(s.http.post(s.url("/oauth2/token")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_oauth_error(&page(r).await, 400, "invalid_request");
    }
    // Duplicate parameters.
    let dup = post_form(
        &s,
        "/oauth2/token",
        Some((id, &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports"),
            ("scope", "reports"),
        ],
    )
    .await;
    assert_oauth_error(&dup, 400, "invalid_request");
    let dup = post_form(
        &s,
        "/oauth2/introspect",
        Some((id, &secret)),
        &[("token", "a"), ("token", "b")],
    )
    .await;
    assert_oauth_error(&dup, 400, "invalid_request");
    let missing = post_form(&s, "/oauth2/revoke", Some((id, &secret)), &[]).await;
    assert_oauth_error(&missing, 400, "invalid_request");
    // Malformed Basic credentials.
    let r = s
        .http
        .post(s.url("/oauth2/token"))
        .header("authorization", "Basic !!!")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let p = page(r).await;
    assert_oauth_error(&p, 401, "invalid_client");
    assert!(p.header("www-authenticate").starts_with("Basic"));
    // Wrong methods.
    for (method, path) in [
        (reqwest::Method::GET, "/oauth2/token"),
        (reqwest::Method::PUT, "/oauth2/authorize"),
        (reqwest::Method::GET, "/oauth2/revoke"),
        (reqwest::Method::DELETE, "/oauth2/introspect"),
        (
            reqwest::Method::POST,
            "/.well-known/oauth-authorization-server",
        ),
        (reqwest::Method::POST, "/oauth2/jwks"),
    ] {
        let p = page(s.http.request(method, s.url(path)).send().await.unwrap()).await;
        assert_oauth_error(&p, 405, "invalid_request");
        assert!(!p.header("allow").is_empty());
    }
    // Oversized body.
    let big = format!(
        "grant_type=client_credentials&scope={}",
        "a".repeat(100_000)
    );
    // Over HTTP/2 (cleartext, prior knowledge): the early 413 reaches a client that is still
    // sending, where over HTTP/1.1 the closed connection may show as a broken pipe.
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = auth(h2c.post(s.url("/oauth2/token")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_oauth_error(&page(r).await, 413, "invalid_request");
    // Introspection by a public client is refused.
    let public = s
        .register(
            NewClient::public("pub")
                .redirect_uri(REDIRECT)
                .grants([GrantType::AuthorizationCode]),
        )
        .await;
    let p = post_form(
        &s,
        "/oauth2/introspect",
        None,
        &[("token", "x"), ("client_id", &public.client.id)],
    )
    .await;
    assert_oauth_error(&p, 401, "invalid_client");
}

#[tokio::test(flavor = "multi_thread")]
async fn device_flow_with_polling_and_the_verification_page() {
    let clock = manual_clock();
    let s = start(clock.clone(), Options::default()).await;
    let reg = s
        .register(
            NewClient::confidential("TV")
                .grants([GrantType::DeviceCode, GrantType::RefreshToken])
                .scopes(["videos"]),
        )
        .await;
    let id = reg.client.id.as_str();
    let secret = reg.client_secret.unwrap().expose().to_owned();

    let start_device = || async {
        let d = post_form(
            &s,
            "/oauth2/device_authorization",
            Some((id, &secret)),
            &[("scope", "videos")],
        )
        .await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.body);
        assert_eq!(d.header("cache-control"), "no-store");
        d.json()
    };
    let d = start_device().await;
    for field in [
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
    ] {
        assert!(d[field].is_string(), "{field}: {d}");
    }
    assert_eq!(d["verification_uri"], s.url("/device"));
    assert_eq!(d["interval"], 1);
    let device_code = d["device_code"].as_str().unwrap().to_owned();
    let poll = |code: String| {
        let s = &s;
        let secret = secret.clone();
        async move {
            post_form(
                s,
                "/oauth2/token",
                Some((id, &secret)),
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", &code),
                ],
            )
            .await
        }
    };
    assert_oauth_error(
        &poll(device_code.clone()).await,
        400,
        "authorization_pending",
    );
    assert_oauth_error(&poll(device_code.clone()).await, 400, "slow_down");

    // The user opens the complete URI, logs in, checks the code and approves.
    let mut b = s.browser();
    let login = b
        .get(d["verification_uri_complete"].as_str().unwrap())
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_page_headers(&login);
    let prompt = b.login(&login, "alice", ALICE_PASSWORD).await;
    assert_eq!(prompt.status, StatusCode::OK, "{}", prompt.body);
    assert!(
        prompt.body.contains(d["user_code"].as_str().unwrap()),
        "{}",
        prompt.body
    );
    assert!(prompt.body.contains("videos"));
    let done = b.submit(&prompt, &[("decision", "approve")]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("connected"));

    clock.advance(Duration::from_secs(10));
    let tok = poll(device_code.clone()).await;
    assert_eq!(tok.status, StatusCode::OK, "{}", tok.body);
    let t = tok.json();
    assert_eq!(t["scope"], "videos");
    let who = s
        .iam
        .verify(t["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(who.client_id.as_deref(), Some(id));
    // The device code is used up.
    clock.advance(Duration::from_secs(10));
    assert_oauth_error(&poll(device_code).await, 400, "invalid_grant");

    // A second device: the user types the code (any case, no dash) and denies.
    let d = start_device().await;
    let entry = b.get("/device").await;
    assert!(entry.body.contains("name=\"user_code\""), "{}", entry.body);
    let typed = d["user_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase();
    let prompt = b.submit(&entry, &[("user_code", &typed)]).await;
    assert_eq!(prompt.status, StatusCode::OK, "{}", prompt.body);
    let denied = b.submit(&prompt, &[("decision", "deny")]).await;
    assert_eq!(denied.status, StatusCode::OK);
    clock.advance(Duration::from_secs(10));
    assert_oauth_error(
        &poll(d["device_code"].as_str().unwrap().to_owned()).await,
        400,
        "access_denied",
    );
    // A wrong code is refused on the page.
    let entry = b.get("/oauth2/device").await;
    let wrong = b.submit(&entry, &[("user_code", "BBBB-BBBB")]).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("not valid"));
    // An expired device code.
    let d = start_device().await;
    clock.advance(Duration::from_secs(11 * 60));
    assert_oauth_error(
        &poll(d["device_code"].as_str().unwrap().to_owned()).await,
        400,
        "expired_token",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn session_cookie_survives_access_token_expiry_by_refresh() {
    let clock = manual_clock();
    let s = start(clock.clone(), Options::default()).await;
    let (client_id, _) = web_client(&s, "Long").await;
    let (_, challenge) = pkce();
    let mut b = s.browser();
    code_through_pages(&s, &mut b, &client_id, &challenge).await;
    let before = b.cookies["iam_session"].clone();
    clock.advance(Duration::from_secs(3600));
    let silent = b
        .get(&authorize_url(&s, &client_id, &challenge, "&prompt=none"))
        .await;
    assert!(
        query_params(&silent.location()).contains_key("code"),
        "{}",
        silent.location()
    );
    assert_ne!(b.cookies["iam_session"], before, "the cookie was renewed");
    // A second tab sending the old cookie at the same time is not taken for token theft: it
    // gets the same successor, and the session lives on.
    let renewed = b.cookies["iam_session"].clone();
    b.cookies.insert("iam_session".into(), before);
    let tab = b
        .get(&authorize_url(&s, &client_id, &challenge, "&prompt=none"))
        .await;
    assert!(
        query_params(&tab.location()).contains_key("code"),
        "{}",
        tab.location()
    );
    assert_eq!(b.cookies["iam_session"], renewed);
    let again = b
        .get(&authorize_url(&s, &client_id, &challenge, "&prompt=none"))
        .await;
    assert!(query_params(&again.location()).contains_key("code"));
    // Logout clears the session.
    let login = b.get("/oauth2/login").await;
    assert!(login.body.contains("Sign out"));
    let out = b.submit(&login, &[]).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(!b.cookies.contains_key("iam_session"));
    let none = b
        .get(&authorize_url(&s, &client_id, &challenge, "&prompt=none"))
        .await;
    assert_eq!(query_params(&none.location())["error"], "login_required");
}

#[tokio::test(flavor = "multi_thread")]
async fn csrf_is_required_on_every_form() {
    let s = server().await;
    let (client_id, _) = web_client(&s, "Csrf").await;
    let (_, challenge) = pkce();
    let mut b = s.browser();
    let login = b.get(&authorize_url(&s, &client_id, &challenge, "")).await;
    // No token, a wrong token, and a token without the cookie are all refused.
    let mut fields: Vec<(String, String)> = harness::hidden_fields(&login.body)
        .into_iter()
        .filter(|(n, _)| n != "csrf")
        .collect();
    fields.push(("username".into(), "alice".into()));
    fields.push(("password".into(), ALICE_PASSWORD.into()));
    let p = b.post("/oauth2/login", &fields).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_page_headers(&p);
    let mut wrong = fields.clone();
    wrong.push(("csrf".into(), "A".repeat(43)));
    assert_eq!(
        b.post("/oauth2/login", &wrong).await.status,
        StatusCode::FORBIDDEN
    );
    let mut stranger = s.browser();
    let mut stolen = fields.clone();
    stolen.push(("csrf".into(), b.cookies["iam_csrf"].clone()));
    assert_eq!(
        stranger.post("/oauth2/login", &stolen).await.status,
        StatusCode::FORBIDDEN
    );
    // The consent, device and logout forms check it too.
    let consent = b.login(&login, "alice", ALICE_PASSWORD).await;
    assert_eq!(consent.status, StatusCode::OK);
    for path in [
        "/oauth2/consent",
        "/oauth2/device",
        "/oauth2/device/decision",
        "/oauth2/logout",
    ] {
        let p = b
            .post(
                path,
                &[
                    ("decision".into(), "allow".into()),
                    ("csrf".into(), "x".into()),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
    }
    // A wrong password re-renders the form with a generic message.
    let mut fresh = s.browser();
    let page = fresh.get("/oauth2/login").await;
    let failed = fresh.login(&page, "alice", "wrong password").await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    assert!(failed.body.contains("not correct"));
    assert!(!fresh.cookies.contains_key("iam_session"));
}

#[tokio::test(flavor = "multi_thread")]
async fn secure_cookies_use_host_prefix() {
    let s = start(
        SystemClock,
        Options {
            secure_cookies: true,
            ..Options::default()
        },
    )
    .await;
    let r = s.http.get(s.url("/oauth2/login")).send().await.unwrap();
    let p = page(r).await;
    let csrf = p
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-iam_csrf="))
        .unwrap();
    for flag in ["; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"] {
        assert!(csrf.contains(flag), "{csrf}");
    }
    // The session cookie too (cookies sent by hand: the server is plain HTTP).
    let mut b = s.browser();
    let login = b.get("/oauth2/login").await;
    let done = b.login(&login, "alice", ALICE_PASSWORD).await;
    let session = done
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-iam_session="))
        .unwrap();
    for flag in ["; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"] {
        assert!(session.contains(flag), "{session}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_jwks_and_webfinger() {
    let s = start(
        SystemClock,
        Options {
            webfinger: WebFingerPublication::All,
            ..Options::default()
        },
    )
    .await;
    let m: Value = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["issuer"], s.base.as_str());
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert_eq!(m["authorization_endpoint"], s.url("/oauth2/authorize"));
    assert_eq!(m["token_endpoint"], s.url("/oauth2/token"));
    assert_eq!(m["revocation_endpoint"], s.url("/oauth2/revoke"));
    assert_eq!(m["introspection_endpoint"], s.url("/oauth2/introspect"));
    assert_eq!(
        m["device_authorization_endpoint"],
        s.url("/oauth2/device_authorization")
    );
    assert_eq!(m["jwks_uri"], s.url("/oauth2/jwks"));
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

    let jwks: Value = s
        .http
        .get(s.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert!(key["x"].is_string() && key["kid"].is_string(), "{jwks}");
    let ktys: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap())
        .collect();
    assert_eq!(ktys, ["OKP", "RSA", "EC", "OKP"], "{jwks}");

    let wf = |q: &str| {
        let url = s.url(&format!("/.well-known/webfinger?{q}"));
        let http = s.http.clone();
        async move { page(http.get(url).send().await.unwrap()).await }
    };
    let p = wf("resource=acct%3Aalice%40127.0.0.1").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.header("content-type"), "application/jrd+json");
    let j = p.json();
    assert_eq!(j["subject"], "acct:alice@127.0.0.1");
    assert_eq!(j["links"][0]["href"], s.base.as_str());
    let p = wf("resource=acct%3Anobody%40127.0.0.1").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_eq!(p.json()["error"], "not_found");
    let p = wf("resource=acct%3Aalice%40other.example").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = wf("resource=https%3A%2F%2Fexample.com%2F").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert_oauth_error(&wf("rel=x").await, 400, "invalid_request");
    assert_oauth_error(
        &wf("resource=acct%3Aalice%40127.0.0.1&resource=acct%3Ab%40127.0.0.1").await,
        400,
        "invalid_request",
    );
    let p =
        wf("resource=acct%3Aalice%40127.0.0.1&rel=http%3A%2F%2Fwebfinger.net%2Frel%2Favatar").await;
    assert_eq!(p.json()["links"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn totp_code_on_the_login_page() {
    let s = server().await;
    let alice = s
        .iam
        .account_by_username(iam_core::Caller::System, "alice")
        .await
        .unwrap()
        .unwrap();
    let e = s
        .iam
        .enrol_totp(iam_core::Caller::System, &alice.id)
        .await
        .unwrap();
    let totp = totp_rs::TOTP::from_url_unchecked(e.uri.expose()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    s.iam
        .confirm_totp(iam_core::Caller::System, &alice.id, &totp.generate(now))
        .await
        .unwrap();

    let mut b = s.browser();
    let login = b.get("/oauth2/login").await;
    let asked = b.login(&login, "alice", ALICE_PASSWORD).await;
    assert_eq!(asked.status, StatusCode::UNAUTHORIZED, "{}", asked.body);
    assert!(asked.body.contains("one-time code"), "{}", asked.body);
    assert!(!b.cookies.contains_key("iam_session"));
    let code = totp.generate(now + 30);
    let done = b
        .submit(
            &asked,
            &[
                ("username", "alice"),
                ("password", ALICE_PASSWORD),
                ("totp", &code),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("signed in"), "{}", done.body);
    assert!(b.cookies.contains_key("iam_session"));
}

#[tokio::test(flavor = "multi_thread")]
async fn login_page_is_rate_limited_per_address() {
    let s = start(
        SystemClock,
        Options {
            rate_limit: iam_axum::RateLimit {
                burst: 2,
                per_second: 0.01,
                max_tracked: 100,
            },
            ..Options::default()
        },
    )
    .await;
    let mut b = s.browser();
    assert_eq!(b.get("/oauth2/login").await.status, StatusCode::OK);
    assert_eq!(b.get("/oauth2/login").await.status, StatusCode::OK);
    let limited = b.get("/oauth2/login").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").parse::<u64>().unwrap() >= 1);
    assert_eq!(limited.json()["error"], "rate_limited");
    // The device pages share the limit, also under the configured alias `/device`.
    for path in ["/oauth2/device", "/device"] {
        assert_eq!(
            b.get(path).await.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{path}"
        );
    }
    // The protocol endpoints are not limited by it.
    let m = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), StatusCode::OK);
}

/// GETs WebFinger for `resource` (already form-encoded).
async fn webfinger<C: Clock>(s: &Server<C>, resource: &str) -> Page {
    let url = s.url(&format!("/.well-known/webfinger?resource={resource}"));
    page(s.http.get(url).send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn webfinger_publishes_no_account_by_default() {
    let s = server().await;
    let alice = webfinger(&s, "acct%3Aalice%40127.0.0.1").await;
    let nobody = webfinger(&s, "acct%3Anobody%40127.0.0.1").await;
    // An existing account and a missing one get the same answer: status, headers, body.
    for p in [&alice, &nobody] {
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.body);
        assert_eq!(p.json()["error"], "not_found");
    }
    assert_eq!(alice.body, nobody.body);
    for h in [
        "content-type",
        "access-control-allow-origin",
        "cache-control",
    ] {
        assert_eq!(alice.header(h), nobody.header(h), "{h}");
    }
    // Malformed queries are still refused as such.
    let bad = page(
        s.http
            .get(s.url("/.well-known/webfinger?rel=x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_oauth_error(&bad, 400, "invalid_request");
}

#[tokio::test(flavor = "multi_thread")]
async fn csrf_token_is_replaced_at_sign_in_and_sign_out() {
    let s = server().await;
    let (client_id, _) = web_client(&s, "Rotation").await;
    let (_, challenge) = pkce();
    let mut b = s.browser();
    let login = b.get(&authorize_url(&s, &client_id, &challenge, "")).await;
    let before = b.cookies["iam_csrf"].clone();
    let consent = b.login(&login, "alice", ALICE_PASSWORD).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let after = b.cookies["iam_csrf"].clone();
    assert_ne!(before, after, "a fresh CSRF cookie at sign-in");
    let fields = harness::hidden_fields(&consent.body);
    assert!(fields.contains(&("csrf".to_owned(), after.clone())));
    // The token from before the login no longer validates.
    let mut stale: Vec<(String, String)> = fields
        .iter()
        .filter(|(n, _)| n != "csrf")
        .cloned()
        .collect();
    stale.push(("csrf".into(), before.clone()));
    stale.push(("decision".into(), "allow".into()));
    let refused = b.post("/oauth2/consent", &stale).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    // The one issued at sign-in does.
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    assert!(done.location().starts_with(REDIRECT), "{}", done.body);
    // Signing out replaces it again.
    let signed_in = b.get("/oauth2/login").await;
    assert!(signed_in.body.contains("Sign out"), "{}", signed_in.body);
    let out = b.submit(&signed_in, &[]).await;
    assert_eq!(out.status, StatusCode::OK);
    assert_ne!(b.cookies["iam_csrf"], after);
}

/// Registers a confidential client allowed the client credentials grant.
async fn machine_client<C: Clock>(s: &Server<C>, name: &str) -> (String, String) {
    let reg = s
        .register(NewClient::confidential(name).grants([GrantType::ClientCredentials]))
        .await;
    (
        reg.client.id,
        reg.client_secret.unwrap().expose().to_owned(),
    )
}

fn assert_rate_limited(p: &Page) {
    assert_oauth_error(p, 429, "rate_limited");
    assert!(p.header("retry-after").parse::<u64>().unwrap() >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoints_are_rate_limited_per_address_and_per_client() {
    let slow = |burst| RateLimit {
        burst,
        per_second: 0.01,
        max_tracked: 100,
    };
    let cc = [("grant_type", "client_credentials")];

    // Per address: the token and device authorization endpoints share one budget.
    let s = start(
        SystemClock,
        Options {
            token_rate_limit: slow(3),
            client_rate_limit: RateLimit::off(),
            ..Options::default()
        },
    )
    .await;
    let (id, secret) = machine_client(&s, "by-address").await;
    for _ in 0..2 {
        let p = post_form(&s, "/oauth2/token", Some((&id, &secret)), &cc).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    }
    let ghost = [("client_id", "ghost")];
    let p = post_form(&s, "/oauth2/device_authorization", None, &ghost).await;
    assert_oauth_error(&p, 401, "invalid_client");
    assert_rate_limited(&post_form(&s, "/oauth2/token", Some((&id, &secret)), &cc).await);
    assert_rate_limited(&post_form(&s, "/oauth2/device_authorization", None, &ghost).await);

    // Per client.
    let s = start(
        SystemClock,
        Options {
            token_rate_limit: RateLimit::off(),
            client_rate_limit: slow(3),
            ..Options::default()
        },
    )
    .await;
    let (a, a_secret) = machine_client(&s, "a").await;
    let (b, b_secret) = machine_client(&s, "b").await;
    let token = |id: &str, secret: &str| {
        let (id, secret) = (id.to_owned(), secret.to_owned());
        let s = &s;
        async move { post_form(s, "/oauth2/token", Some((&id, &secret)), &cc).await }
    };
    // Until answered once, client ids count in their address's bucket; made-up ids too.
    assert_eq!(token(&a, &a_secret).await.status, StatusCode::OK);
    assert_eq!(token(&b, &b_secret).await.status, StatusCode::OK);
    assert_oauth_error(&token("ghost-1", "x").await, 401, "invalid_client");
    assert_rate_limited(&token("ghost-2", "x").await);
    // Answered clients count on their own.
    for _ in 0..3 {
        assert_eq!(token(&a, &a_secret).await.status, StatusCode::OK);
    }
    assert_rate_limited(&token(&a, &a_secret).await);
    assert_eq!(token(&b, &b_secret).await.status, StatusCode::OK);
    // Wrong credentials for a known client do not use up its bucket.
    for _ in 0..5 {
        assert_oauth_error(&token(&b, "wrong").await, 401, "invalid_client");
    }
    assert_eq!(token(&b, &b_secret).await.status, StatusCode::OK);
    assert_eq!(token(&b, &b_secret).await.status, StatusCode::OK);
    assert_rate_limited(&token(&b, &b_secret).await);
}

fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}

/// An Ed25519 key pair for client assertions: its public JWK set and the signing key.
fn assertion_key() -> (Value, jsonwebtoken::EncodingKey) {
    use base64::Engine as _;
    use ring::signature::KeyPair as _;
    let pkcs8 =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    (
        serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x}]}),
        jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref()),
    )
}

#[tokio::test]
async fn private_key_jwt_at_the_token_and_introspection_endpoints() {
    use iam_core::oauth::{ClientJwks, TokenEndpointAuthMethod, CLIENT_ASSERTION_TYPE_JWT};
    let s = server().await;
    let (set, key) = assertion_key();
    let mut new = NewClient::confidential("signer")
        .grants([GrantType::ClientCredentials])
        .scopes(["notes:read"]);
    new.oidc.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::PrivateKeyJwt);
    new.oidc.jwks = Some(ClientJwks::from_json(&set).unwrap());
    let reg = s.register(new).await;
    assert!(reg.client_secret.is_none());
    let id = reg.client.id;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let assertion = |jti: &str, aud: &str| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let claims = serde_json::json!({"iss": id, "sub": id, "aud": aud,
            "exp": now + 60, "iat": now, "jti": jti});
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let token_url = s.url("/oauth2/token");
    let first = assertion("j1", &token_url);
    let grant = |jwt: &str| {
        vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            (
                "client_assertion_type".to_owned(),
                CLIENT_ASSERTION_TYPE_JWT.to_owned(),
            ),
            ("client_assertion".to_owned(), jwt.to_owned()),
        ]
    };
    let ok = post_form(&s, "/oauth2/token", None, &borrowed(&grant(&first))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let access = ok.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(ok.json()["scope"], "notes:read");
    // Replayed: refused as invalid_client (401).
    let again = post_form(&s, "/oauth2/token", None, &borrowed(&grant(&first))).await;
    assert_oauth_error(&again, 401, "invalid_client");
    // The issuer is an audience; client_id beside the assertion must match its subject.
    let mut with_id = grant(&assertion("j2", &s.base));
    with_id.push(("client_id".to_owned(), id.clone()));
    let ok = post_form(&s, "/oauth2/token", None, &borrowed(&with_id)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let mut other_id = grant(&assertion("j3", &s.base));
    other_id.push(("client_id".to_owned(), "cli_other".to_owned()));
    let refused = post_form(&s, "/oauth2/token", None, &borrowed(&other_id)).await;
    assert_oauth_error(&refused, 401, "invalid_client");
    // Another audience, an unknown assertion type, half an assertion, two methods.
    let wrong_aud = post_form(
        &s,
        "/oauth2/token",
        None,
        &borrowed(&grant(&assertion("j4", "https://elsewhere.example"))),
    )
    .await;
    assert_oauth_error(&wrong_aud, 401, "invalid_client");
    let mut other_type = grant(&assertion("j5", &token_url));
    other_type[1].1 = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer".to_owned();
    assert_oauth_error(
        &post_form(&s, "/oauth2/token", None, &borrowed(&other_type)).await,
        401,
        "invalid_client",
    );
    let half = grant(&assertion("j6", &token_url));
    assert_oauth_error(
        &post_form(&s, "/oauth2/token", None, &borrowed(&half[..2])).await,
        400,
        "invalid_request",
    );
    let both = post_form(
        &s,
        "/oauth2/token",
        Some((&id, "iam_cs_guess")),
        &borrowed(&grant(&assertion("j7", &token_url))),
    )
    .await;
    assert_oauth_error(&both, 400, "invalid_request");
    // A secret is refused for this client.
    let secret = post_form(
        &s,
        "/oauth2/token",
        Some((&id, "iam_cs_guess")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&secret, 401, "invalid_client");
    // Introspection takes an assertion too.
    let mut introspect = grant(&assertion("j8", &token_url));
    introspect[0] = ("token".to_owned(), access);
    let info = post_form(&s, "/oauth2/introspect", None, &borrowed(&introspect)).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.json()["active"], true);
    // Discovery says so.
    let meta = s
        .http
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "private_key_jwt"));
    assert_eq!(
        meta["token_endpoint_auth_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256", "EdDSA"])
    );
}

/// Authlib (Python) as a `private_key_jwt` client with its default assertions; skipped
/// without python3 and authlib.
#[tokio::test]
async fn authlib_authenticates_with_private_key_jwt() {
    use base64::Engine as _;
    use iam_core::oauth::{ClientJwks, TokenEndpointAuthMethod};
    use ring::signature::KeyPair as _;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/rp");
    let has_authlib = std::process::Command::new("python3")
        .args(["-c", "import authlib, joserfc, requests"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_authlib {
        eprintln!("skipped: no python3 with authlib, joserfc and requests");
        return;
    }
    let s = server().await;
    let pkcs8 =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let x = b64(pair.public_key().as_ref());
    // ring's PKCS#8 v2 document holds the 32-byte seed at bytes 16..48.
    let private = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x,
        "d": b64(&pkcs8.as_ref()[16..48])});
    let set = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]});
    let mut new = NewClient::confidential("authlib")
        .grants([GrantType::ClientCredentials])
        .scopes(["notes:read"]);
    new.oidc.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::PrivateKeyJwt);
    new.oidc.jwks = Some(ClientJwks::from_json(&set).unwrap());
    let reg = s.register(new).await;
    let mut python = std::process::Command::new("python3");
    python
        .arg("pkjwt_authlib.py")
        .current_dir(dir)
        .env("TOKEN_ENDPOINT", s.url("/oauth2/token"))
        .env("CLIENT_ID", &reg.client.id)
        .env("KEY_JWK", private.to_string())
        .env("REPLAY", "1");
    // Off the runtime, which serves the requests meanwhile.
    let out = tokio::task::spawn_blocking(move || python.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let access = v["token"]["access_token"].as_str().unwrap();
    let who = s.iam.verify(access).await.unwrap();
    assert_eq!(who.client_id.as_deref(), Some(reg.client.id.as_str()));
    assert_eq!(
        v["statuses"],
        serde_json::json!([200, 401]),
        "the replay is refused"
    );
}
