//! The login and consent pages in a real browser: Debian's Chromium, headless, driven over
//! WebDriver (chromedriver) with plain HTTP requests, completes one authorization-code + PKCE
//! flow to a client on another origin, with no JavaScript on the pages; and single sign-on
//! across two OpenID Connect relying parties (silent `prompt=none` sign-in, then RP-initiated
//! logout).
//!
//! Needs `chromium` and `chromium-driver` (Debian packages). Without them the test is skipped
//! with a message, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;
#[path = "interop/webdriver.rs"]
mod webdriver;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use harness::{pkce, query_params, start, Options, Server, ALICE_PASSWORD};
use iam_core::{
    AuthorizeOutcome, AuthorizeRequest, GrantType, LoginRequest, NewClient, SystemClock,
};
use serde_json::{json, Value};
use webdriver::{browser_available, Driver, Session};

/// Signs in as alice on the login page, then allows on the consent page.
async fn sign_in_and_allow(session: &Session<'_>, client_name: &str) {
    session.sign_in("alice", ALICE_PASSWORD).await;
    session.wait_for("button[value=allow]").await;
    assert!(session.text().await.contains(client_name));
    session.click("button[value=allow]").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authorization_code_flow_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let s = start(SystemClock, Options::default()).await;
    // The client lives on another origin (localhost, not 127.0.0.1) of the same test server.
    let port = s.base.rsplit(':').next().unwrap().to_owned();
    let redirect = format!("http://localhost:{port}/test/callback");
    let reg = s
        .register(
            NewClient::confidential("Browser app")
                .redirect_uri(redirect.clone())
                .grants([GrantType::AuthorizationCode])
                .scopes(["profile"]),
        )
        .await;
    let (verifier, challenge) = pkce();
    let authorize = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope=profile&state=xyz&code_challenge={challenge}&code_challenge_method=S256",
        s.url("/oauth2/authorize"),
        reg.client.id,
        harness::enc(&redirect)
    );

    let driver = Driver::start().await;
    let session = driver.session().await;

    session.goto(&authorize).await;
    session.wait_for("#username").await;
    session.type_into("#username", "alice").await;
    session.type_into("#password", ALICE_PASSWORD).await;
    session.click("button[type=submit]").await;
    session.wait_for("button[value=allow]").await;
    assert!(session.text().await.contains("Browser app"));
    // The session cookie is HttpOnly: scripts cannot read it.
    let cookies = session
        .post(
            "/execute/sync",
            json!({ "script": "return document.cookie", "args": [] }),
        )
        .await;
    assert!(
        !cookies.as_str().unwrap_or_default().contains("iam_session"),
        "{cookies}"
    );
    session.click("button[value=allow]").await;

    let landed = session.wait_for_url(&redirect).await;
    assert!(session.text().await.contains("callback reached"));
    let q = query_params(&landed);
    assert_eq!(q["state"], "xyz");
    session.close().await;

    let tok = s.exchange(&reg, &redirect, &q["code"], &verifier).await;
    assert!(tok["access_token"].is_string(), "{tok}");
}

