//! The OAuth 2.0 authorization server over the in-memory store, with a manual clock.

mod common;

use common::{login, CHALLENGE, PW, VERIFIER};

use iam_core::Caller;
use std::time::Duration;

use iam_core::oauth::{AuthorizationRedirect, AuthorizationResult, ConsentPrompt, TokenTypeHint};
use iam_core::{
    AuditQuery, AuthorizationServerMetadata, AuthorizeOutcome, AuthorizeRequest, ClientAuth,
    Denial, Error, GrantType, Iam, InvalidInput, LoginRequest, ManualClock, MemoryStore,
    NewAccount, NewClient, OAuthErrorCode, Principal, SecretString, TokenRequest, TokenResponse,
};

const CB: &str = "https://app.example/cb";
const API: &str = "https://api.example/";

type TestIam = Iam<MemoryStore, ManualClock>;

struct World {
    iam: TestIam,
    clock: ManualClock,
    admin: Principal,
    alice: Principal,
    /// Confidential: code + refresh + client credentials + device.
    app: ClientAuth,
    app_id: String,
}

async fn world() -> World {
    let (iam, clock) = common::iam().await;
    iam.create_account(
        NewAccount::human("root", PW).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("admin");
    iam.create_account(
        NewAccount::human("alice", PW).with_roles(["read"]),
        Caller::System,
    )
    .await
    .expect("alice");
    let admin = login(&iam, "root").await;
    let alice = login(&iam, "alice").await;
    let reg = iam
        .register_client(
            &admin,
            NewClient::confidential("App")
                .redirect_uri(CB)
                .grants(GrantType::ALL)
                .scopes(["read", "write"])
                .resources([API]),
        )
        .await
        .expect("register");
    let secret = reg
        .client_secret
        .expect("confidential clients get a secret");
    assert!(secret.expose().starts_with("iam_cs_"));
    let app_id = reg.client.id.clone();
    World {
        iam,
        clock,
        admin,
        alice,
        app: ClientAuth::secret(app_id.clone(), secret),
        app_id,
    }
}

fn authz(client_id: &str, scope: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        response_type: Some("code".into()),
        client_id: Some(client_id.into()),
        redirect_uri: Some(CB.into()),
        scope: Some(scope.into()),
        state: Some("xyz".into()),
        code_challenge: Some(CHALLENGE.into()),
        code_challenge_method: Some("S256".into()),
        ..AuthorizeRequest::default()
    }
}

fn redirect(outcome: AuthorizeOutcome) -> AuthorizationRedirect {
    match outcome {
        AuthorizeOutcome::Redirect(r) => r,
        other => panic!("expected a redirect, got {other:?}"),
    }
}

fn code_of(outcome: AuthorizeOutcome) -> SecretString {
    let r = redirect(outcome);
    assert_eq!(r.state.as_deref(), Some("xyz"));
    match r.result {
        AuthorizationResult::Code(c) => c,
        AuthorizationResult::Error(e) => panic!("expected a code, got {e:?}"),
    }
}

fn error_of(outcome: AuthorizeOutcome) -> OAuthErrorCode {
    let r = redirect(outcome);
    assert_eq!(
        r.state.as_deref(),
        Some("xyz"),
        "errors carry the state back"
    );
    match r.result {
        AuthorizationResult::Error(e) => e.code,
        AuthorizationResult::Code(_) => panic!("expected an error"),
    }
}

fn exchange(code: &SecretString, verifier: &str) -> TokenRequest {
    TokenRequest::AuthorizationCode {
        code: code.clone(),
        redirect_uri: Some(CB.into()),
        code_verifier: Some(verifier.into()),
        resource: vec![],
    }
}

fn refresh(token: &SecretString) -> TokenRequest {
    TokenRequest::RefreshToken {
        refresh_token: token.clone(),
        scope: None,
        resource: vec![],
    }
}

/// Consents for alice and returns a fresh code.
async fn consented_code(w: &World, scope: &str) -> SecretString {
    code_of(
        w.iam
            .consent_and_authorize(&authz(&w.app_id, scope), &w.alice)
            .await
            .expect("consent"),
    )
}

async fn tokens(w: &World, scope: &str) -> TokenResponse {
    let code = consented_code(w, scope).await;
    w.iam
        .token(&w.app, &exchange(&code, VERIFIER))
        .await
        .expect("exchange")
}

fn oauth_err<T: std::fmt::Debug>(r: Result<T, iam_core::OAuthError>) -> OAuthErrorCode {
    match r {
        Err(e) => e.code,
        Ok(v) => panic!("expected an OAuth error, got {v:?}"),
    }
}

#[tokio::test]
async fn full_code_exchange_then_refresh() {
    let w = world().await;
    // First visit: consent is asked for.
    let first = w
        .iam
        .authorize(&authz(&w.app_id, "read"), Some(&w.alice))
        .await
        .expect("authorize");
    assert_eq!(
        first,
        AuthorizeOutcome::ConsentRequired(ConsentPrompt {
            client_id: w.app_id.clone(),
            client_name: "App".into(),
            scopes: ["read".to_string()].into(),
            new_scopes: ["read".to_string()].into(),
            registered_by: None,
        })
    );
    let code = consented_code(&w, "read").await;
    let t = w
        .iam
        .token(&w.app, &exchange(&code, VERIFIER))
        .await
        .expect("exchange");
    assert_eq!(t.token_type, "Bearer");
    assert_eq!(t.expires_in, 15 * 60);
    assert_eq!(t.scope.as_deref(), Some("read"));
    let json = serde_json::to_value(&t).expect("json");
    for field in [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
    ] {
        assert!(json.get(field).is_some(), "{field} missing");
    }
    let p = w.iam.verify(t.access_token.expose()).await.expect("verify");
    assert_eq!(p.account_id, w.alice.account_id);
    assert_eq!(p.client_id.as_deref(), Some(w.app_id.as_str()));
    assert_eq!(p.scopes, vec!["read".to_string()]);
    assert_eq!(
        p.roles,
        vec!["read".to_string()],
        "scopes naming the user's roles carry them"
    );
    assert!(
        !p.is_session_token(),
        "an OAuth token is not a login session token"
    );

    // Refresh rotates; the new access token works.
    w.clock.advance(Duration::from_secs(60));
    let refresh_token = t.refresh_token.clone().expect("refresh token");
    let t2 = w
        .iam
        .token(&w.app, &refresh(&refresh_token))
        .await
        .expect("refresh");
    let next = t2.refresh_token.clone().expect("rotated refresh token");
    assert_ne!(next, refresh_token);
    let p2 = w
        .iam
        .verify(t2.access_token.expose())
        .await
        .expect("verify 2");
    assert_eq!(p2.session_id, p.session_id, "same token family");

    // Narrowing scope on refresh is allowed; widening is not.
    let narrow = TokenRequest::RefreshToken {
        refresh_token: next.clone(),
        scope: Some("write".into()),
        resource: vec![],
    };
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &narrow).await),
        OAuthErrorCode::InvalidScope
    );

    // Reuse of the rotated token revokes the whole family.
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &refresh(&refresh_token)).await),
        OAuthErrorCode::InvalidGrant
    );
    assert_eq!(
        w.iam.verify(t2.access_token.expose()).await,
        Err(Denial::SessionRevoked)
    );
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &refresh(&next)).await),
        OAuthErrorCode::InvalidGrant
    );
    // SSO: the login session itself is untouched.
    assert!(w.iam.verify_cached(&login_token(&w).await).is_ok());
}

