//! Upstream login end to end through browser pages: a second iam server is the upstream
//! OpenID Provider of the first ("Sign in with Corp"), and a small hand-made provider in this
//! file serves ID tokens that are tampered, carry a wrong nonce, are expired or come from
//! another issuer. Browsers are reqwest clients keeping cookies per server; both servers are
//! plain HTTP on 127.0.0.1.
//!
//! node-oidc-provider (`tests/interop/op`, installed by `.ci/run`) is a third-party upstream
//! too; where Node or it is missing that test says why and passes, except under `CI=true`.
//!
//! Covered: provisioning at the first login (groups to roles, sysadmin bootstrap at the first
//! login only), later logins by the link, an OAuth authorization of the downstream server's own
//! client passing through the upstream login, a signed-in user linking and unlinking, an
//! unverified email refused for auto-linking (and a verified one from a trusted provider
//! linked), and bad input: each refused with a page and an audit event, creating and linking
//! nothing.

#![allow(
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    clippy::too_many_lines
)]

#[path = "interop/harness.rs"]
mod harness;
#[path = "interop/script.rs"]
mod script;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use harness::{
    hidden_fields, pkce, query_params, start, Browser, Options, Page, Server, ALICE_PASSWORD,
};
use iam_core::audit::{AuditEvent, AuditKind, AuditQuery};
use iam_core::store::{ListQuery, RecordKind, Store};
use iam_core::upstream::{Provisioning, SealedClientSecret};
use iam_core::{
    Caller, GrantType, NewAccount, NewClient, ProfileUpdate, SecretString, SystemClock,
    UpstreamProvider,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The upstream user's password.
const DORA_PASSWORD: &str = "dora password 1";

/// The provider id and name at the downstream server.
const CORP: &str = "corp";

/// The downstream server's callback path for `provider`.
fn callback_path(provider: &str) -> String {
    format!("/login/upstream/{provider}/callback")
}

/// The form on `page` that posts to `action`: its hidden fields.
fn form_fields(page: &Page, action: &str) -> Vec<(String, String)> {
    let marker = format!("<form method=\"post\" action=\"{action}\">");
    let i = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no form to {action}: {}", page.body));
    hidden_fields(&page.body[i..])
}

/// Where the answer sends the browser (redirect or meta refresh), absolute.
fn next_url(p: &Page) -> String {
    let l = p.location();
    assert!(!l.is_empty(), "{} {}", p.status, p.body);
    l
}

/// The access token in a browser's session cookie.
fn session_token(b: &Browser) -> String {
    let cookie = b.cookies.get("iam_session").expect("a session cookie");
    cookie.split('~').next().unwrap().to_owned()
}

/// The audit events of `kind` at `s`.
async fn events(s: &Server<SystemClock>, kind: AuditKind) -> Vec<AuditEvent> {
    s.iam
        .store()
        .audit(&AuditQuery::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.draft.kind == kind)
        .collect()
}

/// The `upstream.refused` reasons (with their fault) audited at `s`.
async fn refusals(s: &Server<SystemClock>) -> Vec<String> {
    events(s, AuditKind::UpstreamRefused)
        .await
        .iter()
        .map(|e| {
            let d = &e.draft.detail;
            match d.get("fault") {
                Some(f) => format!("{}:{f}", d["reason"]),
                None => d["reason"].clone(),
            }
        })
        .collect()
}

/// How many accounts and upstream links `s` holds.
async fn census(s: &Server<SystemClock>) -> (usize, usize) {
    let count = |kind| async move {
        s.iam
            .store()
            .list(kind, &ListQuery::default())
            .await
            .unwrap()
            .len()
    };
    (
        count(RecordKind::Account).await,
        count(RecordKind::UpstreamIdentity).await,
    )
}

/// A listener for a server that must be known before it starts, and its base URL.
fn reserve() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
    (l, base)
}

