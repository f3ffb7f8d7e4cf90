//! The OpenID Connect provider over the in-memory store: ID tokens checked by a third-party
//! JWT library through the published JWKS alone, userinfo by consented scope, `id_token_hint`,
//! refresh, and RP-initiated logout checks.

mod common;

use common::{login, CHALLENGE, PW, VERIFIER};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use iam_core::jose::JwsAlg;
use iam_core::oauth::{AuthorizationResult, ResponseMode, TokenTypeHint};
use iam_core::oidc::AccessTokenFormat;
use iam_core::{
    AuthorizeOutcome, AuthorizeRequest, Caller, ClientAuth, Denial, Error, GrantType, Iam,
    ManualClock, MemoryStore, NewAccount, NewClient, OAuthErrorCode, Principal, ProfileUpdate,
    SecretString, TokenRequest,
};
use sha2::{Digest, Sha256, Sha512};

const CB: &str = "https://rp.example/cb";
const AFTER_LOGOUT: &str = "https://rp.example/bye";
const ISSUER: &str = "https://id.example.com";

type TestIam = Iam<MemoryStore, ManualClock>;

struct World {
    iam: TestIam,
    alice: Principal,
    bob: Principal,
    alice_id: String,
    clock: ManualClock,
}

async fn world() -> World {
    let (iam, clock) = common::iam_with(|c| {
        c.issuer = ISSUER.into();
        c.deletion_grace = std::time::Duration::from_secs(60);
    })
    .await;
    // The relying party's JWT library checks `exp` against the real clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    clock.set(iam_core::Timestamp::from_secs(
        i64::try_from(now).expect("fits"),
    ));
    iam.create_account(
        NewAccount::human("root", PW).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("admin");
    let alice = iam
        .create_account(NewAccount::human("alice", PW), Caller::System)
        .await
        .expect("alice");
    iam.create_account(NewAccount::human("bob", PW), Caller::System)
        .await
        .expect("bob");
    set_profile(&iam, &alice.id).await;
    let alice_id = alice.id.clone();
    World {
        alice: login(&iam, "alice").await,
        bob: login(&iam, "bob").await,
        iam,
        alice_id,
        clock,
    }
}

/// Gives `id` a name and a verified email address, as an admin would.
async fn set_profile(iam: &TestIam, id: &str) {
    let update = ProfileUpdate::default()
        .with_name("Alice Liddell")
        .with_email("alice@example.com")
        .with_email_verified(true);
    iam.update_profile(Caller::System, id, &update)
        .await
        .expect("profile");
}

