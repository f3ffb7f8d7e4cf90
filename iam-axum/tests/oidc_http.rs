//! The OpenID Connect endpoints over HTTP: one discovery document, the `form_post` response
//! mode under its content security policy, RFC 6750 answers of userinfo, and RP-initiated
//! logout that never redirects to an unregistered URI.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;

use base64::Engine as _;
use harness::{pkce, query_params, start, Browser, Options, Server, ALICE_PASSWORD};
use iam_core::{GrantType, NewClient, SystemClock};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Digest as _;

const REDIRECT: &str = "https://rp.example/cb";
const AFTER_LOGOUT: &str = "https://rp.example/bye";

async fn server() -> Server<SystemClock> {
    start(SystemClock, Options::default()).await
}

/// A relying party allowed `openid profile`, returning to [`AFTER_LOGOUT`] after logout.
async fn relying_party(s: &Server<SystemClock>) -> (String, String) {
    let mut new = NewClient::confidential("Wiki")
        .redirect_uri(REDIRECT)
        .grants([GrantType::AuthorizationCode])
        .scopes(["openid", "profile"]);
    new.oidc.post_logout_redirect_uris = vec![AFTER_LOGOUT.into()];
    let reg = s.register(new).await;
    (
        reg.client.id,
        reg.client_secret.unwrap().expose().to_owned(),
    )
}

fn authorize_url(s: &Server<SystemClock>, client_id: &str, challenge: &str, extra: &str) -> String {
    format!(
        "{}?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20profile&state=st1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256{extra}",
        s.url("/oauth2/authorize"),
        harness::enc(REDIRECT)
    )
}

async fn get_json(s: &Server<SystemClock>, path: &str) -> Value {
    let r = s.http.get(s.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_discovery_document_names_one_issuer_and_the_oidc_endpoints() {
    let s = server().await;
    let oidc = get_json(&s, "/.well-known/openid-configuration").await;
    let oauth = get_json(&s, "/.well-known/oauth-authorization-server").await;
    assert_eq!(oidc, oauth);
    assert_eq!(oidc["issuer"], s.base.as_str());
    assert_eq!(
        oidc["userinfo_endpoint"],
        s.url("/oauth2/userinfo").as_str()
    );
    assert_eq!(
        oidc["end_session_endpoint"],
        s.url("/oauth2/end_session").as_str()
    );
    assert_eq!(
        oidc["response_modes_supported"],
        serde_json::json!(["query", "form_post"])
    );
    let jwks_uri = oidc["jwks_uri"].as_str().unwrap().to_owned();
    let jwks: Value = s
        .http
        .get(&jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["alg"] == alg && k["use"] == "sig" && k["kid"].is_string()),
            "{alg} in {jwks}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn form_post_answers_with_a_self_submitting_form_under_its_own_policy() {
    let s = server().await;
    let (id, _) = relying_party(&s).await;
    let (_, challenge) = pkce();
    let mut b = Browser::new(&s.base);
    let login = b
        .get(&authorize_url(
            &s,
            &id,
            &challenge,
            "&response_mode=form_post",
        ))
        .await;
    assert!(
        login
            .body
            .contains("Sign in to continue to <strong>Wiki</strong>."),
        "the login page names the application asking: {}",
        login.body
    );
    let consent = b.login(&login, "alice", ALICE_PASSWORD).await;
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body
            .contains(&format!("<form method=\"post\" action=\"{REDIRECT}\">")),
        "{}",
        done.body
    );
    for field in ["code", "state", "iss"] {
        assert!(done.body.contains(&format!("name=\"{field}\"")), "{field}");
    }
    let csp = done.header("content-security-policy");
    assert!(csp.contains(&format!("form-action {REDIRECT}")), "{csp}");
    // The one script allowed is the one on the page, by its hash.
    let script = done
        .body
        .split("<script>")
        .nth(1)
        .and_then(|t| t.split("</script>").next())
        .unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script));
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
}

#[tokio::test(flavor = "multi_thread")]
async fn userinfo_answers_errors_as_rfc_6750_says() {
    let s = server().await;
    let userinfo = s.url("/oauth2/userinfo");
    let r = s.http.get(&userinfo).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"iam\"");
    let r = s
        .http
        .get(&userinfo)
        .bearer_auth("v4.public.garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    // A login session's own token is not a delegated one.
    let login = s
        .iam
        .login(&iam_core::LoginRequest::password("alice", ALICE_PASSWORD))
        .await
        .unwrap();
    let r = s
        .http
        .post(&userinfo)
        .bearer_auth(login.tokens.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"insufficient_scope\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn rp_initiated_logout_returns_only_to_registered_uris() {
    let s = server().await;
    let (id, secret) = relying_party(&s).await;
    let (verifier, challenge) = pkce();
    let mut b = Browser::new(&s.base);
    let login = b.get(&authorize_url(&s, &id, &challenge, "")).await;
    let consent = b.login(&login, "alice", ALICE_PASSWORD).await;
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    let code = query_params(&done.location())["code"].clone();
    let tokens: Value = s
        .http
        .post(s.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hint = tokens["id_token"].as_str().unwrap().to_owned();
    let end = |uri: &str| {
        format!(
            "{}?id_token_hint={hint}&post_logout_redirect_uri={}&state=s9",
            s.url("/oauth2/end_session"),
            harness::enc(uri)
        )
    };
    // An unregistered URI is refused, shown, never redirected to, and nobody is signed out.
    let refused = b.get(&end("https://evil.example/")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.headers.get("location").is_none());
    assert!(!refused.body.contains("evil.example"));
    // A forged hint (unsigned) is refused too.
    let unsigned = format!(
        "{}?id_token_hint={}.{}.",
        s.url("/oauth2/end_session"),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        hint.split('.').nth(1).unwrap()
    );
    assert_eq!(b.get(&unsigned).await.status, StatusCode::BAD_REQUEST);
    // Still signed in: prompt=none gets a code.
    let (_, c2) = pkce();
    let silent = b.get(&authorize_url(&s, &id, &c2, "&prompt=none")).await;
    assert!(query_params(&silent.location()).contains_key("code"));
    // The registered URI, with the hint naming the signed-in user: out at once, back to the RP.
    let out = b.get(&end(AFTER_LOGOUT)).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert_eq!(out.location(), format!("{AFTER_LOGOUT}?state=s9"));
    let (_, c3) = pkce();
    let after = b.get(&authorize_url(&s, &id, &c3, "&prompt=none")).await;
    assert_eq!(query_params(&after.location())["error"], "login_required");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_without_a_hint_asks_the_user_first() {
    let s = server().await;
    let (id, _) = relying_party(&s).await;
    let (_, challenge) = pkce();
    let mut b = Browser::new(&s.base);
    let login = b.get(&authorize_url(&s, &id, &challenge, "")).await;
    let consent = b.login(&login, "alice", ALICE_PASSWORD).await;
    b.submit(&consent, &[("decision", "allow")]).await;
    let ask = b.get(&s.url("/oauth2/end_session")).await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("Sign out?"), "{}", ask.body);
    // Still signed in until the user confirms.
    let (_, c2) = pkce();
    let silent = b.get(&authorize_url(&s, &id, &c2, "&prompt=none")).await;
    assert!(query_params(&silent.location()).contains_key("code"));
    let done = b.submit(&ask, &[("confirm", "yes")]).await;
    assert!(done.body.contains("You are signed out."), "{}", done.body);
    let (_, c3) = pkce();
    let after = b.get(&authorize_url(&s, &id, &c3, "&prompt=none")).await;
    assert_eq!(query_params(&after.location())["error"], "login_required");
}
