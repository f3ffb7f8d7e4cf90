//! The relying-party side of upstream login, with the `openidconnect` crate: discovery (from
//! `/.well-known/openid-configuration`, with the JWKS) cached per provider, the authorization
//! URL, the code exchange with PKCE, and ID-token validation (signature, `iss`, `aud`, `exp`,
//! `nonce`, and `azp` when present).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use iam_core::upstream::{IdTokenFault, PendingUpstream, UpstreamClaims};
use iam_core::{SecretString, UpstreamProvider, UpstreamRefusal, UpstreamStart};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};

/// How long discovered metadata (and its keys) is used before it is read again.
const METADATA_TTL: Duration = Duration::from_secs(15 * 60);

/// Least age of cached metadata before a signature failure makes it be read again (keys may
/// have rotated), so a forged token cannot make iam hammer the provider.
const KEY_REFRESH_AFTER: Duration = Duration::from_secs(30);

/// Most time one upstream request may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The signing algorithms accepted on upstream ID tokens: asymmetric only (never `none` or a
/// MAC keyed with the client secret).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 7] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A client at an upstream provider as discovery sets it up: authorization endpoint known,
/// token and userinfo endpoints as the metadata says.
type UpstreamClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The HTTP client for upstream providers: no redirects followed (discovery and token
/// requests must be answered where they were sent), bounded in time.
pub fn upstream_http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(UPSTREAM_TIMEOUT)
        .build()
}

/// Talks to the configured upstream providers.
pub(crate) struct UpstreamClients {
    http: reqwest::Client,
    /// Discovered metadata per provider id, with when it was read.
    metadata: tokio::sync::Mutex<HashMap<String, (Instant, Arc<CoreProviderMetadata>)>>,
}