/// A downstream server at `listener` with `provider` (its secret sealed under the server's key).
async fn downstream(
    listener: TcpListener,
    provider: UpstreamProvider,
    secret: &str,
) -> Server<SystemClock> {
    let secret = SecretString::new(secret);
    start(
        SystemClock,
        Options {
            listener: Some(listener),
            adjust: Some(Box::new(move |c| {
                let sealed = SealedClientSecret::seal(&c.master_key, &provider.id, &secret);
                c.upstream = vec![UpstreamProvider {
                    client_secret: sealed.unwrap(),
                    ..provider
                }];
            })),
            ..Options::default()
        },
    )
    .await
}

/// An upstream iam (with the user `dora`) and a downstream iam signing in through it as
/// "Corp", with `shape` applied to the provider.
struct Pair {
    up: Server<SystemClock>,
    down: Server<SystemClock>,
    /// `dora`'s account id at the upstream (her subject there).
    dora: String,
}

async fn pair(shape: impl FnOnce(&mut UpstreamProvider, &str)) -> Pair {
    let up = start(SystemClock, Options::default()).await;
    let dora = up
        .iam
        .create_account(NewAccount::human("dora", DORA_PASSWORD), Caller::System)
        .await
        .unwrap()
        .id;
    let (listener, down_base) = reserve();
    let reg = up
        .register(
            NewClient::confidential("Downstream iam")
                .redirect_uri(format!("{down_base}{}", callback_path(CORP)))
                .grants([GrantType::AuthorizationCode])
                .scopes(["openid", "profile", "email"]),
        )
        .await;
    let mut provider = UpstreamProvider::new(
        CORP,
        "Corp",
        up.base.clone(),
        reg.client.id.clone(),
        SealedClientSecret::from_sealed(""),
    );
    shape(&mut provider, &dora);
    let secret = reg.client_secret.unwrap().expose().to_owned();
    let down = downstream(listener, provider, &secret).await;
    assert_eq!(down.base, down_base);
    Pair { up, down, dora }
}

/// Clicks "Sign in with {name}" on the downstream login page `page` (browser `b`), signs in at
/// the upstream as `user` (browser `u`), allows the consent there when asked, and opens the
/// callback: the downstream's answer.
async fn through_upstream(
    b: &mut Browser,
    page: &Page,
    u: &mut Browser,
    user: &str,
    password: &str,
) -> Page {
    let to_upstream = click_upstream(b, page, CORP).await;
    let callback = upstream_answer(u, &to_upstream, user, password, "allow").await;
    b.get(&callback).await
}

/// Clicks the button of `provider` on `page`; the upstream URL it sends the browser to.
async fn click_upstream(b: &mut Browser, page: &Page, provider: &str) -> String {
    assert!(page.body.contains("Sign in with Corp"), "{}", page.body);
    let action = format!("/login/upstream/{provider}");
    let fields = form_fields(page, &action);
    let answer = b.post(&action, &fields).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("iam_upstream=") && c.contains("HttpOnly")),
        "the attempt is bound to the browser"
    );
    next_url(&answer)
}

/// At the upstream: the login page at `url`, signing in as `user`, then the consent page
/// answered with `decision`; the URL it sends the browser back to.
async fn upstream_answer(
    u: &mut Browser,
    url: &str,
    user: &str,
    password: &str,
    decision: &str,
) -> String {
    let login = u.get(url).await;
    let mut answer = u.login(&login, user, password).await;
    if answer.body.contains("name=\"decision\"") {
        answer = u.submit(&answer, &[("decision", decision)]).await;
    }
    next_url(&answer)
}

/// A fresh browser and the downstream login page.
async fn login_page(s: &Server<SystemClock>) -> (Browser, Page) {
    let mut b = s.browser();
    let page = b.get("/oauth2/login").await;
    (b, page)
}

/// Signs `user` in at the downstream through the upstream with fresh browsers.
async fn sign_in(p: &Pair, user: &str, password: &str) -> (Browser, Page) {
    let (mut b, page) = login_page(&p.down).await;
    let mut u = p.up.browser();
    let answer = through_upstream(&mut b, &page, &mut u, user, password).await;
    (b, answer)
}