async fn login_token(w: &World) -> String {
    w.iam
        .login(&LoginRequest::password("alice", PW))
        .await
        .expect("login")
        .tokens
        .access_token
        .expose()
        .to_owned()
}

#[tokio::test]
async fn revoke_then_use_fails() {
    let w = world().await;
    let t = tokens(&w, "read").await;
    let r = t.refresh_token.clone().expect("refresh");
    w.iam
        .revoke_token(&w.app, r.expose(), Some(TokenTypeHint::RefreshToken))
        .await
        .expect("revoke refresh");
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &refresh(&r)).await),
        OAuthErrorCode::InvalidGrant
    );
    assert!(
        w.iam.verify(t.access_token.expose()).await.is_err(),
        "the family died"
    );

    // Revoking an access token (hint wrong on purpose) kills it too.
    let t = tokens(&w, "read").await;
    w.iam
        .revoke_token(
            &w.app,
            t.access_token.expose(),
            Some(TokenTypeHint::RefreshToken),
        )
        .await
        .expect("revoke access");
    assert!(w.iam.verify(t.access_token.expose()).await.is_err());
    let r = t.refresh_token.expect("refresh");
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &refresh(&r)).await),
        OAuthErrorCode::InvalidGrant
    );
    let events = w
        .iam
        .audit_events(Caller::System, &AuditQuery::default())
        .await
        .expect("audit");
    assert!(events
        .iter()
        .any(|e| e.draft.kind == iam_core::AuditKind::OAuthTokenRevoked));
}

#[tokio::test]
async fn revocation_of_unknown_tokens_succeeds_but_needs_client_auth() {
    let w = world().await;
    for junk in ["", "nonsense", &"A".repeat(43), "v4.public.garbage"] {
        w.iam
            .revoke_token(&w.app, junk, None)
            .await
            .expect("unknown token is fine");
    }
    let bad = ClientAuth::secret(w.app_id.clone(), "iam_cs_wrong");
    assert_eq!(
        oauth_err(w.iam.revoke_token(&bad, "nonsense", None).await),
        OAuthErrorCode::InvalidClient
    );
    assert_eq!(
        oauth_err(
            w.iam
                .revoke_token(&ClientAuth::public("cli_nope"), "x", None)
                .await
        ),
        OAuthErrorCode::InvalidClient
    );
    // Another client's token: success, and the token stays valid (RFC 7009 §2.2; no oracle).
    let other = w
        .iam
        .register_client(
            &w.admin,
            NewClient::confidential("Other").grants([GrantType::ClientCredentials]),
        )
        .await
        .expect("other");
    let other_auth = ClientAuth::secret(other.client.id, other.client_secret.expect("secret"));
    let t = tokens(&w, "read").await;
    w.iam
        .revoke_token(&other_auth, t.access_token.expose(), None)
        .await
        .expect("another client's token answers success");
    assert!(w.iam.verify(t.access_token.expose()).await.is_ok());
}

/// Registers a confidential client-credentials client for `resources`; returns its credentials.
async fn cc_client(w: &World, name: &str, resources: &[&str]) -> ClientAuth {
    let reg = w
        .iam
        .register_client(
            &w.admin,
            NewClient::confidential(name)
                .grants([GrantType::ClientCredentials])
                .resources(resources.iter().copied()),
        )
        .await
        .expect("register");
    ClientAuth::secret(reg.client.id, reg.client_secret.expect("secret"))
}