impl UpstreamClients {
    /// Clients over `http`.
    pub(crate) fn new(http: reqwest::Client) -> Self {
        UpstreamClients {
            http,
            metadata: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The provider's metadata: cached, or discovered now (also when `older_than` says the
    /// cached copy is at least that old).
    async fn metadata(
        &self,
        p: &UpstreamProvider,
        older_than: Option<Duration>,
    ) -> Result<Arc<CoreProviderMetadata>, UpstreamRefusal> {
        let mut cache = self.metadata.lock().await;
        if let Some((at, m)) = cache.get(&p.id) {
            let age = at.elapsed();
            let stale = age >= METADATA_TTL || older_than.is_some_and(|d| age >= d);
            if !stale {
                return Ok(Arc::clone(m));
            }
        }
        let issuer = IssuerUrl::new(p.issuer.clone()).map_err(|_| unavailable(p, "issuer"))?;
        let discovered = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %p.id, error = %e, "upstream discovery failed");
                UpstreamRefusal::UpstreamUnavailable
            })?;
        let m = Arc::new(discovered);
        cache.insert(p.id.clone(), (Instant::now(), Arc::clone(&m)));
        Ok(m)
    }

    /// The client at `p` for the callback `redirect`.
    fn client(
        p: &UpstreamProvider,
        metadata: &CoreProviderMetadata,
        secret: Option<&SecretString>,
        redirect: &str,
    ) -> Result<UpstreamClient, UpstreamRefusal> {
        let redirect =
            RedirectUrl::new(redirect.to_owned()).map_err(|_| unavailable(p, "redirect"))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(p.client_id.clone()),
            secret.map(|s| ClientSecret::new(s.expose().to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser: the provider's authorization endpoint with `start`'s state,
    /// nonce and PKCE challenge, the provider's scopes and `redirect` as the callback.
    pub(crate) async fn authorization_url(
        &self,
        p: &UpstreamProvider,
        redirect: &str,
        start: &UpstreamStart,
    ) -> Result<String, UpstreamRefusal> {
        let metadata = self.metadata(p, None).await?;
        let client = Self::client(p, &metadata, None, redirect)?;
        let state = start.state.expose().to_owned();
        let nonce = start.nonce.expose().to_owned();
        let verifier = PkceCodeVerifier::new(start.pkce_verifier.expose().to_owned());
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scopes(
                p.scopes
                    .iter()
                    .filter(|s| *s != "openid")
                    .map(|s| Scope::new(s.clone())),
            )
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier))
            .url();
        Ok(url.into())
    }

    /// Redeems `code` at `p` for `pending` (its PKCE verifier) and validates the ID token
    /// against `pending`'s nonce; the claims it asserts, read through `p`'s claim mapping.
    pub(crate) async fn redeem(
        &self,
        p: &UpstreamProvider,
        secret: &SecretString,
        redirect: &str,
        code: &str,
        pending: &PendingUpstream,
    ) -> Result<UpstreamClaims, UpstreamRefusal> {
        let metadata = self.metadata(p, None).await?;
        let client = Self::client(p, &metadata, Some(secret), redirect)?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| unavailable(p, "token endpoint"))?
            .set_pkce_verifier(PkceCodeVerifier::new(
                pending.pkce_verifier.expose().to_owned(),
            ))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    UpstreamRefusal::UpstreamError(r.error().as_ref().to_owned())
                }
                other => {
                    tracing::warn!(provider = %p.id, error = %other, "upstream code exchange failed");
                    UpstreamRefusal::UpstreamUnavailable
                }
            })?;
        let id_token = tokens
            .id_token()
            .ok_or(UpstreamRefusal::IdTokenInvalid(IdTokenFault::Malformed))?;
        let nonce = Nonce::new(pending.nonce.expose().to_owned());
        let verify = |m: &CoreProviderMetadata| {
            let client = Self::client(p, m, Some(secret), redirect)?;
            let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
            let claims = id_token.claims(&verifier, &nonce).map_err(|e| fault(&e))?;
            if let Some(azp) = claims.authorized_party() {
                if azp.as_str() != p.client_id {
                    return Err(UpstreamRefusal::IdTokenInvalid(IdTokenFault::Audience));
                }
            }
            Ok((
                claims.issuer().as_str().to_owned(),
                claims.subject().as_str().to_owned(),
            ))
        };
        let (issuer, subject) = match verify(&metadata) {
            Err(UpstreamRefusal::IdTokenInvalid(IdTokenFault::Signature)) => {
                // The provider may have rotated its keys since they were read.
                let fresh = self.metadata(p, Some(KEY_REFRESH_AFTER)).await?;
                verify(&fresh)?
            }
            other => other?,
        };
        let mut raw = payload(&id_token.to_string())
            .ok_or(UpstreamRefusal::IdTokenInvalid(IdTokenFault::Malformed))?;
        // Claims the ID token lacks may be at userinfo (OpenID Connect Core §5.4 releases
        // scope claims there by default); the ID token's own values always win.
        let wanted = [
            Some(&p.claims.username),
            Some(&p.claims.email),
            Some(&p.claims.email_verified),
            Some(&p.claims.name),
            p.claims.groups.as_ref(),
        ];
        let missing = wanted
            .iter()
            .flatten()
            .any(|c| !raw.contains_key(c.as_str()));
        if let (true, Some(endpoint)) = (missing, metadata.userinfo_endpoint()) {
            let more = self
                .userinfo(
                    p,
                    endpoint.url().as_str(),
                    tokens.access_token().secret(),
                    &subject,
                )
                .await;
            for (name, value) in more {
                raw.entry(name).or_insert(value);
            }
        }
        Ok(p.claims.read(&issuer, &subject, &raw))
    }

    /// The claims userinfo serves for `access_token`, when it answers JSON about `subject`;
    /// none otherwise (the ID token's claims are then all there is).
    async fn userinfo(
        &self,
        p: &UpstreamProvider,
        endpoint: &str,
        access_token: &str,
        subject: &str,
    ) -> serde_json::Map<String, serde_json::Value> {
        let answer = self
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        let claims = match answer {
            Ok(r) => r.json::<serde_json::Value>().await.ok(),
            Err(e) => {
                tracing::warn!(provider = %p.id, error = %e, "upstream userinfo failed");
                None
            }
        };
        match claims {
            // OpenID Connect Core §5.3.2: a userinfo answer about someone else is not used.
            Some(serde_json::Value::Object(map))
                if map.get("sub").and_then(serde_json::Value::as_str) == Some(subject) =>
            {
                map
            }
            _ => {
                tracing::warn!(provider = %p.id, "upstream userinfo unusable; ID-token claims only");
                serde_json::Map::new()
            }
        }
    }
}

/// The refusal for an unusable provider setting or endpoint (logged with `what`).
fn unavailable(p: &UpstreamProvider, what: &str) -> UpstreamRefusal {
    tracing::warn!(provider = %p.id, what, "upstream provider unusable");
    UpstreamRefusal::UpstreamUnavailable
}

/// What failed in an ID token's validation.
fn fault(e: &ClaimsVerificationError) -> UpstreamRefusal {
    let f = match e {
        ClaimsVerificationError::Expired(_) => IdTokenFault::Expired,
        ClaimsVerificationError::InvalidAudience(_) => IdTokenFault::Audience,
        ClaimsVerificationError::InvalidIssuer(_) => IdTokenFault::Issuer,
        ClaimsVerificationError::InvalidNonce(_) => IdTokenFault::Nonce,
        ClaimsVerificationError::SignatureVerification(_) => IdTokenFault::Signature,
        _ => IdTokenFault::Malformed,
    };
    UpstreamRefusal::IdTokenInvalid(f)
}

/// The JSON payload of a compact JWS whose signature was already verified.
fn payload(jws: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let body = jws.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}