/// Registers a relying party signing its ID tokens with `alg`.
async fn relying_party(iam: &TestIam, alg: JwsAlg) -> (String, ClientAuth) {
    let admin = login(iam, "root").await;
    let mut new = NewClient::confidential("Wiki")
        .redirect_uri(CB)
        .grants([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .scopes(["openid", "profile", "email"]);
    new.oidc.id_token_signed_response_alg = alg;
    new.oidc.post_logout_redirect_uris = vec![AFTER_LOGOUT.into()];
    let reg = iam.register_client(&admin, new).await.expect("register");
    let id = reg.client.id.clone();
    (
        id.clone(),
        ClientAuth::secret(id, reg.client_secret.expect("secret")),
    )
}

fn request(client_id: &str, scope: &str, nonce: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        response_type: Some("code".into()),
        client_id: Some(client_id.into()),
        redirect_uri: Some(CB.into()),
        scope: Some(scope.into()),
        state: Some("st".into()),
        nonce: Some(nonce.into()),
        code_challenge: Some(CHALLENGE.into()),
        code_challenge_method: Some("S256".into()),
        ..AuthorizeRequest::default()
    }
}

fn code_of(outcome: AuthorizeOutcome) -> SecretString {
    match outcome {
        AuthorizeOutcome::Redirect(r) => match r.result {
            AuthorizationResult::Code(c) => c,
            AuthorizationResult::Error(e) => panic!("expected a code, got {e:?}"),
        },
        other => panic!("expected a redirect, got {other:?}"),
    }
}

fn error_of(outcome: AuthorizeOutcome) -> OAuthErrorCode {
    match outcome {
        AuthorizeOutcome::Redirect(r) => match r.result {
            AuthorizationResult::Error(e) => e.code,
            AuthorizationResult::Code(_) => panic!("expected an error"),
        },
        other => panic!("expected a redirect, got {other:?}"),
    }
}

/// Consents as `user` and exchanges the code: (access token, ID token, refresh token).
async fn sign_in(
    w: &World,
    rp: &(String, ClientAuth),
    user: &Principal,
    req: &AuthorizeRequest,
) -> (String, String, SecretString) {
    let (access, id_token, refresh) = sign_in_any(w, rp, user, req).await;
    (access, id_token.expect("an id_token"), refresh)
}

/// Like [`sign_in`], for requests that may not be OpenID Connect ones.
async fn sign_in_any(
    w: &World,
    rp: &(String, ClientAuth),
    user: &Principal,
    req: &AuthorizeRequest,
) -> (String, Option<String>, SecretString) {
    let code = code_of(
        w.iam
            .consent_and_authorize(req, user)
            .await
            .expect("consent"),
    );
    let t = w
        .iam
        .token(
            &rp.1,
            &TokenRequest::AuthorizationCode {
                code,
                redirect_uri: Some(CB.into()),
                code_verifier: Some(VERIFIER.into()),
                resource: vec![],
            },
        )
        .await
        .expect("exchange");
    let json = serde_json::to_value(&t).expect("json");
    (
        t.access_token.expose().to_owned(),
        json["id_token"].as_str().map(str::to_owned),
        t.refresh_token.expect("refresh token"),
    )
}

/// Verifies `jwt` as a relying party would, with jsonwebtoken and nothing but the JWKS.
async fn rp_verify(iam: &TestIam, jwt: &str, client_id: &str) -> serde_json::Value {
    let header = jsonwebtoken::decode_header(jwt).expect("header");
    let kid = header.kid.clone().expect("kid");
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(iam.jwks().await.expect("jwks")).expect("a JWK set");
    let jwk = jwks.find(&kid).expect("the key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key");
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[client_id]);
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &v)
        .expect("the ID token verifies")
        .claims
}

fn half_hash_b64(alg: JwsAlg, token: &str) -> String {
    let d = match alg {
        JwsAlg::EdDsa => Sha512::digest(token.as_bytes()).to_vec(),
        _ => Sha256::digest(token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&d[..d.len() / 2])
}

#[tokio::test]
async fn id_tokens_in_every_algorithm_verify_through_the_jwks() {
    let w = world().await;
    for alg in JwsAlg::ALL {
        let rp = relying_party(&w.iam, alg).await;
        let req = request(&rp.0, "openid profile email", "n-0S6_WzA2Mj");
        let (access, id_token, _) = sign_in(&w, &rp, &w.alice, &req).await;
        let header = jsonwebtoken::decode_header(&id_token).expect("header");
        assert_eq!(
            format!("{:?}", header.alg).to_uppercase(),
            alg.as_str().to_uppercase()
        );
        let c = rp_verify(&w.iam, &id_token, &rp.0).await;
        assert_eq!(c["sub"], w.alice_id.as_str());
        assert_eq!(c["aud"], rp.0.as_str());
        assert_eq!(c["azp"], rp.0.as_str());
        assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(
            c["at_hash"],
            half_hash_b64(alg, &access).as_str(),
            "{alg:?}"
        );
        assert_eq!(c["auth_time"], w.alice.auth_time.as_secs());
        assert_eq!(c["amr"], serde_json::json!(["pwd"]));
        assert_eq!(c["preferred_username"], "alice");
        assert_eq!(c["email"], "alice@example.com");
        assert_eq!(c["email_verified"], true);
    }
}

#[tokio::test]
async fn userinfo_answers_exactly_the_consented_claims() {
    let w = world().await;
    let rp = relying_party(&w.iam, JwsAlg::Rs256).await;
    let (access, _, _) = sign_in(&w, &rp, &w.alice, &request(&rp.0, "openid", "n1")).await;
    let token = w.iam.verify(&access).await.expect("verify");
    let claims = w.iam.userinfo(&token).await.expect("userinfo");
    assert_eq!(
        serde_json::Value::Object(claims),
        serde_json::json!({"sub": w.alice_id})
    );

    let (access, _, _) = sign_in(&w, &rp, &w.alice, &request(&rp.0, "openid profile", "n2")).await;
    let token = w.iam.verify(&access).await.expect("verify");
    let claims = w.iam.userinfo(&token).await.expect("userinfo");
    let mut names: Vec<&str> = claims.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["name", "preferred_username", "sub", "updated_at"]);
    assert_eq!(claims["name"], "Alice Liddell");

    // A token without openid, and a login session's token, are refused.
    let (access, id_token, _) =
        sign_in_any(&w, &rp, &w.alice, &request(&rp.0, "profile", "n3")).await;
    assert!(id_token.is_none(), "no openid, no ID token");
    let token = w.iam.verify(&access).await.expect("verify");
    assert!(matches!(
        w.iam.userinfo(&token).await,
        Err(Error::Denied(Denial::MissingScope(s))) if s == "openid"
    ));
    assert!(matches!(
        w.iam.userinfo(&w.alice).await,
        Err(Error::Denied(Denial::WrongTokenKind))
    ));
}