#[tokio::test]
async fn other_clients_learn_nothing_about_a_clients_tokens_and_cannot_revoke_them() {
    let w = world().await;
    // App's tokens from the code flow, for alice, meant for API.
    let mut req = authz(&w.app_id, "read");
    req.resource = vec![API.into()];
    let code = code_of(
        w.iam
            .consent_and_authorize(&req, &w.alice)
            .await
            .expect("consent"),
    );
    let t = w
        .iam
        .token(&w.app, &exchange(&code, VERIFIER))
        .await
        .expect("exchange");
    let access = t.access_token.expose();
    let refresh_token = t.refresh_token.clone().expect("refresh");
    let r = refresh_token.expose();
    // A session access token (not issued to any client; audience "iam").
    let session = login_token(&w).await;

    let stranger = cc_client(&w, "stranger", &["https://other.example/"]).await;
    let api = cc_client(&w, "api", &[API]).await;
    let inactive = serde_json::json!({"active": false});
    let seen = |i: iam_core::Introspection| serde_json::to_value(i).expect("json");
    for hint in [
        None,
        Some(TokenTypeHint::AccessToken),
        Some(TokenTypeHint::RefreshToken),
    ] {
        for token in [access, r, session.as_str()] {
            let i = w.iam.introspect(&stranger, token, hint).await.expect("i");
            assert_eq!(seen(i), inactive, "stranger, {hint:?}");
        }
        // The resource server App's access token is meant for sees it; never the refresh
        // token, which only App may use; nor a session token meant for another audience.
        let i = w.iam.introspect(&api, access, hint).await.expect("i");
        assert!(i.active, "API sees a token meant for it ({hint:?})");
        assert_eq!(i.aud, vec![API.to_string()]);
        for token in [r, session.as_str()] {
            let i = w.iam.introspect(&api, token, hint).await.expect("i");
            assert_eq!(seen(i), inactive, "api, {hint:?}");
        }
        // App itself sees both of its tokens.
        for token in [access, r] {
            assert!(
                w.iam
                    .introspect(&w.app, token, hint)
                    .await
                    .expect("i")
                    .active
            );
        }
    }
    // A client-credentials token of the stranger is invisible to App (its audience is "iam").
    let theirs = w
        .iam
        .token(
            &stranger,
            &TokenRequest::ClientCredentials {
                scope: None,
                resource: vec![],
            },
        )
        .await
        .expect("cc");
    let i = w
        .iam
        .introspect(&w.app, theirs.access_token.expose(), None)
        .await
        .expect("i");
    assert_eq!(seen(i), inactive);

    // Revocation by anyone but App answers success and revokes nothing.
    for client in [&stranger, &api] {
        for hint in [
            None,
            Some(TokenTypeHint::AccessToken),
            Some(TokenTypeHint::RefreshToken),
        ] {
            for token in [access, r] {
                w.iam
                    .revoke_token(client, token, hint)
                    .await
                    .expect("success, as for an unknown token");
            }
        }
    }
    assert!(
        w.iam.verify_for(access, API).await.is_ok(),
        "the access token lives"
    );
    assert!(w.iam.introspect(&w.app, r, None).await.expect("i").active);
    let rotated = w
        .iam
        .token(&w.app, &refresh(&refresh_token))
        .await
        .expect("the refresh token still works");
    assert!(w
        .iam
        .verify_for(rotated.access_token.expose(), API)
        .await
        .is_ok());
}

#[tokio::test]
async fn pkce_rfc_7636_vector_and_wrong_verifier() {
    let w = world().await;
    let c = consented_code(&w, "read").await;
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &exchange(&c, wrong)).await),
        OAuthErrorCode::InvalidGrant
    );
    let missing = TokenRequest::AuthorizationCode {
        code: c.clone(),
        redirect_uri: Some(CB.into()),
        code_verifier: None,
        resource: vec![],
    };
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &missing).await),
        OAuthErrorCode::InvalidGrant
    );
    // The right verifier still works: a failed attempt does not consume the code.
    w.iam
        .token(&w.app, &exchange(&c, VERIFIER))
        .await
        .expect("RFC 7636 appendix B verifier");

    // Plain, or no challenge at all, is refused by redirect.
    let mut plain = authz(&w.app_id, "read");
    plain.code_challenge_method = Some("plain".into());
    plain.code_challenge = Some(VERIFIER.into());
    let out = w
        .iam
        .authorize(&plain, Some(&w.alice))
        .await
        .expect("shown");
    assert_eq!(error_of(out), OAuthErrorCode::InvalidRequest);
    let mut none = authz(&w.app_id, "read");
    none.code_challenge = None;
    none.code_challenge_method = None;
    let out = w.iam.authorize(&none, Some(&w.alice)).await.expect("shown");
    assert_eq!(error_of(out), OAuthErrorCode::InvalidRequest);
}

#[tokio::test]
async fn public_clients_need_pkce_and_no_secret() {
    let w = world().await;
    let spa = w
        .iam
        .register_client(
            &w.admin,
            NewClient::public("Spa")
                .redirect_uri(CB)
                .grants([GrantType::AuthorizationCode, GrantType::RefreshToken])
                .scopes(["read"]),
        )
        .await
        .expect("public");
    assert!(spa.client_secret.is_none());
    assert!(spa.client.require_pkce);
    let spa_auth = ClientAuth::public(spa.client.id.clone());
    let out = w
        .iam
        .consent_and_authorize(&authz(&spa.client.id, "read"), &w.alice)
        .await
        .expect("consent");
    let c = code_of(out);
    let t = w
        .iam
        .token(&spa_auth, &exchange(&c, VERIFIER))
        .await
        .expect("public exchange");
    assert!(t.refresh_token.is_some());
    // A secret presented for a public client is not accepted.
    let with_secret = ClientAuth::secret(spa.client.id.clone(), "iam_cs_x");
    assert_eq!(
        oauth_err(
            w.iam
                .token(&with_secret, &refresh(&t.refresh_token.clone().expect("r")))
                .await
        ),
        OAuthErrorCode::InvalidClient
    );
    // A public client cannot introspect.
    assert_eq!(
        oauth_err(
            w.iam
                .introspect(&spa_auth, t.access_token.expose(), None)
                .await
        ),
        OAuthErrorCode::InvalidClient
    );
    // Nor use client credentials (not allowed at registration either).
    assert_eq!(
        oauth_err(
            w.iam
                .token(
                    &spa_auth,
                    &TokenRequest::ClientCredentials {
                        scope: None,
                        resource: vec![]
                    }
                )
                .await
        ),
        OAuthErrorCode::UnauthorizedClient
    );
}

#[tokio::test]
async fn code_replay_revokes_the_tokens_it_produced() {
    let w = world().await;
    let c = consented_code(&w, "read").await;
    let t = w
        .iam
        .token(&w.app, &exchange(&c, VERIFIER))
        .await
        .expect("first use");
    assert!(w.iam.verify(t.access_token.expose()).await.is_ok());
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &exchange(&c, VERIFIER)).await),
        OAuthErrorCode::InvalidGrant
    );
    assert_eq!(
        w.iam.verify(t.access_token.expose()).await,
        Err(Denial::SessionRevoked)
    );
    let r = t.refresh_token.expect("refresh");
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &refresh(&r)).await),
        OAuthErrorCode::InvalidGrant
    );
    let replays = w
        .iam
        .audit_events(Caller::System, &AuditQuery::default())
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.draft.kind == iam_core::AuditKind::OAuthCodeReplayDetected)
        .count();
    assert_eq!(replays, 1);
}