#[tokio::test]
async fn first_login_provisions_with_mapped_roles_and_bootstrap_happens_once() {
    let p = pair(|provider, dora| {
        provider.provisioning = Provisioning::CreateOnFirstLogin;
        // iam's ID tokens carry no groups claim; their `amr` list stands in for one here.
        provider.claims.groups = Some("amr".into());
        provider
            .claims
            .group_roles
            .insert("pwd".into(), vec!["staff".into()]);
        provider.bootstrap_admins.subjects = vec![dora.to_owned()];
    })
    .await;
    let before = census(&p.down).await;

    let (b, answer) = sign_in(&p, "dora", DORA_PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains("You are signed in"), "{}", answer.body);
    let who = p.down.iam.verify(&session_token(&b)).await.unwrap();
    assert_eq!(who.amr, vec!["fed".to_owned()]);
    let account = p
        .down
        .iam
        .account(Caller::System, &who.account_id)
        .await
        .unwrap();
    assert_eq!(account.username, "dora");
    assert!(!account.has_password);
    assert!(account.roles.contains("staff"), "{:?}", account.roles);
    assert!(account.roles.contains("admin"), "bootstrap at first login");
    assert_eq!(census(&p.down).await, (before.0 + 1, before.1 + 1));
    let provisioned = events(&p.down, AuditKind::UpstreamProvisioned).await;
    assert_eq!(provisioned.len(), 1);
    assert_eq!(provisioned[0].draft.detail["subject"], p.dora);
    assert_eq!(provisioned[0].draft.detail["bootstrap_admin"], "true");
    let logins = events(&p.down, AuditKind::UpstreamLogin).await;
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].draft.detail["issuer"], p.up.base);
    assert!(logins[0].draft.detail.contains_key("acr"));
    let links = p
        .down
        .iam
        .upstream_links(Caller::System, &account.id)
        .await
        .unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].issuer.as_str(), links[0].subject.as_str()),
        (p.up.base.as_str(), p.dora.as_str())
    );

    // The admin role is taken away; the next login by the link does not give it back.
    p.down
        .iam
        .revoke_role(Caller::System, &account.id, "admin")
        .await
        .unwrap();
    let (b2, again) = sign_in(&p, "dora", DORA_PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let who2 = p.down.iam.verify(&session_token(&b2)).await.unwrap();
    assert_eq!(who2.account_id, account.id, "the same account, by its link");
    assert!(!who2.roles.contains(&"admin".to_owned()));
    assert_eq!(census(&p.down).await, (before.0 + 1, before.1 + 1));
    assert_eq!(
        events(&p.down, AuditKind::UpstreamProvisioned).await.len(),
        1
    );
    assert_eq!(events(&p.down, AuditKind::UpstreamLogin).await.len(), 2);
}

#[tokio::test]
async fn an_authorization_of_the_downstream_client_passes_through_upstream_login() {
    let p = pair(|provider, _| provider.provisioning = Provisioning::CreateOnFirstLogin).await;
    let app = p
        .down
        .register(
            NewClient::public("Downstream app")
                .redirect_uri(p.down.url("/test/callback"))
                .grants([GrantType::AuthorizationCode])
                .scopes(["openid"]),
        )
        .await;
    let (_, challenge) = pkce();
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=app-state&code_challenge={challenge}&code_challenge_method=S256",
        app.client.id,
        harness::enc(&p.down.url("/test/callback")),
    );
    let mut b = p.down.browser();
    let login = b.get(&authorize).await;
    assert!(
        login.body.contains("Sign in to continue to"),
        "{}",
        login.body
    );
    let mut u = p.up.browser();
    let mut answer = through_upstream(&mut b, &login, &mut u, "dora", DORA_PASSWORD).await;
    // The downstream asks for its own consent, then returns to its client with a code.
    if answer.body.contains("name=\"decision\"") {
        answer = b.submit(&answer, &[("decision", "allow")]).await;
    }
    let back = next_url(&answer);
    assert!(back.starts_with(&p.down.url("/test/callback")), "{back}");
    let q = query_params(&back);
    assert_eq!(q.get("state").map(String::as_str), Some("app-state"));
    assert!(q.contains_key("code"), "{back}");
    assert_eq!(q.get("iss"), Some(&p.down.base));
}