/// The payload of a JWT, unverified (the relying parties' own checks are not under test here).
fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A relying party's web server on its own origin (`http://localhost:<port>`): a callback
/// page and a page to land on after logout.
async fn relying_party(name: &'static str) -> String {
    let app = axum::Router::new()
        .route(
            "/callback",
            axum::routing::get(move || async move { format!("{name} callback") }),
        )
        .route(
            "/logged-out",
            axum::routing::get(move || async move { format!("signed out of {name}") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://localhost:{port}")
}

/// An authorization request of `client` for `openid profile`, with PKCE; its verifier.
fn oidc_authorize_url(
    s: &Server<SystemClock>,
    client: &str,
    redirect: &str,
    state: &str,
    prompt: Option<&str>,
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut url = format!(
        "{}?response_type=code&client_id={client}&redirect_uri={}&scope=openid%20profile&state={state}&nonce=n-{state}&code_challenge={challenge}&code_challenge_method=S256",
        s.url("/oauth2/authorize"),
        harness::enc(redirect),
    );
    if let Some(p) = prompt {
        url.push_str("&prompt=");
        url.push_str(p);
    }
    (url, verifier)
}

/// Single sign-on across two relying parties: signing in (login and consent pages) for the
/// first makes `prompt=none` for the second, which alice consented to earlier, succeed with no
/// page shown; RP-initiated logout from the first ends it, so `prompt=none` for the second then
/// answers `login_required`.
#[tokio::test(flavor = "multi_thread")]
async fn single_sign_on_and_logout_across_two_relying_parties_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let s = start(SystemClock, Options::default()).await;
    let (rp1, rp2) = (relying_party("RP one").await, relying_party("RP two").await);
    let (cb1, cb2) = (format!("{rp1}/callback"), format!("{rp2}/callback"));
    let after_logout = format!("{rp1}/logged-out");
    let mut new1 = NewClient::confidential("RP one")
        .redirect_uri(cb1.clone())
        .grants([GrantType::AuthorizationCode])
        .scopes(["openid", "profile"]);
    new1.oidc.post_logout_redirect_uris = vec![after_logout.clone()];
    let reg1 = s.register(new1).await;
    let reg2 = s
        .register(
            NewClient::confidential("RP two")
                .redirect_uri(cb2.clone())
                .grants([GrantType::AuthorizationCode])
                .scopes(["openid", "profile"]),
        )
        .await;

    // Alice consented to RP two once before, in another session (not this browser's).
    let elsewhere = s
        .iam
        .login(&LoginRequest::password("alice", ALICE_PASSWORD))
        .await
        .unwrap();
    let alice = s
        .iam
        .verify(elsewhere.tokens.access_token.expose())
        .await
        .unwrap();
    let (url, _) = oidc_authorize_url(&s, &reg2.client.id, &cb2, "earlier", None);
    let earlier =
        AuthorizeRequest::from_params(&query_params(&url).into_iter().collect::<Vec<_>>());
    let outcome = s.iam.consent_and_authorize(&earlier, &alice).await.unwrap();
    assert!(matches!(outcome, AuthorizeOutcome::Redirect(_)));
    s.iam.logout(&alice).await.unwrap();

    let driver = Driver::start().await;
    let session = driver.session().await;
    let silent_rp2 =
        |state: &str| oidc_authorize_url(&s, &reg2.client.id, &cb2, state, Some("none"));

    // Not signed in here: prompt=none for RP two answers login_required, without a page.
    let (url, _) = silent_rp2("before");
    session.goto(&url).await;
    let q = query_params(&session.wait_for_url(&cb2).await);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("login_required"),
        "{q:?}"
    );
    assert_eq!(q["state"], "before");
    assert!(!q.contains_key("code"));

    // Signing in for RP one: the login and consent pages, then RP one's code and ID token.
    let (url, verifier) = oidc_authorize_url(&s, &reg1.client.id, &cb1, "one", None);
    session.goto(&url).await;
    sign_in_and_allow(&session, "RP one").await;
    let q = query_params(&session.wait_for_url(&cb1).await);
    assert_eq!(q["state"], "one");
    assert!(session.text().await.contains("RP one callback"));
    let tok1 = s.exchange(&reg1, &cb1, &q["code"], &verifier).await;
    let id_token1 = tok1["id_token"].as_str().unwrap().to_owned();
    let c1 = jwt_claims(&id_token1);
    assert_eq!(c1["aud"], reg1.client.id.as_str());
    assert_eq!(c1["nonce"], "n-one");
    assert_eq!(c1["iss"], s.base.as_str());
    assert_eq!(c1["sub"], alice.account_id.as_str());

    // prompt=none for RP two now lands on its callback with a code: the browser's session
    // signs alice in there with no page (prompt=none never shows one; an interaction needed
    // would have been an error).
    let (url, verifier) = silent_rp2("silent");
    session.goto(&url).await;
    let q = query_params(&session.wait_for_url(&cb2).await);
    assert_eq!(q["state"], "silent");
    assert!(!q.contains_key("error"), "{q:?}");
    assert!(session.text().await.contains("RP two callback"));
    let tok2 = s.exchange(&reg2, &cb2, &q["code"], &verifier).await;
    let c2 = jwt_claims(tok2["id_token"].as_str().unwrap());
    assert_eq!(c2["aud"], reg2.client.id.as_str());
    assert_eq!(c2["nonce"], "n-silent");
    assert_eq!(c2["sub"], c1["sub"]);

    // RP-initiated logout from RP one, at the endpoint discovery names.
    let discovery: Value = s
        .http
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let end_session = discovery["end_session_endpoint"].as_str().unwrap();
    session
        .goto(&format!(
            "{end_session}?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
            harness::enc(&id_token1),
            harness::enc(&after_logout),
        ))
        .await;
    let landed = session.wait_for_url(&after_logout).await;
    assert_eq!(query_params(&landed)["state"], "bye");
    assert!(session.text().await.contains("signed out of RP one"));

    // The single sign-on session is over: prompt=none for RP two answers login_required.
    let (url, _) = silent_rp2("after");
    session.goto(&url).await;
    let q = query_params(&session.wait_for_url(&cb2).await);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("login_required"),
        "{q:?}"
    );
    assert_eq!(q["state"], "after");
    assert!(!q.contains_key("code"));
    session.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_with_an_upstream_iam_in_headless_chromium() {
    use iam_core::upstream::{Provisioning, SealedClientSecret};
    use iam_core::{Caller, NewAccount, SecretString, UpstreamProvider};

    if !browser_available() {
        return;
    }
    // The upstream on `localhost`, the downstream on `127.0.0.1`: two origins, two cookie jars.
    let up = start(
        SystemClock,
        Options {
            host: "localhost",
            ..Options::default()
        },
    )
    .await;
    up.iam
        .create_account(NewAccount::human("dora", "dora password 1"), Caller::System)
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let reg = up
        .register(
            NewClient::confidential("Downstream iam")
                .redirect_uri(format!("{down_base}/login/upstream/corp/callback"))
                .grants([GrantType::AuthorizationCode])
                .scopes(["openid", "profile", "email"]),
        )
        .await;
    let secret = SecretString::new(reg.client_secret.unwrap().expose());
    let issuer = up.base.clone();
    let client_id = reg.client.id.clone();
    let down = start(
        SystemClock,
        Options {
            listener: Some(listener),
            adjust: Some(Box::new(move |c| {
                let sealed = SealedClientSecret::seal(&c.master_key, "corp", &secret).unwrap();
                let mut p = UpstreamProvider::new("corp", "Corp", issuer, client_id, sealed);
                p.provisioning = Provisioning::CreateOnFirstLogin;
                c.upstream = vec![p];
            })),
            ..Options::default()
        },
    )
    .await;

    let d = Driver::start().await;
    let b = d.session().await;
    b.goto(&down.url("/oauth2/login")).await;
    b.wait_for("form[action=\"/login/upstream/corp\"] button")
        .await;
    assert!(b.text().await.contains("Sign in with Corp"));
    b.click("form[action=\"/login/upstream/corp\"] button")
        .await;
    // The upstream's pages: sign in, then allow the downstream iam.
    b.wait_for_url(&up.base).await;
    b.wait_for("#username").await;
    b.type_into("#username", "dora").await;
    b.type_into("#password", "dora password 1").await;
    b.click("button[type=submit]").await;
    b.wait_for("button[value=allow]").await;
    assert!(b.text().await.contains("Downstream iam"));
    b.click("button[value=allow]").await;
    // Back at the downstream, signed in.
    b.wait_for_url(&down.base).await;
    b.wait_for("main").await;
    for _ in 0..50 {
        if b.text().await.contains("You are signed in") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        b.text().await.contains("You are signed in"),
        "{}",
        b.text().await
    );
    let dora = down
        .iam
        .account_by_username(Caller::System, "dora")
        .await
        .unwrap()
        .expect("provisioned at the first login");
    let links = down
        .iam
        .upstream_links(Caller::System, &dora.id)
        .await
        .unwrap();
    assert_eq!(links[0].issuer, up.base);
    b.close().await;
}
