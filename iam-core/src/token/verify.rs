//! Verifying access tokens: the hot path, with no store access.

use std::sync::{Arc, PoisonError};

use crate::authz::CredentialKind;
use crate::clock::{Clock, Timestamp};
use crate::error::Denial;
use crate::iam::Iam;
use crate::store::Store;
use crate::token::access::AccessClaims;
use crate::token::jwt_access::{self, JwtAccessClaims, JWT_ACCESS_TOKEN_TYP};
use crate::token::signing::KEY_RELOAD_INTERVAL;
use crate::token::{paseto, Principal};

impl<S: Store, C: Clock> Iam<S, C> {
    /// Verifies an access token with no store access: signature, expiry, issuer, audience
    /// (iam's own, [`Config::audience`](crate::Config::audience)) and the revocation cache. This is the hot path. A
    /// token minted for another resource (RFC 8707) is [`Denial::TokenWrongAudience`].
    pub fn verify_cached(&self, token: &str) -> std::result::Result<Principal, Denial> {
        self.verify_cached_with(token, Some(&self.inner.config.audience))
    }

    /// Like [`Iam::verify_cached`], for a resource server that expects `audience` (a resource
    /// its tokens are minted for) instead of iam's own.
    pub fn verify_cached_for(
        &self,
        token: &str,
        audience: &str,
    ) -> std::result::Result<Principal, Denial> {
        self.verify_cached_with(token, Some(audience))
    }

    /// Verification with the audience to expect; `None` accepts any (the authorization
    /// server's own introspection and revocation, which answer for every token it minted).
    ///
    /// A token fully verified before is taken from [`VerifiedTokens`]: its signature and
    /// claims are not checked again, but its expiry, the audience and revocation are.
    pub(crate) fn verify_cached_with(
        &self,
        token: &str,
        audience: Option<&str>,
    ) -> std::result::Result<Principal, Denial> {
        let now = self.now();
        let principal = if let Some(p) = self.inner.verified.get(token, now) {
            if audience.is_some_and(|a| !p.audience.iter().any(|x| x == a)) {
                return Err(Denial::TokenWrongAudience);
            }
            p
        } else {
            let p = Arc::new(self.verify_signed(token, audience, now)?);
            self.inner.verified.remember(token, &p, now);
            p
        };
        self.check_revoked(&principal)?;
        Ok(Arc::unwrap_or_clone(principal))
    }

    /// Checks the signature and claims of `token` at `now` (not revocation): a PASETO
    /// v4.public token, or an RFC 9068 JWT access token (three parts, header `typ: at+jwt`).
    fn verify_signed(
        &self,
        token: &str,
        audience: Option<&str>,
        now: Timestamp,
    ) -> std::result::Result<Principal, Denial> {
        let claims = if jwt_access::is_jwt_shape(token) {
            let claims = self
                .verify_own_typed_jwt(token, Some(JWT_ACCESS_TOKEN_TYP))
                .map_err(jwt_access::denial)?;
            let claims: JwtAccessClaims = serde_json::from_value(serde_json::Value::Object(claims))
                .map_err(|_| Denial::TokenMalformed)?;
            claims.into_access()
        } else {
            self.verify_paseto(token)?
        };
        let times = claims.times()?;
        let cfg = &self.inner.config;
        let issuer = if cfg.previous_issuers.contains(&claims.iss) {
            &claims.iss
        } else {
            &cfg.issuer
        };
        claims.check(&times, issuer, audience, now)?;
        Ok(claims.into_principal(&times))
    }

    /// The claims of a PASETO access token whose signature verifies.
    fn verify_paseto(&self, token: &str) -> std::result::Result<AccessClaims, Denial> {
        let unverified = paseto::decode(token).map_err(|_| Denial::TokenMalformed)?;
        let message = {
            let ring = self
                .inner
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let key = ring
                .verifier(&unverified.footer)
                .ok_or(Denial::TokenUnknownKey)?;
            unverified
                .verify(key, b"")
                .map_err(|_| Denial::TokenBadSignature)?
        };
        serde_json::from_slice(&message).map_err(|_| Denial::TokenMalformed)
    }

    /// Verifies an access token. Like [`Iam::verify_cached`], but a token signed by a key this
    /// instance has not seen yet (rotated by another instance) triggers one rate-limited reload
    /// of the key ring from the store.
    pub async fn verify(&self, token: &str) -> std::result::Result<Principal, Denial> {
        let audience = self.inner.config.audience.clone();
        self.verify_with(token, Some(&audience)).await
    }

    /// Like [`Iam::verify`], expecting `audience` instead of iam's own.
    pub async fn verify_for(
        &self,
        token: &str,
        audience: &str,
    ) -> std::result::Result<Principal, Denial> {
        self.verify_with(token, Some(audience)).await
    }

    /// [`Iam::verify_cached_with`] with one rate-limited key reload for unknown key ids.
    pub(crate) async fn verify_with(
        &self,
        token: &str,
        audience: Option<&str>,
    ) -> std::result::Result<Principal, Denial> {
        match self.verify_cached_with(token, audience) {
            Err(Denial::TokenUnknownKey) if self.key_reload_due() => {
                self.reload_keys()
                    .await
                    .map_err(|_| Denial::TokenUnknownKey)?;
                self.verify_cached_with(token, audience)
            }
            other => other,
        }
    }

    pub(crate) fn key_reload_due(&self) -> bool {
        let now = self.now();
        let mut last = self
            .inner
            .last_key_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.plus(KEY_RELOAD_INTERVAL) <= now {
            *last = now;
            true
        } else {
            false
        }
    }

    /// Checks a principal verified earlier against every revocation list that can void it:
    /// its account and grant, what its account delegated (OAuth tokens, tokens acting for an
    /// account), and its organization membership. For adapters that cache verified
    /// principals: revocation stays immediate for them.
    pub fn check_revoked(&self, p: &Principal) -> std::result::Result<(), Denial> {
        let cache = &self.inner.revocations;
        cache.check(&p.account_id, &p.session_id, p.issued_at)?;
        if let Some(owner) = &p.actor {
            cache.check_delegation(owner, p.issued_at, true)?;
        } else if p.credential == CredentialKind::OAuthUser {
            cache.check_delegation(&p.account_id, p.issued_at, false)?;
        }
        if let Some((org, _)) = &p.org {
            cache.check_membership(org, &p.account_id, p.issued_at)?;
        }
        Ok(())
    }
}