#[tokio::test]
async fn an_unverified_email_does_not_link_an_existing_account() {
    let p = pair(|provider, _| {
        provider.provisioning = Provisioning::CreateOnFirstLogin;
        provider.trust_verified_email = true;
    })
    .await;
    // The downstream's Erin, with her verified email; the upstream's dora claims it.
    let erin = p
        .down
        .iam
        .create_account(NewAccount::human("erin", "erin password 1"), Caller::System)
        .await
        .unwrap();
    p.down
        .iam
        .update_profile(
            Caller::System,
            &erin.id,
            &ProfileUpdate::default()
                .with_email("erin@example.com")
                .with_email_verified(true),
        )
        .await
        .unwrap();
    p.up.iam
        .update_profile(
            Caller::System,
            &p.dora,
            &ProfileUpdate::default().with_email("erin@example.com"),
        )
        .await
        .unwrap();
    let before = census(&p.down).await;
    let (b, refused) = sign_in(&p, "dora", DORA_PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused.body.contains("sign_in_locally_to_link"),
        "{}",
        refused.body
    );
    assert!(!b.cookies.contains_key("iam_session"));
    assert_eq!(census(&p.down).await, before, "nothing created or linked");
    assert_eq!(refusals(&p.down).await, vec!["sign_in_locally_to_link"]);

    // Verified upstream, from a provider trusted for it: Erin's account is linked.
    p.up.iam
        .update_profile(
            Caller::System,
            &p.dora,
            &ProfileUpdate::default().with_email_verified(true),
        )
        .await
        .unwrap();
    let (b, answer) = sign_in(&p, "dora", DORA_PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let who = p.down.iam.verify(&session_token(&b)).await.unwrap();
    assert_eq!(who.account_id, erin.id);
    let linked = events(&p.down, AuditKind::UpstreamLinked).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].draft.detail["via"], "verified_email");
}