#[tokio::test]
async fn refresh_gives_a_new_id_token_without_nonce() {
    let w = world().await;
    let rp = relying_party(&w.iam, JwsAlg::Es256).await;
    let (_, first, refresh) =
        sign_in(&w, &rp, &w.alice, &request(&rp.0, "openid email", "n-r")).await;
    let t = w
        .iam
        .token(
            &rp.1,
            &TokenRequest::RefreshToken {
                refresh_token: refresh,
                scope: None,
                resource: vec![],
            },
        )
        .await
        .expect("refresh");
    let again = t.id_token.expect("an ID token on refresh");
    let (a, b) = (
        rp_verify(&w.iam, &first, &rp.0).await,
        rp_verify(&w.iam, &again, &rp.0).await,
    );
    assert_eq!(a["sub"], b["sub"]);
    assert_eq!(
        a["auth_time"], b["auth_time"],
        "the sign-in did not happen again"
    );
    assert!(b.get("nonce").is_none());
}

/// A JWT with `header` and the claims of `like` (base64url parts; the signature is junk).
fn forged(header: &serde_json::Value, like: &str) -> String {
    let payload = like.split('.').nth(1).expect("payload");
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("json"));
    format!("{h}.{payload}.")
}

#[tokio::test]
async fn id_token_hints_name_the_user_and_bad_ones_are_refused() {
    let w = world().await;
    let rp = relying_party(&w.iam, JwsAlg::Rs256).await;
    let (_, hint, _) = sign_in(&w, &rp, &w.alice, &request(&rp.0, "openid", "n")).await;
    let silent = |hint: &str| AuthorizeRequest {
        prompt: Some("none".into()),
        id_token_hint: Some(hint.into()),
        ..request(&rp.0, "openid", "n2")
    };
    // The hinted user's own session: a code, silently.
    code_of(
        w.iam
            .authorize(&silent(&hint), Some(&w.alice))
            .await
            .expect("authorize"),
    );
    // Another user's session does not answer for the hinted one.
    assert_eq!(
        error_of(
            w.iam
                .authorize(&silent(&hint), Some(&w.bob))
                .await
                .expect("authorize")
        ),
        OAuthErrorCode::LoginRequired
    );
    // Unsigned, foreign-key and garbage hints are invalid_request.
    let kid = jsonwebtoken::decode_header(&hint)
        .expect("header")
        .kid
        .expect("kid");
    let none = forged(&serde_json::json!({"alg": "none", "typ": "JWT"}), &hint);
    let foreign = forged(
        &serde_json::json!({"alg": "RS256", "kid": "not-ours"}),
        &hint,
    );
    let tampered = forged(&serde_json::json!({"alg": "RS256", "kid": kid}), &hint);
    for bad in [
        none.as_str(),
        foreign.as_str(),
        tampered.as_str(),
        "x.y.z",
        "",
    ] {
        assert_eq!(
            error_of(
                w.iam
                    .authorize(&silent(bad), Some(&w.alice))
                    .await
                    .expect("authorize")
            ),
            OAuthErrorCode::InvalidRequest,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn authorization_parameters_of_openid_connect() {
    let w = world().await;
    let rp = relying_party(&w.iam, JwsAlg::Rs256).await;
    let with = |f: fn(&mut AuthorizeRequest)| {
        let mut r = request(&rp.0, "openid", "n");
        f(&mut r);
        r
    };
    for (name, req) in [
        ("unknown prompt", with(|r| r.prompt = Some("bogus".into()))),
        (
            "unknown response_mode",
            with(|r| r.response_mode = Some("fragment".into())),
        ),
        ("claims not JSON", with(|r| r.claims = Some("{".into()))),
        ("nonce too long", with(|r| r.nonce = Some("n".repeat(600)))),
    ] {
        assert_eq!(
            error_of(
                w.iam
                    .authorize(&req, Some(&w.alice))
                    .await
                    .expect("authorize")
            ),
            OAuthErrorCode::InvalidRequest,
            "{name}"
        );
    }
    // form_post is carried to the adapter; login_hint and ui_locales are accepted.
    let req = with(|r| {
        r.response_mode = Some("form_post".into());
        r.login_hint = Some("alice".into());
        r.ui_locales = Some("fr-CA fr en".into());
    });
    match w
        .iam
        .consent_and_authorize(&req, &w.alice)
        .await
        .expect("consent")
    {
        AuthorizeOutcome::Redirect(r) => assert_eq!(r.response_mode, ResponseMode::FormPost),
        other => panic!("{other:?}"),
    }
    // The claims parameter asks for email: its scope is added, and consent covers it.
    let req = with(|r| r.claims = Some(r#"{"id_token":{"email":{"essential":true}}}"#.into()));
    let (_, id_token, _) = sign_in(&w, &rp, &w.alice, &req).await;
    assert_eq!(
        rp_verify(&w.iam, &id_token, &rp.0).await["email"],
        "alice@example.com"
    );
}

#[tokio::test]
async fn rp_initiated_logout_checks_hint_client_and_return_uri() {
    let w = world().await;
    let rp = relying_party(&w.iam, JwsAlg::Rs256).await;
    let (_, hint, _) = sign_in(&w, &rp, &w.alice, &request(&rp.0, "openid", "n")).await;
    let ok = w
        .iam
        .check_end_session(Some(&hint), None, Some(AFTER_LOGOUT), Some(&w.alice))
        .await
        .expect("accepted");
    assert_eq!(ok.redirect_uri.as_deref(), Some(AFTER_LOGOUT));
    assert!(ok.hint_matches_user);
    let other_user = w
        .iam
        .check_end_session(Some(&hint), None, None, Some(&w.bob))
        .await
        .expect("accepted");
    assert!(
        !other_user.hint_matches_user,
        "bob is asked before being signed out"
    );
    for (hint, client, uri) in [
        (Some(hint.as_str()), None, Some("https://evil.example/")),
        (None, None, Some(AFTER_LOGOUT)),
        (Some(hint.as_str()), Some("cli_other"), None),
        (Some("not.a.jwt"), None, None),
    ] {
        let e = w
            .iam
            .check_end_session(hint, client, uri, Some(&w.alice))
            .await
            .expect_err("refused");
        assert_eq!(e.code, OAuthErrorCode::InvalidRequest);
    }
}

/// Registers a relying party like [`relying_party`] whose access tokens are RFC 9068 JWTs,
/// also allowed client credentials.
async fn jwt_relying_party(iam: &TestIam, alg: JwsAlg) -> (String, ClientAuth) {
    let admin = login(iam, "root").await;
    let mut new = NewClient::confidential("Legacy API")
        .redirect_uri(CB)
        .grants([
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ])
        .scopes(["openid", "profile", "email"]);
    new.oidc.id_token_signed_response_alg = alg;
    new.oidc.access_token_format = AccessTokenFormat::Jwt;
    let reg = iam.register_client(&admin, new).await.expect("register");
    let id = reg.client.id.clone();
    (
        id.clone(),
        ClientAuth::secret(id, reg.client_secret.expect("secret")),
    )
}

/// Verifies a JWT access token as a resource server would, with jsonwebtoken and nothing
/// but the JWKS: (header, claims).
async fn rs_verify(iam: &TestIam, jwt: &str) -> (jsonwebtoken::Header, serde_json::Value) {
    let header = jsonwebtoken::decode_header(jwt).expect("header");
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(iam.jwks().await.expect("jwks")).expect("a JWK set");
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("the key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key");
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&["iam"]);
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub", "nbf"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &v)
        .expect("the access token verifies")
        .claims;
    (header, claims)
}

/// The fields of a principal that do not depend on the token's format or grant.
fn same_fields(p: &Principal) -> impl PartialEq + std::fmt::Debug {
    (
        p.credential,
        p.account_id.clone(),
        p.kind,
        p.roles.clone(),
        p.auth_time.as_secs(),
        p.amr.clone(),
        p.scopes.clone(),
        p.org.clone(),
        p.actor.clone(),
        p.resources.clone(),
        p.audience.clone(),
    )
}

#[tokio::test]
async fn jwt_access_tokens_verify_to_the_principal_a_paseto_token_gives() {
    let w = world().await;
    let paseto_rp = relying_party(&w.iam, JwsAlg::Rs256).await;
    let req = request(&paseto_rp.0, "openid profile", "n");
    let (paseto, _, _) = sign_in(&w, &paseto_rp, &w.alice, &req).await;
    assert!(paseto.starts_with("v4.public."));
    let from_paseto = w.iam.verify(&paseto).await.expect("paseto verifies");
    for alg in JwsAlg::ALL {
        let rp = jwt_relying_party(&w.iam, alg).await;
        let req = request(&rp.0, "openid profile", "n");
        let (access, id_token, refresh) = sign_in(&w, &rp, &w.alice, &req).await;
        assert_eq!(access.split('.').count(), 3, "a JWT");
        let jwt = w.iam.verify(&access).await.expect("the JWT verifies");
        assert_eq!(same_fields(&jwt), same_fields(&from_paseto), "{alg:?}");
        assert_eq!(jwt.client_id.as_deref(), Some(rp.0.as_str()));
        assert_eq!(w.iam.verify_cached(&access), Ok(jwt.clone()), "cached");
        // The ID token's at_hash is the JWT's.
        let claims = rp_verify(&w.iam, &id_token, &rp.0).await;
        assert_eq!(claims["at_hash"], half_hash_b64(alg, &access).as_str());
        // Userinfo and introspection take it.
        let info = w.iam.userinfo(&jwt).await.expect("userinfo");
        assert_eq!(info["preferred_username"], "alice");
        let answer = w
            .iam
            .introspect(&rp.1, &access, None)
            .await
            .expect("introspect");
        assert!(answer.active);
        assert_eq!(answer.client_id.as_deref(), Some(rp.0.as_str()));
        // A refresh gives a JWT again.
        let refreshed = w
            .iam
            .token(
                &rp.1,
                &TokenRequest::RefreshToken {
                    refresh_token: refresh,
                    scope: None,
                    resource: vec![],
                },
            )
            .await
            .expect("refresh");
        let (header, _) = rs_verify(&w.iam, refreshed.access_token.expose()).await;
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    }
}

#[tokio::test]
async fn resource_servers_verify_jwt_access_tokens_with_the_jwks_alone() {
    let w = world().await;
    let rp = jwt_relying_party(&w.iam, JwsAlg::Es256).await;
    let req = request(&rp.0, "openid profile email", "n");
    let (access, _, _) = sign_in(&w, &rp, &w.alice, &req).await;
    let (header, c) = rs_verify(&w.iam, &access).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let p = w.iam.verify(&access).await.expect("verify");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], "iam");
    assert_eq!(c["sub"], w.alice_id.as_str());
    assert_eq!(c["client_id"], rp.0.as_str());
    assert_eq!(c["jti"], p.token_id.as_str());
    assert_eq!(c["scope"], "email openid profile");
    assert_eq!(c["iat"], p.issued_at.as_secs());
    assert_eq!(c["exp"], p.expires_at.as_secs());
    assert_eq!(c["auth_time"], w.alice.auth_time.as_secs());
    assert_eq!(c["acr"], iam_core::oidc::ACR_SINGLE_FACTOR);
    assert_eq!(c["amr"], serde_json::json!(["pwd"]));
    assert_eq!(c["sid"], p.session_id.as_str());
    assert_eq!(c["cred"], "o_auth_user");

    // Client credentials for the same client: a JWT too, with the client as subject.
    let t = w
        .iam
        .token(
            &rp.1,
            &TokenRequest::ClientCredentials {
                scope: None,
                resource: vec![],
            },
        )
        .await
        .expect("client credentials");
    let (header, c) = rs_verify(&w.iam, t.access_token.expose()).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(c["sub"], rp.0.as_str());
    assert_eq!(c["client_id"], rp.0.as_str());
    assert!(c.get("acr").is_none(), "no user signed in");
    let p = w.iam.verify(t.access_token.expose()).await.expect("verify");
    assert_eq!(p.credential, iam_core::CredentialKind::ClientCredentials);
}

#[tokio::test]
async fn revocation_voids_jwt_access_tokens_at_once() {
    let w = world().await;
    let rp = jwt_relying_party(&w.iam, JwsAlg::EdDsa).await;
    let req = request(&rp.0, "openid", "n");
    // Revoking the grant (RFC 7009, with the access token itself).
    let (access, _, _) = sign_in(&w, &rp, &w.alice, &req).await;
    w.iam.verify(&access).await.expect("valid");
    w.iam
        .revoke_token(&rp.1, &access, Some(TokenTypeHint::AccessToken))
        .await
        .expect("revoke");
    assert_eq!(w.iam.verify(&access).await, Err(Denial::SessionRevoked));
    assert_eq!(w.iam.verify_cached(&access), Err(Denial::SessionRevoked));
    // Disabling the account.
    let (access, _, _) = sign_in(&w, &rp, &w.alice, &req).await;
    w.iam.verify(&access).await.expect("valid");
    w.iam
        .disable_account(Caller::System, &w.alice_id)
        .await
        .expect("disable");
    assert_eq!(w.iam.verify(&access).await, Err(Denial::AccountDisabled));
}

#[tokio::test]
async fn id_tokens_forged_and_tampered_jwts_are_not_access_tokens() {
    let w = world().await;
    let rp = jwt_relying_party(&w.iam, JwsAlg::Rs256).await;
    let req = request(&rp.0, "openid", "n");
    let (access, id_token, _) = sign_in(&w, &rp, &w.alice, &req).await;
    // An ID token is signed by the same keys, but is no access token.
    assert_eq!(w.iam.verify(&id_token).await, Err(Denial::TokenMalformed));
    // alg none, with the access token's claims.
    let none = forged(
        &serde_json::json!({"alg": "none", "typ": "at+jwt"}),
        &access,
    );
    assert_eq!(w.iam.verify(&none).await, Err(Denial::TokenMalformed));
    // A tampered payload: more roles.
    let mut claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).expect("payload"))
            .expect("b64"),
    )
    .expect("json");
    claims["roles"] = serde_json::json!(["admin"]);
    let parts: Vec<&str> = access.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json")),
        parts[2]
    );
    assert_eq!(
        w.iam.verify(&tampered).await,
        Err(Denial::TokenBadSignature)
    );
    // The genuine one still verifies, for iam's audience only.
    w.iam.verify(&access).await.expect("valid");
    assert_eq!(
        w.iam.verify_for(&access, "https://other.example").await,
        Err(Denial::TokenWrongAudience)
    );
}