#[tokio::test]
async fn codes_expire_after_60_seconds() {
    let w = world().await;
    let c = consented_code(&w, "read").await;
    w.clock.advance(Duration::from_secs(60));
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &exchange(&c, VERIFIER)).await),
        OAuthErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn redirect_uri_mismatch_is_shown_not_redirected() {
    let w = world().await;
    let mut req = authz(&w.app_id, "read");
    for bad in [
        "https://evil.example/cb",
        "https://app.example/cb/",
        "https://app.example/cb?x",
    ] {
        req.redirect_uri = Some(bad.into());
        let err = w
            .iam
            .authorize(&req, Some(&w.alice))
            .await
            .expect_err("no redirect");
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
        assert!(w.iam.deny_authorization(&req).await.is_err());
    }
    // Unknown client: shown too.
    let err = w
        .iam
        .authorize(&authz("cli_unknown", "read"), Some(&w.alice))
        .await
        .expect_err("no redirect");
    assert_eq!(err.code, OAuthErrorCode::InvalidClient);
    // Other problems redirect with error and state.
    let mut bad_type = authz(&w.app_id, "read");
    bad_type.response_type = Some("token".into());
    let out = w
        .iam
        .authorize(&bad_type, Some(&w.alice))
        .await
        .expect("redirect");
    assert_eq!(error_of(out), OAuthErrorCode::UnsupportedResponseType);
    let out = w
        .iam
        .authorize(&authz(&w.app_id, "read admin"), Some(&w.alice))
        .await
        .expect("redirect");
    assert_eq!(error_of(out), OAuthErrorCode::InvalidScope);
    let mut bad_resource = authz(&w.app_id, "read");
    bad_resource.resource = vec!["https://other.example/".into()];
    let out = w
        .iam
        .authorize(&bad_resource, Some(&w.alice))
        .await
        .expect("redirect");
    assert_eq!(error_of(out), OAuthErrorCode::InvalidTarget);
    let denied = w
        .iam
        .deny_authorization(&authz(&w.app_id, "read"))
        .await
        .expect("redirect");
    assert_eq!(
        denied.location(),
        format!("{CB}?error=access_denied&error_description=the%20user%20denied%20the%20request&state=xyz")
    );

    // The token request must repeat the exact redirect URI.
    let c = consented_code(&w, "read").await;
    let other = TokenRequest::AuthorizationCode {
        code: c.clone(),
        redirect_uri: Some("https://app.example/other".into()),
        code_verifier: Some(VERIFIER.into()),
        resource: vec![],
    };
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &other).await),
        OAuthErrorCode::InvalidGrant
    );
    let absent = TokenRequest::AuthorizationCode {
        code: c,
        redirect_uri: None,
        code_verifier: Some(VERIFIER.into()),
        resource: vec![],
    };
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &absent).await),
        OAuthErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn only_https_loopback_http_and_native_schemes_register_as_redirect_uris() {
    let w = world().await;
    let register = |kind: fn(&'static str) -> NewClient, uri: &str| {
        w.iam.register_client(
            &w.admin,
            kind("c")
                .redirect_uri(uri)
                .grants([GrantType::AuthorizationCode]),
        )
    };
    for uri in [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>x</script>",
        "file:///etc/passwd",
        "vbscript:msgbox",
        "http://app.example/cb",
        "https://app.example/cb#frag",
        "https://user@app.example/cb",
        "https://app.example\\@evil.example/cb",
        "not a uri",
    ] {
        for kind in [NewClient::confidential, NewClient::public] {
            let r = register(kind, uri).await;
            assert!(
                matches!(r, Err(Error::Invalid(InvalidInput::OAuthClient(_)))),
                "{uri}: {r:?}"
            );
        }
    }
    // A private-use scheme (RFC 8252 §7.1) is for native, that is public, clients only.
    let native = "com.example.app:/oauth2redirect";
    assert!(matches!(
        register(NewClient::confidential, native).await,
        Err(Error::Invalid(InvalidInput::OAuthClient(_)))
    ));
    let ok = register(NewClient::public, native).await.expect("native");
    assert_eq!(ok.client.redirect_uris, vec![native.to_string()]);
    for uri in [
        "http://127.0.0.1:8123/cb",
        "http://[::1]/cb",
        "http://localhost:3000/cb",
    ] {
        for kind in [NewClient::confidential, NewClient::public] {
            register(kind, uri).await.expect(uri);
        }
    }
}

#[tokio::test]
async fn prompt_none_with_and_without_session_and_grant() {
    let w = world().await;
    let mut req = authz(&w.app_id, "read");
    req.prompt = Some("none".into());
    // No session.
    let out = w.iam.authorize(&req, None).await.expect("redirect");
    assert_eq!(error_of(out), OAuthErrorCode::LoginRequired);
    // A session, but no consent yet.
    let out = w
        .iam
        .authorize(&req, Some(&w.alice))
        .await
        .expect("redirect");
    assert_eq!(error_of(out), OAuthErrorCode::ConsentRequired);
    // Without prompt=none the same situations ask for login / consent instead.
    let plain = authz(&w.app_id, "read");
    assert_eq!(
        w.iam.authorize(&plain, None).await.expect("login"),
        AuthorizeOutcome::LoginRequired
    );
    // Consent once, then prompt=none issues a code silently.
    consented_code(&w, "read").await;
    let c = code_of(w.iam.authorize(&req, Some(&w.alice)).await.expect("silent"));
    w.iam
        .token(&w.app, &exchange(&c, VERIFIER))
        .await
        .expect("exchange");
    // Consent does not cover a wider scope.
    let mut wider = req.clone();
    wider.scope = Some("read write".into());
    assert_eq!(
        error_of(
            w.iam
                .authorize(&wider, Some(&w.alice))
                .await
                .expect("redirect")
        ),
        OAuthErrorCode::ConsentRequired
    );
    // max_age older than the login: login_required.
    w.clock.advance(Duration::from_secs(600));
    let mut aged = req.clone();
    aged.max_age = Some(300);
    assert_eq!(
        error_of(
            w.iam
                .authorize(&aged, Some(&w.alice))
                .await
                .expect("redirect")
        ),
        OAuthErrorCode::LoginRequired
    );
    // A logged-out session counts as none.
    w.iam.logout(&w.alice).await.expect("logout");
    assert_eq!(
        error_of(
            w.iam
                .authorize(&req, Some(&w.alice))
                .await
                .expect("redirect")
        ),
        OAuthErrorCode::LoginRequired
    );
    // prompt=none with another value is invalid.
    let mut mixed = req;
    mixed.prompt = Some("none consent".into());
    assert_eq!(
        error_of(w.iam.authorize(&mixed, None).await.expect("redirect")),
        OAuthErrorCode::InvalidRequest
    );
}