#[tokio::test]
async fn a_signed_in_user_links_and_unlinks_an_upstream_identity() {
    let p = pair(|_, _| {}).await;
    // Link-only: a stranger is refused, and nothing is created.
    let before = census(&p.down).await;
    let (_, refused) = sign_in(&p, "dora", DORA_PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("no_linked_account"),
        "{}",
        refused.body
    );
    assert_eq!(census(&p.down).await, before);

    // Alice signs in with her password and links dora's upstream identity.
    let (mut b, page) = login_page(&p.down).await;
    let signed_in = b.login(&page, "alice", ALICE_PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    let account = b.get("/account/upstream").await;
    assert!(
        account.body.contains("No sign-in provider is linked"),
        "{}",
        account.body
    );
    // It is one of the account pages, named in their navigation.
    assert!(
        account
            .body
            .contains("aria-current=\"page\">Sign-in providers</a>"),
        "{}",
        account.body
    );
    let fields = form_fields(&account, "/account/upstream/corp/link");
    let to_upstream = next_url(&b.post("/account/upstream/corp/link", &fields).await);
    let mut u = p.up.browser();
    let callback = upstream_answer(&mut u, &to_upstream, "dora", DORA_PASSWORD, "allow").await;
    let linked = b.get(&callback).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
    assert!(
        linked.body.contains("now linked to Corp"),
        "{}",
        linked.body
    );
    assert!(linked.body.contains(&p.dora));

    // dora's upstream sign-in now opens a session of alice's account.
    let alice = p
        .down
        .iam
        .account_by_username(Caller::System, "alice")
        .await
        .unwrap()
        .unwrap();
    let (b2, answer) = sign_in(&p, "dora", DORA_PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let who = p.down.iam.verify(&session_token(&b2)).await.unwrap();
    assert_eq!(who.account_id, alice.id);

    // Unlinked (a form with the CSRF token), it does no more.
    let fields = form_fields(&linked, "/account/upstream/unlink");
    let unlinked = b.post("/account/upstream/unlink", &fields).await;
    assert_eq!(unlinked.status, StatusCode::OK, "{}", unlinked.body);
    assert!(unlinked.body.contains("was unlinked"));
    let (_, refused) = sign_in(&p, "dora", DORA_PASSWORD).await;
    assert!(
        refused.body.contains("no_linked_account"),
        "{}",
        refused.body
    );
    let kinds: Vec<AuditKind> = p
        .down
        .iam
        .store()
        .audit(&AuditQuery::default())
        .await
        .unwrap()
        .iter()
        .map(|e| e.draft.kind)
        .collect();
    assert!(kinds.contains(&AuditKind::UpstreamLinked));
    assert!(kinds.contains(&AuditKind::UpstreamUnlinked));
    assert_eq!(
        refusals(&p.down).await,
        vec!["no_linked_account", "no_linked_account"]
    );
}

#[tokio::test]
async fn a_state_from_another_browser_an_error_answer_and_a_foreign_iss_are_refused() {
    let p = pair(|provider, _| provider.provisioning = Provisioning::CreateOnFirstLogin).await;
    let before = census(&p.down).await;

    // The upstream answers with an error (the user denies consent; later logins find the
    // consent of the others given).
    let (mut b, page) = login_page(&p.down).await;
    let to_upstream = click_upstream(&mut b, &page, CORP).await;
    let mut u = p.up.browser();
    let callback = upstream_answer(&mut u, &to_upstream, "dora", DORA_PASSWORD, "deny").await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let refused = b.get(&callback).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("upstream_error"), "{}", refused.body);

    // Another browser opens the callback of an attempt this one began.
    let (mut b, page) = login_page(&p.down).await;
    let to_upstream = click_upstream(&mut b, &page, CORP).await;
    let mut u = p.up.browser();
    let callback = upstream_answer(&mut u, &to_upstream, "dora", DORA_PASSWORD, "allow").await;
    let mut other = p.down.browser();
    let refused = other.get(&callback).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("state_from_other_browser"),
        "{}",
        refused.body
    );
    assert!(!other.cookies.contains_key("iam_session"));

    // An answer naming another issuer (RFC 9207): a mix-up.
    let (mut b, page) = login_page(&p.down).await;
    let to_upstream = click_upstream(&mut b, &page, CORP).await;
    let mut u = p.up.browser();
    let callback = upstream_answer(&mut u, &to_upstream, "dora", DORA_PASSWORD, "allow").await;
    let q = query_params(&callback);
    let forged = format!(
        "{}?code={}&state={}&iss={}",
        callback.split('?').next().unwrap(),
        harness::enc(&q["code"]),
        harness::enc(&q["state"]),
        harness::enc("https://evil.example"),
    );
    let refused = b.get(&forged).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("issuer_mismatch"), "{}", refused.body);
    // The attempt is used up: the genuine answer cannot follow.
    let replay = b.get(&callback).await;
    assert!(replay.body.contains("state_invalid"), "{}", replay.body);

    assert_eq!(census(&p.down).await, before, "nothing created or linked");
    assert_eq!(
        refusals(&p.down).await,
        vec![
            "upstream_error:access_denied",
            "state_from_other_browser",
            "issuer_mismatch",
            "state_invalid",
        ]
    );
}

/// What the hand-made provider puts in its next ID token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Forgery {
    None,
    TamperedSignature,
    WrongNonce,
    Expired,
    OtherIssuer,
}

/// The hand-made provider's state.
struct Fake {
    issuer: String,
    key: jsonwebtoken::EncodingKey,
    jwks: Value,
    nonce: Mutex<String>,
    forgery: Mutex<Forgery>,
}