#[tokio::test]
async fn id_tokens_verify_for_their_client_only() {
    let w = world().await;
    let rp = jwt_relying_party(&w.iam, JwsAlg::EdDsa).await;
    let (access, id_token, _) = sign_in(&w, &rp, &w.alice, &request(&rp.0, "openid", "n")).await;
    let c = w
        .iam
        .verify_id_token(&id_token, &rp.0)
        .await
        .expect("the ID token verifies");
    assert_eq!(c["sub"], w.alice_id.as_str());
    assert_eq!(c["nonce"], "n");
    assert_eq!(
        w.iam.verify_id_token(&id_token, "someone-else").await,
        Err(Denial::TokenWrongAudience)
    );
    // A JWT access token is no ID token, neither for verification nor as a hint.
    assert_eq!(
        w.iam.verify_id_token(&access, &rp.0).await,
        Err(Denial::TokenMalformed)
    );
    let hinted = AuthorizeRequest {
        prompt: Some("none".into()),
        id_token_hint: Some(access.clone()),
        ..request(&rp.0, "openid", "n2")
    };
    assert_eq!(
        error_of(
            w.iam
                .authorize(&hinted, Some(&w.alice))
                .await
                .expect("authorize")
        ),
        OAuthErrorCode::InvalidRequest
    );
    let none = forged(&serde_json::json!({"alg": "none", "typ": "JWT"}), &id_token);
    assert_eq!(
        w.iam.verify_id_token(&none, &rp.0).await,
        Err(Denial::TokenMalformed)
    );
}

