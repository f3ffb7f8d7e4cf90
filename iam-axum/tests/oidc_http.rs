//! The OpenID Connect endpoints over HTTP: one discovery document, the `form_post` response
//! mode under its content security policy, RFC 6750 answers of userinfo, and RP-initiated
//! logout that never redirects to an unregistered URI.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;

use base64::Engine as _;
use harness::{jwt_claims, pkce, query_params, start, Browser, Options, Server, ALICE_PASSWORD};
use iam_core::{Caller, GrantType, NewClient, ProfileUpdate, SystemClock};
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
    scoped_authorize_url(s, client_id, challenge, "openid profile", extra)
}

fn scoped_authorize_url(
    s: &Server<SystemClock>,
    client_id: &str,
    challenge: &str,
    scope: &str,
    extra: &str,
) -> String {
    format!(
        "{}?response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state=st1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256{extra}",
        s.url("/oauth2/authorize"),
        harness::enc(REDIRECT),
        harness::enc(scope)
    )
}

/// `username` signs in at `url` if asked and consents if asked: the code the browser brings
/// back to the client.
async fn code_from(b: &mut Browser, url: &str, username: &str, password: &str) -> String {
    let mut page = b.get(url).await;
    if page.body.contains("name=\"password\"") {
        page = b.login(&page, username, password).await;
    }
    if page.body.contains("name=\"decision\"") {
        page = b.submit(&page, &[("decision", "allow")]).await;
    }
    let q = query_params(&page.location());
    q.get("code")
        .unwrap_or_else(|| panic!("no code: {} {} {}", page.status, page.location(), page.body))
        .clone()
}