/// Starts the hand-made OpenID Provider: discovery, JWKS (one Ed25519 key), an authorization
/// endpoint that answers at once with a code, and a token endpoint whose ID token is forged as
/// [`Fake::forgery`] says.
fn fake_provider() -> Arc<Fake> {
    use axum::extract::{Query, State};
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::{get, post};
    use base64::Engine as _;
    use ring::signature::KeyPair as _;

    let (listener, issuer) = reserve();
    let pkcs8 =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let fake = Arc::new(Fake {
        issuer: issuer.clone(),
        key: jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref()),
        jwks: json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "use": "sig", "x": x}]}),
        nonce: Mutex::new(String::new()),
        forgery: Mutex::new(Forgery::None),
    });
    let metadata = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(metadata) }),
        )
        .route(
            "/jwks",
            get(|State(f): State<Arc<Fake>>| async move { axum::Json(f.jwks.clone()) }),
        )
        .route(
            "/authorize",
            get(
                |State(f): State<Arc<Fake>>, Query(q): Query<HashMap<String, String>>| async move {
                    q["nonce"].clone_into(&mut f.nonce.lock().unwrap());
                    Redirect::to(&format!(
                        "{}?code=the-code&state={}",
                        q["redirect_uri"],
                        harness::enc(&q["state"])
                    ))
                    .into_response()
                },
            ),
        )
        .route(
            "/token",
            post(|State(f): State<Arc<Fake>>| async move {
                let forgery = *f.forgery.lock().unwrap();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let (iat, exp) = if forgery == Forgery::Expired {
                    (now - 1200, now - 600)
                } else {
                    (now, now + 300)
                };
                let claims = json!({
                    "iss": if forgery == Forgery::OtherIssuer { "https://evil.example".to_owned() } else { f.issuer.clone() },
                    "sub": "fake-subject",
                    "aud": "fake-client",
                    "iat": iat,
                    "exp": exp,
                    "nonce": if forgery == Forgery::WrongNonce { "not-the-nonce".to_owned() } else { f.nonce.lock().unwrap().clone() },
                    "preferred_username": "faker",
                });
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
                header.kid = Some("k1".into());
                let mut token = jsonwebtoken::encode(&header, &claims, &f.key).unwrap();
                if forgery == Forgery::TamperedSignature {
                    // The claims are changed after signing: the signature no longer covers them.
                    let parts: Vec<&str> = token.split('.').collect();
                    let mut forged = claims.clone();
                    forged["sub"] = json!("someone-else");
                    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(forged.to_string());
                    token = format!("{}.{body}.{}", parts[0], parts[2]);
                }
                axum::Json(json!({
                    "access_token": "fake-access-token",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": token,
                }))
            }),
        )
        .with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::from_std({
        listener.set_nonblocking(true).unwrap();
        listener
    })
    .unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    fake
}

#[tokio::test]
async fn forged_id_tokens_are_refused_with_a_page_and_an_audit_event() {
    let fake = fake_provider();
    let (listener, _) = reserve();
    let mut provider = UpstreamProvider::new(
        CORP,
        "Corp",
        fake.issuer.clone(),
        "fake-client",
        SealedClientSecret::from_sealed(""),
    );
    provider.provisioning = Provisioning::CreateOnFirstLogin;
    let down = downstream(listener, provider, "fake-secret").await;
    let before = census(&down).await;

    let attempt = |forgery: Forgery| {
        let fake = Arc::clone(&fake);
        let down = &down;
        async move {
            *fake.forgery.lock().unwrap() = forgery;
            let (mut b, page) = login_page(down).await;
            let to_upstream = click_upstream(&mut b, &page, CORP).await;
            let at_provider = b.http.get(&to_upstream).send().await.unwrap();
            let callback = at_provider.headers()["location"]
                .to_str()
                .unwrap()
                .to_owned();
            let answer = b.get(&callback).await;
            (b, answer)
        }
    };
    for (forgery, reason) in [
        (Forgery::TamperedSignature, "id_token_invalid:signature"),
        (Forgery::WrongNonce, "id_token_invalid:nonce"),
        (Forgery::Expired, "id_token_invalid:expired"),
        (Forgery::OtherIssuer, "id_token_invalid:issuer"),
    ] {
        let (b, answer) = attempt(forgery).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{forgery:?}: {}",
            answer.body
        );
        assert!(answer.body.contains("id_token_invalid"), "{}", answer.body);
        assert!(!b.cookies.contains_key("iam_session"), "{forgery:?}");
        assert_eq!(
            refusals(&down).await.last().map(String::as_str),
            Some(reason)
        );
    }
    assert_eq!(census(&down).await, before, "nothing created or linked");

    // The same provider with an honest token: the first login provisions.
    let (b, answer) = attempt(Forgery::None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let who = down.iam.verify(&session_token(&b)).await.unwrap();
    assert_eq!(who.amr, vec!["fed".to_owned()]);
    assert_eq!(census(&down).await, (before.0 + 1, before.1 + 1));
}

/// The folder of the node-oidc-provider script (`tests/interop/op`).
fn op_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/op")
}

