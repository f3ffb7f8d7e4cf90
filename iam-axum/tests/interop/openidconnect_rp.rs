//! The `openidconnect` crate as a relying party, in process: discovery, authorization (PKCE
//! S256, state, nonce), code exchange, the ID token checked by its verifier, userinfo.
//! Shared by iam-axum's `oidc_interop` and iamd's; the including crate declares `browser` at
//! its root.

#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::browser::query_params;
use crate::relying_party::with_param;

/// The provider, the client, and who signs in.
pub struct Login<'a> {
    /// The library's HTTP client: no redirects (as its docs require), trusting the provider.
    pub http: &'a reqwest::Client,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
    /// The account id the ID token must name.
    pub subject: &'a str,
}

/// One login by the crate at its defaults; `log_in` takes the user through the provider's
/// pages from an authorization URL to the callback URL. With `nonce_in_request`, the
/// request reaching the provider carries that nonce instead of the library's: its ID token
/// check's error is returned.
pub async fn openidconnect_login(
    login: &Login<'_>,
    nonce_in_request: Option<&str>,
    log_in: impl AsyncFnOnce(String) -> String,
) -> Result<(), String> {
    let http = login.http;
    let meta = CoreProviderMetadata::discover_async(
        IssuerUrl::new(login.issuer.to_owned()).unwrap(),
        http,
    )
    .await
    .unwrap();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(login.client_id.to_owned()),
        Some(ClientSecret::new(login.client_secret.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(login.redirect_uri.to_owned()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let url = match nonce_in_request {
        Some(other) => with_param(url.as_str(), "nonce", other),
        None => url.to_string(),
    };
    let q = query_params(&log_in(url).await);
    assert_eq!(&q["state"], state.secret());

    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    // The verifier's defaults: a client made from discovery accepts the algorithms the
    // provider announces in id_token_signing_alg_values_supported (RS256 only otherwise).
    let id_verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .map_err(|e| e.to_string())?;
    assert_eq!(claims.issuer().as_str(), login.issuer);
    assert!(claims
        .audiences()
        .iter()
        .any(|a| a.as_str() == login.client_id));
    assert_eq!(claims.subject().as_str(), login.subject);
    if let Some(expected) = claims.access_token_hash() {
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&id_verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(&actual, expected);
    }
    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject(), claims.subject());
    Ok(())
}