#[tokio::test]
async fn jwt_access_tokens_and_id_tokens_expire() {
    let w = world().await;
    let rp = jwt_relying_party(&w.iam, JwsAlg::Rs256).await;
    let (access, id_token, _) = sign_in(&w, &rp, &w.alice, &request(&rp.0, "openid", "n")).await;
    let p = w.iam.verify(&access).await.expect("valid");
    w.iam
        .verify_id_token(&id_token, &rp.0)
        .await
        .expect("valid");
    w.clock.set(p.expires_at);
    assert_eq!(w.iam.verify(&access).await, Err(Denial::TokenExpired));
    assert_eq!(w.iam.verify_cached(&access), Err(Denial::TokenExpired));
    assert_eq!(
        w.iam.verify_id_token(&id_token, &rp.0).await,
        Err(Denial::TokenExpired)
    );
}

/// Registers a relying party with a back-channel logout URI.
async fn backchannel_party(iam: &TestIam) -> (String, ClientAuth) {
    let admin = login(iam, "root").await;
    let mut new = NewClient::confidential("Mail")
        .redirect_uri(CB)
        .grants([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .scopes(["openid"]);
    new.oidc.backchannel_logout_uri = Some("https://mail.example/bcl".into());
    let reg = iam.register_client(&admin, new).await.expect("register");
    let id = reg.client.id.clone();
    (
        id.clone(),
        ClientAuth::secret(id, reg.client_secret.expect("secret")),
    )
}

/// Takes every due delivery, checks each Logout Token as a relying party would (§2.6), marks
/// them delivered, and returns (client id, sid) of each.
async fn take_logouts(iam: &TestIam) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for d in iam.due_logout_deliveries(100).await.expect("due") {
        let header = jsonwebtoken::decode_header(&d.logout_token).expect("header");
        assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
        let claims = rp_verify(iam, &d.logout_token, &d.client_id).await;
        assert!(claims["events"][iam_core::oidc::LOGOUT_EVENT].is_object());
        assert!(claims.get("nonce").is_none());
        assert_eq!(claims["jti"], d.id.as_str());
        assert_eq!(d.uri, "https://mail.example/bcl");
        iam.logout_delivery_result(
            &d.id,
            iam_core::oidc::LogoutOutcome::Delivered { status: 200 },
        )
        .await
        .expect("result");
        out.push((d.client_id, claims["sid"].as_str().expect("sid").to_owned()));
    }
    out
}

#[tokio::test]
async fn backchannel_logout_uris_must_be_https_or_loopback_http() {
    let w = world().await;
    let admin = login(&w.iam, "root").await;
    for (uri, ok) in [
        ("https://rp.example/bcl", true),
        ("http://127.0.0.1:9/bcl", true),
        ("http://rp.example/bcl", false),
        ("https://rp.example/bcl#f", false),
        ("com.example.app:/bcl", false),
    ] {
        let mut new = NewClient::confidential("RP")
            .redirect_uri(CB)
            .grants([GrantType::AuthorizationCode])
            .scopes(["openid"]);
        new.oidc.backchannel_logout_uri = Some(uri.into());
        let got = w.iam.register_client(&admin, new).await;
        assert_eq!(got.is_ok(), ok, "{uri}: {:?}", got.err());
        if !ok {
            assert!(matches!(got, Err(Error::Invalid(_))), "{uri}");
        }
    }
}

#[tokio::test]
async fn ending_a_session_queues_one_logout_per_backchannel_client_of_that_session() {
    let w = world().await;
    let mail = backchannel_party(&w.iam).await;
    let wiki = relying_party(&w.iam, JwsAlg::Rs256).await;
    let admin = login(&w.iam, "root").await;

    // Each way a session ends: (how, ends every session of the account).
    for how in ["logout", "revoke", "revoke_all", "disable"] {
        if how == "disable" {
            w.iam
                .enable_account(Caller::System, &w.alice_id)
                .await
                .expect("enable");
        }
        let alice = login(&w.iam, "alice").await;
        // Two grants at the back-channel client, one at a client without a URI; bob too.
        for rp in [&mail, &mail, &wiki] {
            let (_, id_token, _) = sign_in(&w, rp, &alice, &request(&rp.0, "openid", "n")).await;
            let claims = rp_verify(&w.iam, &id_token, &rp.0).await;
            assert_eq!(
                claims["sid"],
                alice.session_id.as_str(),
                "the ID token names the session"
            );
        }
        sign_in(&w, &mail, &w.bob, &request(&mail.0, "openid", "n")).await;
        assert!(
            take_logouts(&w.iam).await.is_empty(),
            "nothing before {how}"
        );
        match how {
            "logout" => w.iam.logout(&alice).await.expect("logout"),
            "revoke" => w
                .iam
                .revoke_session((&admin).into(), &alice.session_id)
                .await
                .expect("revoke"),
            "revoke_all" => {
                w.iam
                    .revoke_all_sessions((&admin).into(), &w.alice_id)
                    .await
                    .expect("revoke all");
            }
            _ => {
                w.iam
                    .disable_account((&admin).into(), &w.alice_id)
                    .await
                    .expect("disable");
            }
        }
        assert_eq!(
            take_logouts(&w.iam).await,
            [(mail.0.clone(), alice.session_id.clone())],
            "{how}"
        );
        // Ending it again (or everything after a disable) queues nothing more.
        w.iam
            .revoke_all_sessions((&admin).into(), &w.alice_id)
            .await
            .expect("revoke all");
        assert!(
            take_logouts(&w.iam).await.is_empty(),
            "once only after {how}"
        );
    }
}

#[tokio::test]
async fn refresh_token_reuse_and_account_deletion_log_the_session_out_too() {
    let w = world().await;
    let mail = backchannel_party(&w.iam).await;

    // A reused session refresh token revokes the session: its client is logged out.
    let l = w
        .iam
        .login(&iam_core::LoginRequest::password("alice", PW))
        .await
        .expect("login");
    let alice = w
        .iam
        .verify(l.tokens.access_token.expose())
        .await
        .expect("verify");
    sign_in(&w, &mail, &alice, &request(&mail.0, "openid", "n")).await;
    let old = l.tokens.refresh_token.expose().to_owned();
    w.iam.refresh(&old).await.expect("first refresh");
    assert!(matches!(
        w.iam.refresh(&old).await,
        Err(Error::Denied(Denial::RefreshTokenReused))
    ));
    assert_eq!(
        take_logouts(&w.iam).await,
        [(mail.0.clone(), alice.session_id.clone())]
    );

    // Deleting the account ends its live sessions.
    let alice = login(&w.iam, "alice").await;
    sign_in(&w, &mail, &alice, &request(&mail.0, "openid", "n")).await;
    w.iam
        .schedule_deletion(&alice, &w.alice_id)
        .await
        .expect("schedule");
    w.clock.advance(std::time::Duration::from_secs(61));
    let report = w.iam.sweep().await.expect("sweep");
    assert_eq!(report.deleted_accounts, std::slice::from_ref(&w.alice_id));
    let sessions: Vec<String> = take_logouts(&w.iam)
        .await
        .into_iter()
        .map(|(client, sid)| {
            assert_eq!(client, mail.0);
            sid
        })
        .collect();
    // Only this session holds a grant at the back-channel client (the world's first alice
    // session is live too, but holds none).
    assert_eq!(sessions, std::slice::from_ref(&alice.session_id));
}