/// Why node-oidc-provider cannot run here, if it cannot.
fn op_missing() -> Option<String> {
    if !script::runs("node", &["--version"]) {
        return Some("no `node`".into());
    }
    if !op_dir().join("node_modules/oidc-provider").is_dir() {
        return Some(format!(
            "oidc-provider is not installed (npm ci in {})",
            op_dir().display()
        ));
    }
    None
}

/// The `action` of the first form on `html` and its hidden inputs (node-oidc-provider's
/// development pages put attributes in their own order).
fn op_form(html: &str) -> (String, Vec<(String, String)>) {
    let form = &html[html.find("<form").expect("a form")..];
    let at = form.find("action=\"").unwrap() + "action=\"".len();
    let action = harness::unescape(&form[at..at + form[at..].find('"').unwrap()]);
    let mut fields = Vec::new();
    let form = &form[..form.find("</form>").unwrap()];
    for input in form.split("<input").skip(1) {
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            input.find(&key).map(|i| {
                let v = &input[i + key.len()..];
                harness::unescape(&v[..v.find('"').unwrap()])
            })
        };
        if attr("type").as_deref() == Some("hidden") {
            fields.push((attr("name").unwrap(), attr("value").unwrap_or_default()));
        }
    }
    (action, fields)
}

#[tokio::test]
async fn node_oidc_provider_signs_people_in_and_its_groups_map_to_roles() {
    if !script::available("node-oidc-provider", op_missing()) {
        return;
    }
    let (listener, down_base) = reserve();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = std::process::Command::new("node");
    cmd.arg(op_dir().join("op.mjs")).args([
        port.to_string(),
        "iam-downstream".into(),
        "a client secret of the test".into(),
        format!("{down_base}{}", callback_path(CORP)),
    ]);
    let mut op = script::Script::spawn(cmd);
    let issuer = op.line().await["issuer"].as_str().unwrap().to_owned();
    let mut provider = UpstreamProvider::new(
        CORP,
        "Corp",
        issuer.clone(),
        "iam-downstream",
        SealedClientSecret::from_sealed(""),
    );
    provider.provisioning = Provisioning::CreateOnFirstLogin;
    provider.scopes.push("groups".into());
    provider.claims.groups = Some("groups".into());
    provider
        .claims
        .group_roles
        .insert("ops".into(), vec!["deploy".into()]);
    provider.bootstrap_admins.verified_emails = vec!["grace@example.org".into()];
    let down = downstream(listener, provider, "a client secret of the test").await;

    let (mut b, page) = login_page(&down).await;
    let mut at_op = click_upstream(&mut b, &page, CORP).await;
    let mut u = Browser::new(&issuer);
    // The provider's development pages: sign in (any password), then consent.
    let callback = loop {
        let answer = u.get(&at_op).await;
        let next = answer.location();
        if next.starts_with(&down_base) {
            break next;
        }
        if !next.is_empty() {
            at_op = next;
            continue;
        }
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let (action, mut fields) = op_form(&answer.body);
        if answer.body.contains("name=\"login\"") {
            fields.push(("login".into(), "grace".into()));
            fields.push(("password".into(), "anything".into()));
        }
        let posted = u.post(&action, &fields).await;
        at_op = posted.location();
        assert!(!at_op.is_empty(), "{} {}", posted.status, posted.body);
    };
    let answer = b.get(&callback).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let who = down.iam.verify(&session_token(&b)).await.unwrap();
    assert_eq!(who.amr, vec!["fed".to_owned()]);
    let account = down
        .iam
        .account(Caller::System, &who.account_id)
        .await
        .unwrap();
    assert_eq!(account.username, "grace");
    assert!(account.roles.contains("deploy"), "{:?}", account.roles);
    assert!(
        account.roles.contains("admin"),
        "bootstrap by verified email"
    );
    assert_eq!(account.profile.email.as_deref(), Some("grace@example.org"));
    assert!(account.profile.email_verified);
    let links = down
        .iam
        .upstream_links(Caller::System, &account.id)
        .await
        .unwrap();
    assert_eq!(
        (links[0].issuer.as_str(), links[0].subject.as_str()),
        (issuer.as_str(), "grace")
    );
}
