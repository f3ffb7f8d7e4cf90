//! The JOSE ring in [`Iam`]: lazy key creation, reloading, signing, verification and the JWKS.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};

use super::jwt::{self, JwtRefusal};
use super::keys::{self, JoseRing, StoredJoseKey};
use super::JwsAlg;
use crate::clock::{Clock, Timestamp};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::iam::Iam;
use crate::secret::Sealer;
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, StoreError, Write};

/// How long a retired JOSE key keeps verifying (and stays in the JWKS).
pub(crate) fn retention(config: &Config) -> Duration {
    config.longest_token_ttl()
}

/// Builds the JOSE ring from the store (empty when no key was made yet).
pub(crate) async fn load_ring<S: Store>(
    store: &S,
    sealer: &Sealer,
    now: Timestamp,
    keep_retired: Duration,
    previous: Option<&JoseRing>,
) -> Result<JoseRing> {
    let records = store
        .list(RecordKind::JoseKey, &ListQuery::default())
        .await?;
    JoseRing::from_records(&records, sealer, now, keep_retired, previous)
}

impl<S: Store, C: Clock> Iam<S, C> {
    pub(crate) fn jose_ring(&self) -> Arc<JoseRing> {
        Arc::clone(
            &self
                .inner
                .jose
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Rebuilds the JOSE ring from the store.
    pub(crate) async fn reload_jose_keys(&self) -> Result<()> {
        let previous = self.jose_ring();
        let ring = load_ring(
            &self.inner.store,
            &self.inner.sealer,
            self.now(),
            retention(&self.inner.config),
            Some(&previous),
        )
        .await?;
        *self
            .inner
            .jose
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
        Ok(())
    }

    /// New key records for `algs` (generated off the async workers: RSA generation is slow).
    pub(crate) async fn fresh_jose_keys(
        &self,
        algs: &[JwsAlg],
        now: Timestamp,
    ) -> Result<Vec<(JwsAlg, Record)>> {
        let mut out = Vec::new();
        for &alg in algs {
            let rng = self.inner.rng.clone();
            let private = self
                .inner
                .passwords
                .offloaded(move || keys::generate_private(alg, &rng))
                .await??;
            let record = keys::key_record(alg, &private, &self.inner.rng, &self.inner.sealer, now)?;
            out.push((alg, record));
        }
        Ok(out)
    }

    /// Makes a JOSE signing key for every algorithm that has none (RS256, ES256, EdDSA), each
    /// with an audit event, and reloads the ring. Keys are made on first use rather than at
    /// open; another instance making its own at the same time is harmless (both are published
    /// and verify; the newer signs).
    pub async fn ensure_jose_keys(&self) -> Result<()> {
        if self.jose_ring().missing().is_empty() {
            return Ok(());
        }
        let _one_creator = self.inner.jose_create.lock().await;
        // Another task (or instance) may have made them meanwhile.
        self.reload_jose_keys().await?;
        let missing = self.jose_ring().missing();
        if missing.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let fresh = self.fresh_jose_keys(&missing, now).await?;
        let (writes, audit) = keys::rotation_writes(Vec::new(), &fresh, None, now)?;
        match self
            .inner
            .store
            .commit(Commit {
                writes,
                audit,
                ..Commit::default()
            })
            .await
        {
            Ok(()) | Err(StoreError::Duplicate { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.reload_jose_keys().await
    }

    /// The stored JOSE keys, decoded, and fresh keys for every algorithm that has an unretired
    /// one (algorithms never used stay lazy): what [`Iam::rotate_signing_key`] replaces.
    pub(crate) async fn jose_rotation_keys(&self, now: Timestamp) -> Result<Vec<(JwsAlg, Record)>> {
        let mut algs: Vec<JwsAlg> = self
            .stored_jose_keys()
            .await?
            .into_iter()
            .filter(|(_, k)| k.retired_at.is_none())
            .map(|(_, k)| k.alg)
            .collect();
        algs.sort_unstable();
        algs.dedup();
        self.fresh_jose_keys(&algs, now).await
    }

    /// Every stored JOSE key record with its decoded body.
    pub(crate) async fn stored_jose_keys(&self) -> Result<Vec<(Record, StoredJoseKey)>> {
        let mut out = Vec::new();
        for record in self
            .inner
            .store
            .list(RecordKind::JoseKey, &ListQuery::default())
            .await?
        {
            let key = crate::record_body::from_body(&record.body)?;
            out.push((record, key));
        }
        Ok(out)
    }

    /// Signs `claims` (a JSON object) as a JWT with the current `alg` key; the header carries
    /// `alg`, `kid` and `typ`. Makes the keys first if there are none.
    pub(crate) async fn sign_jwt(&self, alg: JwsAlg, typ: &str, claims: &Value) -> Result<String> {
        let signer = if let Some(s) = self.jose_ring().signer(alg) {
            s
        } else {
            self.ensure_jose_keys().await?;
            self.jose_ring()
                .signer(alg)
                .ok_or(Error::Crypto("no JOSE key for the algorithm"))?
        };
        jwt::sign(&signer, alg, typ, claims)
    }

    /// Verifies a JWT iam signed: an algorithm iam signs with, a kid in the JOSE ring, a valid
    /// signature and `iss` equal to the configured issuer. Returns the claims; `exp` and `aud`
    /// are left to the caller.
    #[cfg(test)]
    pub(crate) fn verify_own_jwt(
        &self,
        token: &str,
    ) -> std::result::Result<Map<String, Value>, JwtRefusal> {
        self.verify_own_typed_jwt(token, None)
    }

    /// [`Iam::verify_own_jwt`], also requiring the header's `typ` to be `typ` when that is
    /// given ([`JwtRefusal::WrongType`] otherwise).
    pub(crate) fn verify_own_typed_jwt(
        &self,
        token: &str,
        typ: Option<&str>,
    ) -> std::result::Result<Map<String, Value>, JwtRefusal> {
        jwt::verify(&self.jose_ring(), token, &self.inner.config.issuer, typ)
    }

    /// [`Iam::verify_own_typed_jwt`], with one rate-limited reload of the JOSE ring from the
    /// store when the kid is unknown (another instance may have made or rotated the keys).
    pub(crate) async fn verify_own_jwt_reloading(
        &self,
        token: &str,
        typ: Option<&str>,
    ) -> std::result::Result<Map<String, Value>, JwtRefusal> {
        match self.verify_own_typed_jwt(token, typ) {
            Err(JwtRefusal::UnknownKey) if self.key_reload_due() => {
                self.reload_jose_keys()
                    .await
                    .map_err(|_| JwtRefusal::UnknownKey)?;
                self.verify_own_typed_jwt(token, typ)
            }
            other => other,
        }
    }

    /// The JWK set (RFC 7517) of every key that verifies iam's tokens: the PASETO Ed25519 keys
    /// (as [`Iam::public_keys`] gives them) and the JOSE keys, each with `kid`, `alg` and
    /// `use`. Makes the JOSE keys first if there are none.
    pub async fn jwks(&self) -> Result<Value> {
        self.ensure_jose_keys().await?;
        let mut keys: Vec<Value> = self.public_keys().into_iter().map(|k| k.jwk).collect();
        keys.extend(self.jose_ring().published().iter().cloned());
        Ok(serde_json::json!({ "keys": keys }))
    }
}

/// The writes of a JOSE rotation on top of the signing-key rotation's commit.
pub(crate) fn add_rotation(
    commit: &mut Commit,
    stored: Vec<(Record, StoredJoseKey)>,
    fresh: &[(JwsAlg, Record)],
    actor: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let (writes, audit): (Vec<Write>, _) = keys::rotation_writes(stored, fresh, actor, now)?;
    commit.writes.extend(writes);
    commit.audit.extend(audit);
    Ok(())
}