#[tokio::test]
async fn one_session_serves_many_clients() {
    let w = world().await;
    let second = w
        .iam
        .register_client(
            &w.admin,
            NewClient::confidential("Second")
                .redirect_uri(CB)
                .grants([GrantType::AuthorizationCode])
                .scopes(["read"]),
        )
        .await
        .expect("second");
    let second_auth = ClientAuth::secret(
        second.client.id.clone(),
        second.client_secret.expect("secret"),
    );
    let a = tokens(&w, "read").await;
    let c = code_of(
        w.iam
            .consent_and_authorize(&authz(&second.client.id, "read"), &w.alice)
            .await
            .expect("second consent"),
    );
    let b = w
        .iam
        .token(&second_auth, &exchange(&c, VERIFIER))
        .await
        .expect("second");
    assert!(
        b.refresh_token.is_none(),
        "no refresh grant allowed for this client"
    );
    let pa = w.iam.verify(a.access_token.expose()).await.expect("a");
    let pb = w.iam.verify(b.access_token.expose()).await.expect("b");
    assert_eq!(pa.account_id, pb.account_id);
    assert_ne!(pa.client_id, pb.client_id);
    // A code from one client is useless to the other.
    let c = consented_code(&w, "read").await;
    assert_eq!(
        oauth_err(w.iam.token(&second_auth, &exchange(&c, VERIFIER)).await),
        OAuthErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn consents_are_listed_and_revoking_one_revokes_its_tokens() {
    let w = world().await;
    let t = tokens(&w, "read").await;
    let consents = w
        .iam
        .list_consents(Caller::System, &w.alice.account_id)
        .await
        .expect("list");
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].client_id, w.app_id);
    assert_eq!(consents[0].scopes, ["read".to_string()].into());
    let revoked = w
        .iam
        .revoke_consent(&w.alice, &w.app_id)
        .await
        .expect("revoke");
    assert_eq!(revoked, 1);
    assert!(w.iam.verify(t.access_token.expose()).await.is_err());
    let r = t.refresh_token.expect("refresh");
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &refresh(&r)).await),
        OAuthErrorCode::InvalidGrant
    );
    assert!(w
        .iam
        .list_consents(Caller::System, &w.alice.account_id)
        .await
        .expect("list")
        .is_empty());
    let mut req = authz(&w.app_id, "read");
    req.prompt = Some("none".into());
    assert_eq!(
        error_of(
            w.iam
                .authorize(&req, Some(&w.alice))
                .await
                .expect("redirect")
        ),
        OAuthErrorCode::ConsentRequired
    );
}

fn poll(device_code: &SecretString) -> TokenRequest {
    TokenRequest::DeviceCode {
        device_code: device_code.clone(),
    }
}

#[tokio::test]
async fn device_flow_through_every_answer() {
    let w = world().await;
    let d = w
        .iam
        .device_authorization(&w.app, Some("read"), &[])
        .await
        .expect("device authorization");
    assert_eq!(d.interval, 5);
    assert_eq!(d.expires_in, 600);
    assert_eq!(d.user_code.len(), 9);
    assert_eq!(&d.user_code[4..5], "-");
    assert_eq!(d.verification_uri, "/device");
    assert_eq!(
        d.verification_uri_complete,
        format!("/device?user_code={}", d.user_code)
    );
    let json = serde_json::to_value(&d).expect("json");
    for f in [
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    ] {
        assert!(json.get(f).is_some(), "{f}");
    }

    assert_eq!(
        oauth_err(w.iam.token(&w.app, &poll(&d.device_code)).await),
        OAuthErrorCode::AuthorizationPending
    );
    w.clock.advance(Duration::from_secs(2));
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &poll(&d.device_code)).await),
        OAuthErrorCode::SlowDown
    );
    // The interval is now 10 s: 6 s later is still too fast.
    w.clock.advance(Duration::from_secs(6));
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &poll(&d.device_code)).await),
        OAuthErrorCode::SlowDown
    );
    // Now 15 s.
    w.clock.advance(Duration::from_secs(15));
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &poll(&d.device_code)).await),
        OAuthErrorCode::AuthorizationPending
    );

    // The user looks the code up (any case, no dash) and approves.
    let typed = d.user_code.replace('-', "").to_lowercase();
    let prompt = w.iam.device_prompt(&w.alice, &typed).await.expect("prompt");
    assert_eq!(prompt.client_id, w.app_id);
    assert_eq!(prompt.user_code, d.user_code);
    w.iam
        .approve_device(&w.alice, &typed)
        .await
        .expect("approve");
    assert!(
        w.iam.device_prompt(&w.alice, &typed).await.is_err(),
        "settled codes are gone"
    );

    w.clock.advance(Duration::from_secs(15));
    let t = w
        .iam
        .token(&w.app, &poll(&d.device_code))
        .await
        .expect("tokens");
    let p = w.iam.verify(t.access_token.expose()).await.expect("verify");
    assert_eq!(p.account_id, w.alice.account_id);
    assert_eq!(p.scopes, vec!["read".to_string()]);
    assert!(t.refresh_token.is_some());
    w.clock.advance(Duration::from_secs(15));
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &poll(&d.device_code)).await),
        OAuthErrorCode::InvalidGrant,
        "a device code yields tokens once"
    );

    // Denied.
    let d = w
        .iam
        .device_authorization(&w.app, None, &[])
        .await
        .expect("second");
    w.iam
        .deny_device(&w.alice, &d.user_code)
        .await
        .expect("deny");
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &poll(&d.device_code)).await),
        OAuthErrorCode::AccessDenied
    );

    // Expired.
    let d = w
        .iam
        .device_authorization(&w.app, None, &[])
        .await
        .expect("third");
    w.clock.advance(Duration::from_secs(600));
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &poll(&d.device_code)).await),
        OAuthErrorCode::ExpiredToken
    );
    assert!(w.iam.approve_device(&w.alice, &d.user_code).await.is_err());

    // Another client cannot poll someone else's device code; scope is checked up front.
    assert_eq!(
        oauth_err(w.iam.device_authorization(&w.app, Some("admin"), &[]).await),
        OAuthErrorCode::InvalidScope
    );
}

