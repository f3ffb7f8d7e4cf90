//! Signing keys: loading the key ring, rotation, and signing access-token claims.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Result};
use crate::iam::Iam;
use crate::jose::JwsAlg;
use crate::revocation::RevokedSubject;
use crate::store::{ListQuery, RecordKind, Store};
use crate::token::access::AccessClaims;
use crate::token::jwt_access::{JwtAccessClaims, JWT_ACCESS_TOKEN_TYP};
use crate::token::keys;
use crate::token::PublicKeyInfo;

/// Least time between two key-ring reloads triggered by tokens with unknown key ids.
pub(crate) const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

impl<S: Store, C: Clock> Iam<S, C> {
    /// The public keys that verify iam tokens (active first), for publishing.
    pub fn public_keys(&self) -> Vec<PublicKeyInfo> {
        self.ring().published().to_vec()
    }

    /// The id (PASERK pid) of the key that signs new tokens.
    pub fn active_key_id(&self) -> String {
        self.ring().active_kid().to_owned()
    }

    /// Makes a new signing key the active one; the old one keeps verifying until its tokens expire.
    /// Every JOSE algorithm with a key gets a new one too, in the same commit (the old ones
    /// keep verifying for the retention window). Returns the new PASETO key id.
    pub async fn rotate_signing_key(&self, caller: Caller<'_>) -> Result<String> {
        let now = self.now();
        self.check(caller, Action::RotateSigningKey, now)?;
        let actor = caller.audit_id();
        let fresh_jose = self.jose_rotation_keys(now).await?;
        let kid = self
            .retrying(|| async {
                let mut keys = Vec::new();
                for record in self
                    .inner
                    .store
                    .list(RecordKind::SigningKey, &ListQuery::default())
                    .await?
                {
                    let key: keys::StoredKey = crate::record_body::from_body(&record.body)?;
                    keys.push((record, key));
                }
                let new_key = keys::generate(&self.inner.rng, &self.inner.sealer, now)?;
                let mut plan = super::rules::rotate_signing_key(keys, new_key, actor, now)?;
                crate::jose::service::add_rotation(
                    &mut plan.commit,
                    self.stored_jose_keys().await?,
                    &fresh_jose,
                    actor,
                    now,
                )?;
                self.inner.store.commit(plan.commit).await?;
                Ok(plan.output)
            })
            .await?;
        self.reload_keys().await?;
        Ok(kid)
    }

    /// Rebuilds the key rings (PASETO and JOSE) from the store (another instance may have rotated).
    pub async fn reload_keys(&self) -> Result<()> {
        let now = self.now();
        let ring = crate::iam::load_or_create_ring(
            &self.inner.store,
            &self.inner.sealer,
            &self.inner.rng,
            now,
            self.inner.config.longest_token_ttl(),
        )
        .await?;
        *self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
        self.reload_jose_keys().await?;
        // A key may have left the ring: tokens it signed must be verified again.
        self.inner.verified.clear();
        *self
            .inner
            .last_key_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = now;
        Ok(())
    }

    /// The issue time of a token with `claims` (to the millisecond): their mint time, moved just past a cut-off made in
    /// the same millisecond (see [`RevocationCache::issue_time`]) for any subject that can void
    /// the token, so a token minted after it is not void at once.
    ///
    /// [`RevocationCache::issue_time`]: crate::revocation::RevocationCache::issue_time
    fn issue_time_of(&self, claims: &AccessClaims) -> Result<Timestamp> {
        let minted = claims
            .minted()
            .map_err(|_| Error::Crypto("bad iat claim"))?;
        let membership = claims
            .org
            .as_ref()
            .map(|org| format!("{org}/{}", claims.sub));
        let mut subjects = vec![
            (RevokedSubject::Account, claims.sub.as_str()),
            (RevokedSubject::Grant, claims.sid.as_str()),
            (RevokedSubject::Delegation, claims.sub.as_str()),
        ];
        if let Some(act) = &claims.act {
            subjects.push((RevokedSubject::Account, act.sub.as_str()));
            subjects.push((RevokedSubject::Delegation, act.sub.as_str()));
        }
        if let Some(m) = &membership {
            subjects.push((RevokedSubject::OrgMembership, m.as_str()));
        }
        Ok(self.inner.revocations.issue_time_for(minted, &subjects))
    }

    /// Signs access-token claims with the active PASETO key, issued at
    /// [`Self::issue_time_of`] (`iat` in whole seconds, `iat_ms` to the millisecond).
    pub(crate) fn sign_claims(&self, claims: &AccessClaims) -> Result<String> {
        let encode = |c: &AccessClaims| {
            serde_json::to_vec(c).map_err(|_| Error::Crypto("claims encoding failed"))
        };
        let iat = self.issue_time_of(claims)?;
        let json = if claims.minted() == Ok(iat) {
            encode(claims)?
        } else {
            encode(&claims.clone().issued_at(iat))?
        };
        Ok(self.ring().sign(&json))
    }

    /// Signs access-token claims as an RFC 9068 JWT access token (header `typ: at+jwt`) with
    /// the JOSE key of `alg`, with the `iat` of [`Self::issue_time_of`].
    pub(crate) async fn sign_jwt_claims(
        &self,
        claims: &AccessClaims,
        alg: JwsAlg,
    ) -> Result<String> {
        let iat = self.issue_time_of(claims)?;
        let jwt = JwtAccessClaims::from_access(claims, iat)
            .map_err(|_| Error::Crypto("bad access-token claims"))?;
        let value =
            serde_json::to_value(&jwt).map_err(|_| Error::Crypto("claims encoding failed"))?;
        self.sign_jwt(alg, JWT_ACCESS_TOKEN_TYP, &value).await
    }

    /// Signs access-token claims in the format asked for: a JWT with `alg` when given, else
    /// PASETO.
    pub(crate) async fn sign_access_claims(
        &self,
        claims: &AccessClaims,
        jwt: Option<JwsAlg>,
    ) -> Result<String> {
        match jwt {
            Some(alg) => self.sign_jwt_claims(claims, alg).await,
            None => self.sign_claims(claims),
        }
    }
}
