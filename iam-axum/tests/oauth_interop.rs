//! Interoperability: the authorization-code + PKCE, client-credentials, device and refresh
//! flows (plus revocation and introspection) completed by a well-known third-party OAuth 2.0
//! client library, the `oauth2` crate, against a real server. Only the user's part (the login
//! and consent pages) is driven by the test's browser; every protocol request is the library's.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{query_params, start, Options, ALICE_PASSWORD};
use iam_core::{GrantType, NewClient, SystemClock};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    DeviceAuthorizationUrl, IntrospectionUrl, PkceCodeChallenge, RedirectUrl, RevocationUrl, Scope,
    StandardDeviceAuthorizationResponse, StandardRevocableToken, TokenIntrospectionResponse,
    TokenResponse, TokenUrl,
};

const REDIRECT: &str = "https://app.example/callback";

/// The server over HTTPS (the library refuses plain-HTTP revocation URLs).
fn tls() -> Options {
    Options {
        tls: true,
        secure_cookies: true,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth2_crate_completes_code_pkce_refresh_revoke_and_introspect() {
    let s = start(SystemClock, tls()).await;
    let reg = s
        .register(
            NewClient::confidential("Interop web app")
                .redirect_uri(REDIRECT)
                .grants([GrantType::AuthorizationCode, GrantType::RefreshToken])
                .scopes(["profile", "notes:read"]),
        )
        .await;
    let client = BasicClient::new(ClientId::new(reg.client.id.clone()))
        .set_client_secret(ClientSecret::new(
            reg.client_secret.unwrap().expose().to_owned(),
        ))
        .set_auth_uri(AuthUrl::new(s.url("/oauth2/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(s.url("/oauth2/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
        .set_revocation_url(RevocationUrl::new(s.url("/oauth2/revoke")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(s.url("/oauth2/introspect")).unwrap());
    // The library's HTTP client: no redirects (as its docs require), trusting the test CA.
    let http = s.http.clone();

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("notes:read".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The user: login and consent pages.
    let mut b = s.browser();
    let login = b.get(auth_url.as_str()).await;
    let consent = b.login(&login, "alice", ALICE_PASSWORD).await;
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    let q = query_params(&done.location());
    assert_eq!(&q["state"], state.secret());

    // The library: code exchange (client_secret_basic), refresh, introspection, revocation.
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let who = s.iam.verify(tokens.access_token().secret()).await.unwrap();
    assert_eq!(who.client_id.as_deref(), Some(reg.client.id.as_str()));
    let scopes: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["notes:read", "profile"]);

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        tokens.refresh_token().unwrap().secret()
    );
    let active = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(active.active());
    assert_eq!(
        active.client_id().map(|c| c.as_str()),
        Some(reg.client.id.as_str())
    );

    client
        .revoke_token(StandardRevocableToken::RefreshToken(
            refreshed.refresh_token().unwrap().clone(),
        ))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let inactive = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!inactive.active());
    // The rotated-out refresh token stays dead (reuse also revokes the whole family).
    let reused = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&http)
        .await;
    assert!(
        matches!(reused, Err(oauth2::RequestTokenError::ServerResponse(ref e)) if e.error().as_ref() == "invalid_grant"),
        "{reused:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth2_crate_completes_client_credentials_both_auth_methods() {
    let s = start(SystemClock, tls()).await;
    let reg = s
        .register(
            NewClient::confidential("Interop machine")
                .grants([GrantType::ClientCredentials])
                .scopes(["reports:read", "reports:write"]),
        )
        .await;
    let secret = reg.client_secret.unwrap().expose().to_owned();
    // The library's HTTP client: no redirects (as its docs require), trusting the test CA.
    let http = s.http.clone();
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = BasicClient::new(ClientId::new(reg.client.id.clone()))
            .set_client_secret(ClientSecret::new(secret.clone()))
            .set_auth_type(auth.clone())
            .set_token_uri(TokenUrl::new(s.url("/oauth2/token")).unwrap());
        let t = client
            .exchange_client_credentials()
            .add_scope(Scope::new("reports:read".into()))
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{auth:?}: {e:?}"));
        let who = s.iam.verify(t.access_token().secret()).await.unwrap();
        assert_eq!(who.account_id, reg.client.id);
        assert!(t.refresh_token().is_none());
        let wrong = BasicClient::new(ClientId::new(reg.client.id.clone()))
            .set_client_secret(ClientSecret::new("wrong".into()))
            .set_auth_type(auth.clone())
            .set_token_uri(TokenUrl::new(s.url("/oauth2/token")).unwrap())
            .exchange_client_credentials()
            .request_async(&http)
            .await;
        assert!(
            matches!(wrong, Err(oauth2::RequestTokenError::ServerResponse(ref e)) if e.error().as_ref() == "invalid_client"),
            "{wrong:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth2_crate_completes_the_device_flow() {
    let s = start(SystemClock, tls()).await;
    let reg = s
        .register(
            NewClient::confidential("Interop TV")
                .grants([GrantType::DeviceCode, GrantType::RefreshToken])
                .scopes(["videos"]),
        )
        .await;
    let client = BasicClient::new(ClientId::new(reg.client.id.clone()))
        .set_client_secret(ClientSecret::new(
            reg.client_secret.unwrap().expose().to_owned(),
        ))
        .set_token_uri(TokenUrl::new(s.url("/oauth2/token")).unwrap())
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(s.url("/oauth2/device_authorization")).unwrap(),
        );
    // The library's HTTP client: no redirects (as its docs require), trusting the test CA.
    let http = s.http.clone();
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("videos".into()))
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(details.verification_uri().as_str(), s.url("/device"));
    let complete = details
        .verification_uri_complete()
        .unwrap()
        .secret()
        .clone();

    // The library polls (hearing authorization_pending) while the user approves.
    let user = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut b = s.browser();
        let login = b.get(&complete).await;
        let prompt = b.login(&login, "alice", ALICE_PASSWORD).await;
        assert!(
            prompt.body.contains(details.user_code().secret()),
            "{}",
            prompt.body
        );
        let done = b.submit(&prompt, &[("decision", "approve")]).await;
        assert_eq!(done.status, reqwest::StatusCode::OK, "{}", done.body);
    };
    let poll = client.exchange_device_access_token(&details).request_async(
        &http,
        tokio::time::sleep,
        Some(Duration::from_secs(60)),
    );
    let (tokens, ()) = tokio::join!(poll, user);
    let tokens = tokens.unwrap();
    let who = s.iam.verify(tokens.access_token().secret()).await.unwrap();
    assert_eq!(who.client_id.as_deref(), Some(reg.client.id.as_str()));
    assert_eq!(who.scopes, ["videos"]);

    // And the refresh grant on the device's tokens.
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&http)
        .await
        .unwrap();
    assert!(s
        .iam
        .verify(refreshed.access_token().secret())
        .await
        .is_ok());
}