#[tokio::test]
async fn client_credentials_scope_and_resource_checks() {
    let w = world().await;
    let cc = |scope: Option<&str>, resource: &[&str]| TokenRequest::ClientCredentials {
        scope: scope.map(str::to_owned),
        resource: resource.iter().map(|r| (*r).to_owned()).collect(),
    };
    let t = w
        .iam
        .token(&w.app, &cc(Some("read"), &[API]))
        .await
        .expect("cc");
    assert!(
        t.refresh_token.is_none(),
        "client credentials yield no refresh token"
    );
    // A token minted for a resource (RFC 8707) names it as audience: iam's own API refuses
    // it, the resource server accepts it.
    assert_eq!(
        w.iam.verify(t.access_token.expose()).await,
        Err(iam_core::Denial::TokenWrongAudience)
    );
    let p = w
        .iam
        .verify_for(t.access_token.expose(), API)
        .await
        .expect("verify for the resource");
    assert_eq!(p.audience, vec![API.to_string()]);
    assert_eq!(
        w.iam
            .verify_for(t.access_token.expose(), "https://other.example/")
            .await,
        Err(iam_core::Denial::TokenWrongAudience)
    );
    assert_eq!(p.account_id, w.app_id, "the client is the subject");
    assert_eq!(p.kind, iam_core::AccountKind::System);
    assert_eq!(p.resources, vec![API.to_string()]);
    assert_eq!(p.actor, None);
    assert!(p.roles.is_empty());
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &cc(Some("read admin"), &[])).await),
        OAuthErrorCode::InvalidScope
    );
    assert_eq!(
        oauth_err(
            w.iam
                .token(&w.app, &cc(None, &["https://other.example/"]))
                .await
        ),
        OAuthErrorCode::InvalidTarget
    );
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &cc(None, &["not a uri"])).await),
        OAuthErrorCode::InvalidTarget
    );
    // No scope: every scope the client is allowed.
    let all = w.iam.token(&w.app, &cc(None, &[])).await.expect("all");
    assert_eq!(all.scope.as_deref(), Some("read write"));

    // A client registered by alice to act for her carries `act`.
    let mine = w
        .iam
        .register_client(
            &w.alice,
            NewClient::confidential("alice's script")
                .grants([GrantType::ClientCredentials])
                .scopes(["read"])
                .acting_for_owner(),
        )
        .await
        .expect("own client");
    let mine_auth = ClientAuth::secret(mine.client.id.clone(), mine.client_secret.expect("s"));
    let t = w
        .iam
        .token(&mine_auth, &cc(None, &[]))
        .await
        .expect("acting");
    let p = w.iam.verify(t.access_token.expose()).await.expect("verify");
    assert_eq!(p.actor.as_deref(), Some(w.alice.account_id.as_str()));
    assert_eq!(p.roles, vec!["read".to_string()]);
    let intro = w
        .iam
        .introspect(&mine_auth, t.access_token.expose(), None)
        .await
        .expect("i");
    assert_eq!(
        serde_json::to_value(&intro).expect("json")["act"],
        serde_json::json!({"sub": w.alice.account_id})
    );
    // Non-admins may not register clients that do not act for them.
    assert!(w
        .iam
        .register_client(
            &w.alice,
            NewClient::confidential("x").grants([GrantType::ClientCredentials])
        )
        .await
        .is_err());
    // A client without the grant type is refused.
    let code_only = w
        .iam
        .register_client(
            &w.admin,
            NewClient::confidential("code only")
                .redirect_uri(CB)
                .grants([GrantType::AuthorizationCode]),
        )
        .await
        .expect("code only");
    let auth = ClientAuth::secret(code_only.client.id, code_only.client_secret.expect("s"));
    assert_eq!(
        oauth_err(w.iam.token(&auth, &cc(None, &[])).await),
        OAuthErrorCode::UnauthorizedClient
    );
}

#[tokio::test]
async fn secret_rotation_keeps_the_old_secret_for_the_grace_period() {
    let w = world().await;
    let cc = TokenRequest::ClientCredentials {
        scope: None,
        resource: vec![],
    };
    let new_secret = w
        .iam
        .rotate_client_secret(&w.admin, &w.app_id)
        .await
        .expect("rotate");
    let new_auth = ClientAuth::secret(w.app_id.clone(), new_secret);
    w.iam
        .token(&w.app, &cc)
        .await
        .expect("old secret during grace");
    w.iam.token(&new_auth, &cc).await.expect("new secret");
    w.clock.advance(Duration::from_secs(24 * 3600 - 1));
    w.iam
        .token(&w.app, &cc)
        .await
        .expect("old secret just before the end");
    w.clock.advance(Duration::from_secs(1));
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &cc).await),
        OAuthErrorCode::InvalidClient
    );
    w.iam.token(&new_auth, &cc).await.expect("new secret still");
    assert_eq!(
        w.iam
            .token(&w.app, &cc)
            .await
            .map_err(|e| e.http_status())
            .err(),
        Some(401)
    );
    // Only admins and the owner may rotate.
    assert!(w
        .iam
        .rotate_client_secret(&w.alice, &w.app_id)
        .await
        .is_err());
}

