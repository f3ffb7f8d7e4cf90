//! OpenID Connect Back-Channel Logout end to end: a relying party registered with a
//! `backchannel_logout_uri` (a test receiver on 127.0.0.1) signs a user in through the real
//! login and consent pages; when the user logs out, the receiver gets the Logout Token by
//! POST and validates it per §2.6 using only the JWKS the server publishes. A receiver that
//! answers 500 first is retried.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use harness::{enc, form, pkce, query_params, start, Options, ALICE_PASSWORD};
use iam_axum::backchannel::{logout_http_client, LogoutDeliveries};
use iam_core::{GrantType, NewClient, SystemClock};
use serde_json::Value;
use tokio::sync::mpsc;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The receiver: answers 500 to the first POST, 200 after, and passes each token on.
#[derive(Clone)]
struct Receiver {
    seen: Arc<AtomicUsize>,
    tokens: mpsc::UnboundedSender<(usize, String)>,
}

async fn receive(
    State(r): State<Receiver>,
    headers: axum::http::HeaderMap,
    body: String,
) -> StatusCode {
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    let n = r.seen.fetch_add(1, Ordering::SeqCst);
    let token = query_params(&format!("/?{body}"))["logout_token"].clone();
    r.tokens.send((n, token)).unwrap();
    if n == 0 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// Starts the receiver; its URL and the stream of (attempt index, token).
async fn receiver() -> (String, mpsc::UnboundedReceiver<(usize, String)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Receiver {
        seen: Arc::new(AtomicUsize::new(0)),
        tokens: tx,
    };
    let app = axum::Router::new()
        .route("/bcl", axum::routing::post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://127.0.0.1:{}/bcl", addr.port()), rx)
}

/// Validates a Logout Token per §2.6 with jsonwebtoken and only the published JWKS.
async fn validate(http: &reqwest::Client, base: &str, token: &str, client_id: &str) -> Value {
    let meta: Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);
    let jwks: jsonwebtoken::jwk::JwkSet = http
        .get(meta["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[client_id]);
    v.set_issuer(&[base]);
    v.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims;
    assert!(claims["events"][EVENT].is_object(), "{claims}");
    assert!(claims.get("sid").is_some() || claims.get("sub").is_some());
    assert!(claims.get("nonce").is_none());
    assert!(claims["jti"].is_string());
    claims
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_delivers_a_valid_logout_token_and_retries_a_failing_receiver() {
    let s = start(
        SystemClock,
        Options {
            configure: |c| {
                c.oauth.logout_retry_delays = vec![Duration::from_millis(200); 3];
            },
            ..Options::default()
        },
    )
    .await;
    let (uri, mut tokens) = receiver().await;
    let mut new = NewClient::confidential("Mail")
        .redirect_uri(s.url("/test/callback"))
        .grants([GrantType::AuthorizationCode])
        .scopes(["openid"]);
    new.oidc.backchannel_logout_uri = Some(uri);
    let reg = s.register(new).await;
    let client_id = reg.client.id.clone();
    let secret = reg.client_secret.unwrap().expose().to_owned();
    let deliveries = LogoutDeliveries {
        poll_every: Duration::from_millis(100),
        ..LogoutDeliveries::default()
    }
    .spawn(s.iam.clone(), logout_http_client().unwrap());

    // A real login through the pages.
    let (verifier, challenge) = pkce();
    let redirect = s.url("/test/callback");
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=st&nonce=n1&code_challenge={}&code_challenge_method=S256",
        enc(&client_id),
        enc(&redirect),
        enc(&challenge)
    );
    let mut browser = s.browser();
    let login = browser.get(&authorize).await;
    let consent = browser.login(&login, "alice", ALICE_PASSWORD).await;
    let done = browser.submit(&consent, &[("decision", "allow")]).await;
    let q = query_params(&done.location());
    let tokens_json: Value = s
        .http
        .post(s.url("/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = tokens_json["id_token"].as_str().unwrap();
    let id_claims = validate_id_token_sid(id_token);

    // Nothing is sent before logout.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(tokens.try_recv().is_err());

    // RP-initiated logout ends the login session.
    let bye = browser
        .get(&format!(
            "/oauth2/end_session?id_token_hint={}&client_id={}",
            enc(id_token),
            enc(&client_id)
        ))
        .await;
    if bye.body.contains("<form") {
        browser.submit(&bye, &[]).await;
    }

    // The first attempt gets a 500, the retry a 200; both carry valid Logout Tokens.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (n, token) = tokio::time::timeout(Duration::from_secs(10), tokens.recv())
            .await
            .expect("a delivery")
            .unwrap();
        let claims = validate(&s.http, &s.base, &token, &client_id).await;
        assert_eq!(
            claims["sid"], id_claims,
            "the Logout Token names the ID token's session"
        );
        seen.push((n, claims["jti"].clone()));
    }
    assert_eq!(seen[0].0, 0);
    assert_eq!(seen[1].0, 1);
    assert_eq!(seen[0].1, seen[1].1, "a retry keeps the jti");

    // Delivered: nothing more arrives, and the audit log says so without the token.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(tokens.try_recv().is_err());
    let events = s
        .iam
        .audit_events(iam_core::Caller::System, &iam_core::AuditQuery::default())
        .await
        .unwrap();
    let delivered: Vec<_> = events
        .iter()
        .filter(|e| e.draft.kind == iam_core::AuditKind::OidcLogoutDelivered)
        .collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].draft.detail["client_id"], client_id);
    assert_eq!(delivered[0].draft.detail["status"], "200");
    assert_eq!(delivered[0].draft.detail["attempts"], "2");
    deliveries.abort();
}

/// The `sid` of an ID token (already checked elsewhere; only its payload is read here).
fn validate_id_token_sid(id_token: &str) -> Value {
    use base64::Engine as _;
    let payload = id_token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["sid"].clone()
}