/// The token response for `code` (client_secret_basic).
async fn redeem(
    s: &Server<SystemClock>,
    (id, secret): (&str, &str),
    code: &str,
    verifier: &str,
) -> Value {
    let r = s
        .http
        .post(s.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// The id of the account `username`.
async fn account_id(s: &Server<SystemClock>, username: &str) -> String {
    s.iam
        .account_by_username(Caller::System, username)
        .await
        .unwrap()
        .unwrap()
        .id
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
    let tokens = redeem(&s, (&id, &secret), &code, &verifier).await;
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

/// `prompt=select_account` (no account chooser in iam) shows the login page although a user
/// is signed in, and another account may sign in there: the code is that account's.
#[tokio::test(flavor = "multi_thread")]
async fn select_account_shows_the_login_page_where_another_account_may_sign_in() {
    let s = server().await;
    let (id, secret) = relying_party(&s).await;
    let mut b = Browser::new(&s.base);
    let (_, c1) = pkce();
    code_from(
        &mut b,
        &authorize_url(&s, &id, &c1, ""),
        "alice",
        ALICE_PASSWORD,
    )
    .await;
    // Alice is signed in and consented: without a prompt a code comes at once.
    let (_, c2) = pkce();
    let silent = b.get(&authorize_url(&s, &id, &c2, "")).await;
    assert!(query_params(&silent.location()).contains_key("code"));

    let (verifier, c3) = pkce();
    let chooser = b
        .get(&authorize_url(&s, &id, &c3, "&prompt=select_account"))
        .await;
    assert_eq!(chooser.status, StatusCode::OK, "{}", chooser.body);
    assert!(
        chooser.body.contains("name=\"password\""),
        "{}",
        chooser.body
    );
    let consent = b.login(&chooser, "admin", harness::ADMIN_PASSWORD).await;
    // The admin never consented to this client: asked now (not the login page again).
    assert!(
        consent.body.contains("name=\"decision\""),
        "{}",
        consent.body
    );
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    let code = query_params(&done.location())["code"].clone();
    let tokens = redeem(&s, (&id, &secret), &code, &verifier).await;
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], account_id(&s, "admin").await.as_str());

    // Combined with none it is refused, by redirect, as OpenID Connect Core §3.1.2.1 says.
    let (_, c4) = pkce();
    let refused = b
        .get(&authorize_url(
            &s,
            &id,
            &c4,
            "&prompt=none%20select_account",
        ))
        .await;
    let q = query_params(&refused.location());
    assert_eq!(q["error"], "invalid_request", "{}", refused.location());
    assert_eq!(q["state"], "st1");
}

/// Userinfo answers a POST (token in the form body or the header, never both) as it answers
/// a GET, with exactly the claims the token's scopes release: `email` gives `email` and
/// `email_verified` and no profile claim; `profile` the reverse.
#[tokio::test(flavor = "multi_thread")]
async fn userinfo_answers_posts_with_exactly_the_consented_claims() {
    let s = server().await;
    let alice = account_id(&s, "alice").await;
    s.iam
        .update_profile(
            Caller::Principal(&s.admin),
            &alice,
            &ProfileUpdate::default()
                .with_name("Alice Liddell")
                .with_email("alice@example.com")
                .with_email_verified(true),
        )
        .await
        .unwrap();
    let reg = s
        .register(
            NewClient::confidential("Mail")
                .redirect_uri(REDIRECT)
                .grants([GrantType::AuthorizationCode])
                .scopes(["openid", "profile", "email"]),
        )
        .await;
    let client = (
        reg.client.id.clone(),
        reg.client_secret.unwrap().expose().to_owned(),
    );
    let mut b = Browser::new(&s.base);
    let mut token_for = async |scope: &str| {
        let (verifier, challenge) = pkce();
        let url = scoped_authorize_url(&s, &client.0, &challenge, scope, "");
        let code = code_from(&mut b, &url, "alice", ALICE_PASSWORD).await;
        let tokens = redeem(&s, (&client.0, &client.1), &code, &verifier).await;
        tokens["access_token"].as_str().unwrap().to_owned()
    };
    let email_token = token_for("openid email").await;
    let profile_token = token_for("openid profile").await;
    let userinfo = s.url("/oauth2/userinfo");
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let answer = |r: reqwest::Response| async move {
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        r.json::<Value>().await.unwrap()
    };

    // In the form body.
    let by_form = answer(
        s.http
            .post(&userinfo)
            .form(&[("access_token", email_token.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        keys(&by_form),
        ["email", "email_verified", "sub"],
        "{by_form}"
    );
    assert_eq!(by_form["sub"], alice.as_str());
    assert_eq!(by_form["email"], "alice@example.com");
    assert_eq!(by_form["email_verified"], true);
    // In the header of a POST, and of a GET: the same answer.
    let by_header = answer(
        s.http
            .post(&userinfo)
            .bearer_auth(&email_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_header, by_form);
    let by_get = answer(
        s.http
            .get(&userinfo)
            .bearer_auth(&email_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_get, by_form);

    let profile = answer(
        s.http
            .post(&userinfo)
            .form(&[("access_token", profile_token.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        keys(&profile),
        ["name", "preferred_username", "sub", "updated_at"],
        "{profile}"
    );
    assert_eq!(profile["name"], "Alice Liddell");
    assert_eq!(profile["preferred_username"], "alice");

    // Both ways at once: refused (RFC 6750 §2), naming no claim.
    let both = s
        .http
        .post(&userinfo)
        .bearer_auth(&email_token)
        .form(&[("access_token", email_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    let body: Value = both.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    // A form body without a token, and a garbage one.
    let none = s
        .http
        .post(&userinfo)
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let garbage = s
        .http
        .post(&userinfo)
        .form(&[("access_token", "v4.public.garbage")])
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    assert!(garbage.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
}

/// Bad authorization and logout input is answered, never with a 5xx: an unknown `prompt`, an
/// unsigned `id_token_hint` and one naming a key this server never had are redirected to the
/// client as `invalid_request`; end_session's refusals are 400 pages naming
/// `invalid_request`.
#[tokio::test(flavor = "multi_thread")]
async fn bad_authorization_and_logout_input_is_invalid_request() {
    let s = server().await;
    let (id, secret) = relying_party(&s).await;
    let mut b = Browser::new(&s.base);
    let (verifier, challenge) = pkce();
    let code = code_from(
        &mut b,
        &authorize_url(&s, &id, &challenge, ""),
        "alice",
        ALICE_PASSWORD,
    )
    .await;
    let hint = redeem(&s, (&id, &secret), &code, &verifier).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let encode = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let parts: Vec<&str> = hint.split('.').collect();
    let unsigned = format!("{}.{}.", encode(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let foreign_kid = format!(
        "{}.{}.{}",
        encode(r#"{"alg":"RS256","typ":"JWT","kid":"not-a-key-of-this-server"}"#),
        parts[1],
        parts[2]
    );

    for extra in [
        "&prompt=bogus".to_owned(),
        format!("&id_token_hint={unsigned}"),
        format!("&id_token_hint={foreign_kid}"),
        "&id_token_hint=not.a.jwt".to_owned(),
    ] {
        let (_, another) = pkce();
        let r = b.get(&authorize_url(&s, &id, &another, &extra)).await;
        assert_eq!(r.status, StatusCode::FOUND, "{extra}: {}", r.body);
        let location = r.location();
        assert!(location.starts_with(REDIRECT), "{extra}: {location}");
        let q = query_params(&location);
        assert_eq!(q["error"], "invalid_request", "{extra}: {location}");
        assert_eq!(q["state"], "st1");
    }

    let end = s.url("/oauth2/end_session");
    let other = s
        .register(
            NewClient::confidential("Other")
                .redirect_uri(REDIRECT)
                .grants([GrantType::AuthorizationCode])
                .scopes(["openid"]),
        )
        .await
        .client
        .id;
    for query in [
        format!("id_token_hint={unsigned}"),
        format!("id_token_hint={foreign_kid}"),
        "id_token_hint=not.a.jwt".to_owned(),
        format!("id_token_hint={hint}&client_id={other}"),
        format!(
            "id_token_hint={hint}&post_logout_redirect_uri={}",
            harness::enc("https://evil.example/")
        ),
        format!(
            "client_id={id}&post_logout_redirect_uri={}",
            harness::enc("https://evil.example/")
        ),
        format!("post_logout_redirect_uri={}", harness::enc(AFTER_LOGOUT)),
        "state=a&state=b".to_owned(),
        "id_token_hint=%ZZ".to_owned(),
    ] {
        let r = b.get(&format!("{end}?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.body);
        assert!(
            r.body.contains("<code>invalid_request</code>"),
            "{query}: {}",
            r.body
        );
        assert!(r.headers.get("location").is_none(), "{query}");
        assert!(!r.body.contains("evil.example"), "{query}");
    }
    // Nobody was signed out by any of them.
    let (_, last) = pkce();
    let silent = b.get(&authorize_url(&s, &id, &last, "&prompt=none")).await;
    assert!(query_params(&silent.location()).contains_key("code"));
}