#[tokio::test]
async fn disabling_a_client_revokes_its_tokens() {
    let w = world().await;
    let user = tokens(&w, "read").await;
    let cc = w
        .iam
        .token(
            &w.app,
            &TokenRequest::ClientCredentials {
                scope: None,
                resource: vec![],
            },
        )
        .await
        .expect("cc");
    // The client is remembered now; disabling must still take effect at once.
    w.iam
        .introspect(&w.app, cc.access_token.expose(), None)
        .await
        .expect("introspect while enabled");
    assert_eq!(
        w.iam
            .disable_client(&w.admin, &w.app_id)
            .await
            .expect("disable"),
        1
    );
    assert_eq!(
        oauth_err(
            w.iam
                .introspect(&w.app, cc.access_token.expose(), None)
                .await
        ),
        OAuthErrorCode::InvalidClient
    );
    assert!(w.iam.verify(user.access_token.expose()).await.is_err());
    assert!(w.iam.verify(cc.access_token.expose()).await.is_err());
    let r = user.refresh_token.expect("r");
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &refresh(&r)).await),
        OAuthErrorCode::InvalidClient
    );
    assert!(
        w.iam
            .oauth_client(Caller::System, &w.app_id)
            .await
            .expect("client")
            .disabled
    );
    assert_eq!(
        w.iam
            .authorize(&authz(&w.app_id, "read"), Some(&w.alice))
            .await
            .expect_err("shown")
            .code,
        OAuthErrorCode::InvalidClient
    );
}

#[tokio::test]
async fn introspection_of_active_expired_and_revoked_tokens() {
    let w = world().await;
    let t = tokens(&w, "read").await;
    let i = w
        .iam
        .introspect(
            &w.app,
            t.access_token.expose(),
            Some(TokenTypeHint::AccessToken),
        )
        .await
        .expect("introspect");
    assert!(i.active);
    assert_eq!(i.scope.as_deref(), Some("read"));
    assert_eq!(i.client_id.as_deref(), Some(w.app_id.as_str()));
    assert_eq!(i.sub.as_deref(), Some(w.alice.account_id.as_str()));
    assert_eq!(i.token_type.as_deref(), Some("Bearer"));
    assert_eq!(i.iss.as_deref(), Some("iam"));
    assert_eq!(i.aud, vec!["iam".to_string()]);
    let start = common::START.as_secs();
    assert_eq!(i.iat, Some(start));
    assert_eq!(i.exp, Some(start + 900));
    assert!(i.jti.is_some());

    let r = t.refresh_token.clone().expect("refresh");
    let ri = w
        .iam
        .introspect(&w.app, r.expose(), None)
        .await
        .expect("refresh introspect");
    assert!(ri.active);
    assert_eq!(ri.token_type.as_deref(), Some("refresh_token"));

    // Expired.
    w.clock.advance(Duration::from_secs(900));
    let expired = w
        .iam
        .introspect(&w.app, t.access_token.expose(), None)
        .await
        .expect("i");
    assert_eq!(
        serde_json::to_value(&expired).expect("json"),
        serde_json::json!({"active": false})
    );
    // Revoked.
    let t2 = w.iam.token(&w.app, &refresh(&r)).await.expect("refresh");
    assert!(
        w.iam
            .introspect(&w.app, t2.access_token.expose(), None)
            .await
            .expect("i")
            .active
    );
    assert!(
        !w.iam
            .introspect(&w.app, r.expose(), None)
            .await
            .expect("i")
            .active,
        "rotated"
    );
    w.iam
        .revoke_token(&w.app, t2.access_token.expose(), None)
        .await
        .expect("revoke");
    let revoked = w
        .iam
        .introspect(&w.app, t2.access_token.expose(), None)
        .await
        .expect("i");
    assert_eq!(revoked, iam_core::Introspection::inactive());
    let next = t2.refresh_token.expect("next");
    assert!(
        !w.iam
            .introspect(&w.app, next.expose(), None)
            .await
            .expect("i")
            .active
    );
    // Junk.
    assert!(
        !w.iam
            .introspect(&w.app, "junk", None)
            .await
            .expect("i")
            .active
    );
    // Only authenticated clients.
    let bad = ClientAuth::secret(w.app_id.clone(), "iam_cs_nope");
    assert_eq!(
        oauth_err(w.iam.introspect(&bad, "junk", None).await),
        OAuthErrorCode::InvalidClient
    );
}

#[tokio::test]
async fn no_secret_enters_the_audit_log() {
    let w = world().await;
    let t = tokens(&w, "read").await;
    let d = w
        .iam
        .device_authorization(&w.app, None, &[])
        .await
        .expect("device");
    let events = w
        .iam
        .audit_events(Caller::System, &AuditQuery::default())
        .await
        .expect("audit");
    let text = serde_json::to_string(&events).expect("json");
    for secret in [
        t.access_token.expose(),
        t.refresh_token.as_ref().expect("r").expose(),
        d.device_code.expose(),
        w.app.client_secret.as_ref().expect("s").expose(),
    ] {
        assert!(!text.contains(secret));
    }
    for kind in [
        iam_core::AuditKind::OAuthClientRegistered,
        iam_core::AuditKind::OAuthConsentGiven,
        iam_core::AuditKind::OAuthCodeIssued,
        iam_core::AuditKind::OAuthTokenIssued,
    ] {
        assert!(events.iter().any(|e| e.draft.kind == kind), "{kind:?}");
    }
    w.iam
        .verify_audit_chain(Caller::System)
        .await
        .expect("chain");
}

#[tokio::test]
async fn prune_removes_spent_oauth_records() {
    let w = world().await;
    consented_code(&w, "read").await;
    w.iam
        .device_authorization(&w.app, None, &[])
        .await
        .expect("device");
    w.clock.advance(Duration::from_secs(3600));
    let report = iam_core::Store::prune(w.iam.store(), w.clock_now(), common::START)
        .await
        .expect("prune");
    assert_eq!(report.records_of(iam_core::store::RecordKind::AuthCode), 1);
    assert_eq!(
        report.records_of(iam_core::store::RecordKind::DeviceCode),
        1
    );
}

impl World {
    fn clock_now(&self) -> iam_core::Timestamp {
        iam_core::Clock::now(&self.clock)
    }
}

#[test]
fn metadata_names_every_endpoint() {
    let m = AuthorizationServerMetadata::new("https://id.example.com");
    let v = serde_json::to_value(&m).expect("json");
    for f in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "device_authorization_endpoint",
        "grant_types_supported",
        "code_challenge_methods_supported",
        "token_endpoint_auth_methods_supported",
    ] {
        assert!(v.get(f).is_some(), "{f}");
    }
}

#[tokio::test]
async fn guessing_user_codes_is_throttled() {
    let w = world().await;
    let d = w
        .iam
        .device_authorization(&w.app, None, &[])
        .await
        .expect("device");
    // Entering a real code is no miss, however often.
    for _ in 0..10 {
        w.iam
            .device_prompt(&w.alice, &d.user_code)
            .await
            .expect("a pending code is shown");
    }
    let mut throttled = false;
    for _ in 0..8 {
        match w.iam.device_prompt(&w.alice, "BBBB-BBBB").await {
            Err(iam_core::Error::NotFound(_)) => {}
            Err(iam_core::Error::Denied(Denial::Throttled { .. })) => {
                throttled = true;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(throttled, "misses count towards back-off");
    assert!(matches!(
        w.iam.approve_device(&w.alice, &d.user_code).await,
        Err(iam_core::Error::Denied(Denial::Throttled { .. }))
    ));
    // An OAuth token cannot approve devices.
    let t = tokens(&w, "read").await;
    let p = w.iam.verify(t.access_token.expose()).await.expect("verify");
    assert!(w.iam.approve_device(&p, &d.user_code).await.is_err());
}

#[tokio::test]
async fn approvals_die_with_the_approving_session() {
    let w = world().await;
    // A code approved by a session that then signs out cannot be exchanged.
    let code = code_of(
        w.iam
            .consent_and_authorize(&authz(&w.app_id, "read"), &w.alice)
            .await
            .expect("consent"),
    );
    let device = w
        .iam
        .device_authorization(&w.app, Some("read"), &[])
        .await
        .expect("device authorization");
    w.iam
        .approve_device(&w.alice, &device.user_code)
        .await
        .expect("approve");
    w.iam.logout(&w.alice).await.expect("logout");
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &exchange(&code, VERIFIER)).await),
        OAuthErrorCode::InvalidGrant
    );
    w.clock.advance(Duration::from_secs(10));
    assert_eq!(
        oauth_err(w.iam.token(&w.app, &poll(&device.device_code)).await),
        OAuthErrorCode::AccessDenied
    );

    // The same requests approved by a live session succeed.
    let alice = login(&w.iam, "alice").await;
    let code = code_of(
        w.iam
            .consent_and_authorize(&authz(&w.app_id, "read"), &alice)
            .await
            .expect("consent"),
    );
    assert!(w
        .iam
        .token(&w.app, &exchange(&code, VERIFIER))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_users_own_client_is_named_with_its_registrar_and_held_to_its_roles() {
    let w = world().await;
    // alice holds `read` only: she may not register a client asking for `admin`, nor for the
    // management scope.
    for scopes in [vec!["admin"], vec![iam_core::MANAGEMENT_SCOPE]] {
        assert!(w
            .iam
            .register_client(
                &w.alice,
                NewClient::confidential("IAM Admin CLI")
                    .grants([GrantType::DeviceCode])
                    .scopes(scopes)
                    .acting_for_owner(),
            )
            .await
            .is_err());
    }
    let reg = w
        .iam
        .register_client(
            &w.alice,
            NewClient::confidential("Alice's tool")
                .grants([GrantType::DeviceCode])
                .scopes(["read"])
                .acting_for_owner(),
        )
        .await
        .expect("a client for alice's own roles");
    let auth = ClientAuth::secret(reg.client.id, reg.client_secret.expect("secret"));
    let d = w
        .iam
        .device_authorization(&auth, Some("read"), &[])
        .await
        .expect("device authorization");
    let prompt = w
        .iam
        .device_prompt(&w.admin, &d.user_code)
        .await
        .expect("prompt");
    assert_eq!(prompt.registered_by.as_deref(), Some("alice"));
    // The admin's own client is not named with a registrar.
    let d = w
        .iam
        .device_authorization(&w.app, Some("read"), &[])
        .await
        .expect("device authorization");
    let prompt = w
        .iam
        .device_prompt(&w.admin, &d.user_code)
        .await
        .expect("prompt");
    assert_eq!(prompt.registered_by, None, "{prompt:?}");
}

#[tokio::test]
async fn a_users_client_carries_only_scopes_naming_roles_the_account_still_holds() {
    let w = world().await;
    // alice's own client for her role `read`; she approves it for herself.
    let reg = w
        .iam
        .register_client(
            &w.alice,
            NewClient::confidential("alice's reader")
                .grants([GrantType::DeviceCode, GrantType::RefreshToken])
                .scopes(["read", "openid"])
                .acting_for_owner(),
        )
        .await
        .expect("register");
    let auth = ClientAuth::secret(reg.client.id, reg.client_secret.expect("secret"));
    let d = w
        .iam
        .device_authorization(&auth, Some("read openid"), &[])
        .await
        .expect("device authorization");
    w.iam
        .approve_device(&w.alice, &d.user_code)
        .await
        .expect("approve");
    w.clock.advance(Duration::from_secs(10));
    let t = w
        .iam
        .token(&auth, &poll(&d.device_code))
        .await
        .expect("token");
    assert_eq!(t.scope.as_deref(), Some("openid read"));
    // alice loses `read` (which also ends that grant); a new approval yields a token without
    // that scope, though the client still asks for it.
    w.iam
        .revoke_role(Caller::System, &w.alice.account_id, "read")
        .await
        .expect("revoke");
    w.clock.advance(Duration::from_millis(5));
    let alice = login(&w.iam, "alice").await;
    let d = w
        .iam
        .device_authorization(&auth, Some("read openid"), &[])
        .await
        .expect("device authorization");
    w.iam
        .approve_device(&alice, &d.user_code)
        .await
        .expect("approve");
    w.clock.advance(Duration::from_secs(10));
    let next = w
        .iam
        .token(&auth, &poll(&d.device_code))
        .await
        .expect("token");
    assert_eq!(next.scope.as_deref(), Some("openid"));
    let p = w
        .iam
        .verify(next.access_token.expose())
        .await
        .expect("verify");
    assert_eq!(p.scopes, vec!["openid".to_string()]);
    assert_eq!(
        p.require_scope("read"),
        Err(iam_core::Denial::MissingScope("read".into()))
    );
}
