//! [`Iam`]: the one entry point. Each operation reads through the [`Store`], decides with
//! plain functions, and writes its outcome and audit event in one [`Commit`].

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::audit::{AuditDraft, AuditEvent, AuditKind, AuditQuery, ChainVerifier};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::config::Config;
use crate::error::{Denial, Error, Result};
use crate::offload::{Offload, OsThreads};
use crate::password::Passwords;
use crate::random::SecureRandom;
use crate::revocation::{RevocationCache, RevokedSubject};
use crate::secret::{Sealer, TokenHasher};
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, StoreError, Write};
use crate::token::access::AccessClaims;
use crate::token::keys::{self, KeyRing};
use crate::token::{paseto, Principal, PublicKeyInfo};

/// How often a read-modify-write is retried after losing a race before giving up.
pub(crate) const MAX_ATTEMPTS: usize = 16;
/// Least time between two key-ring reloads triggered by tokens with unknown key ids.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(1);
/// Audit events read per page when verifying the chain.
const AUDIT_PAGE: usize = 5_000;

pub(crate) struct Inner<S, C> {
    pub(crate) store: S,
    pub(crate) clock: C,
    pub(crate) config: Config,
    pub(crate) rng: SecureRandom,
    pub(crate) passwords: Passwords,
    pub(crate) token_hasher: TokenHasher,
    pub(crate) sealer: Sealer,
    pub(crate) keys: RwLock<Arc<KeyRing>>,
    pub(crate) last_key_reload: std::sync::Mutex<Timestamp>,
    pub(crate) revocations: Arc<RevocationCache>,
}

/// The identity and access service over a [`Store`] and a [`Clock`]. Cheap to clone; clones share state.
pub struct Iam<S: Store, C: Clock = SystemClock> {
    pub(crate) inner: Arc<Inner<S, C>>,
}

impl<S: Store, C: Clock> Clone for Iam<S, C> {
    fn clone(&self) -> Self {
        Iam {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Store, C: Clock> std::fmt::Debug for Iam<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam")
            .field("issuer", &self.inner.config.issuer)
            .finish_non_exhaustive()
    }
}

/// Sets up an [`Iam`]: `Iam::builder(store, config).clock(..).rng(..).open().await`.
pub struct IamBuilder<S, C> {
    store: S,
    clock: C,
    config: Config,
    rng: Option<SecureRandom>,
    offload: Arc<dyn Offload>,
}

impl<S: Store, C: Clock> IamBuilder<S, C> {
    /// Uses `clock` instead of the system clock.
    pub fn clock<C2: Clock>(self, clock: C2) -> IamBuilder<S, C2> {
        IamBuilder {
            store: self.store,
            clock,
            config: self.config,
            rng: self.rng,
            offload: self.offload,
        }
    }

    /// Runs password hashing through `offload` instead of [`OsThreads`] (for example a
    /// runtime's blocking pool).
    #[must_use]
    pub fn offload(mut self, offload: impl Offload) -> Self {
        self.offload = Arc::new(offload);
        self
    }

    /// Uses `rng` instead of a generator seeded from the operating system.
    #[must_use]
    pub fn rng(mut self, rng: SecureRandom) -> Self {
        self.rng = Some(rng);
        self
    }

    /// Validates the configuration, loads (or creates) the signing keys, and subscribes the
    /// revocation cache to the store.
    pub async fn open(self) -> Result<Iam<S, C>> {
        self.config.validate()?;
        let rng = self.rng.unwrap_or_else(SecureRandom::from_entropy);
        let passwords = Passwords::new(self.config.passwords.clone(), self.offload, &rng).await?;
        let sealer = self.config.master_key.sealer();
        let token_hasher = self.config.master_key.token_hasher();
        let now = self.clock.now();
        let ring = load_or_create_ring(
            &self.store,
            &sealer,
            &rng,
            now,
            self.config.longest_token_ttl(),
        )
        .await?;
        let revocations = Arc::new(RevocationCache::new());
        self.store.subscribe(Arc::clone(&revocations)).await?;
        Ok(Iam {
            inner: Arc::new(Inner {
                store: self.store,
                clock: self.clock,
                config: self.config,
                rng,
                passwords,
                token_hasher,
                sealer,
                keys: RwLock::new(Arc::new(ring)),
                last_key_reload: std::sync::Mutex::new(now),
                revocations,
            }),
        })
    }
}

async fn load_or_create_ring<S: Store>(
    store: &S,
    sealer: &Sealer,
    rng: &SecureRandom,
    now: Timestamp,
    keep_retired: Duration,
) -> Result<KeyRing> {
    for _ in 0..MAX_ATTEMPTS {
        let records = store
            .list(RecordKind::SigningKey, &ListQuery::default())
            .await?;
        if let Some(ring) = KeyRing::from_records(&records, sealer, now, keep_retired)? {
            return Ok(ring);
        }
        let record = keys::generate(rng, sealer, now)?;
        let audit =
            AuditDraft::new(AuditKind::SigningKeyRotated, now).detail("kid", record.id.clone());
        match store
            .commit(Commit {
                writes: vec![Write::Insert(record)],
                audit: vec![audit],
                ..Commit::default()
            })
            .await
        {
            Ok(()) | Err(StoreError::Duplicate { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Contention)
}

impl<S: Store> Iam<S, SystemClock> {
    /// Starts building an `Iam` over `store` with `config` (system clock, OS-seeded randomness).
    pub fn builder(store: S, config: Config) -> IamBuilder<S, SystemClock> {
        IamBuilder {
            store,
            clock: SystemClock,
            config,
            rng: None,
            offload: Arc::new(OsThreads),
        }
    }
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The clock in use.
    pub fn clock(&self) -> &C {
        &self.inner.clock
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The revocation cache that verification consults.
    pub fn revocation_cache(&self) -> &Arc<RevocationCache> {
        &self.inner.revocations
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Decides `action` for `caller` at `now` through [`crate::authz::authorize`]; the
    /// embedding application ([`Caller::System`]) is always allowed.
    pub(crate) fn check(
        &self,
        caller: Caller<'_>,
        action: Action<'_>,
        now: Timestamp,
    ) -> Result<()> {
        match caller {
            Caller::System => Ok(()),
            Caller::Principal(p) => Ok(crate::authz::authorize(
                p,
                action,
                now,
                self.inner.config.recent_authentication,
            )?),
        }
    }

    /// Whether `caller` may perform `action` now (for adapters that decide before acting,
    /// such as a page that offers a button).
    pub fn may(&self, caller: Caller<'_>, action: Action<'_>) -> Result<()> {
        self.check(caller, action, self.now())
    }

    pub(crate) fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(
            &self
                .inner
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Runs `op` again while it loses races (store conflicts), at most [`MAX_ATTEMPTS`] times.
    pub(crate) async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        for _ in 0..MAX_ATTEMPTS {
            match op().await {
                Err(Error::Store(StoreError::Conflict)) => crate::offload::yield_now().await,
                other => return other,
            }
        }
        Err(Error::Contention)
    }

    /// Reads and decodes a record.
    pub(crate) async fn load<T: DeserializeOwned>(
        &self,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<(Record, T)>> {
        match self.inner.store.get(kind, id).await? {
            Some(r) => {
                let body = crate::json::from_body(&r.body)?;
                Ok(Some((r, body)))
            }
            None => Ok(None),
        }
    }

    // ---- keys -------------------------------------------------------------------------

    /// The public keys that verify iam tokens (active first), for publishing.
    pub fn public_keys(&self) -> Vec<PublicKeyInfo> {
        self.ring().published().to_vec()
    }

    /// The id (PASERK pid) of the key that signs new tokens.
    pub fn active_key_id(&self) -> String {
        self.ring().active_kid().to_owned()
    }

    /// Makes a new signing key the active one; the old one keeps verifying until its tokens expire.
    /// Returns the new key id.
    pub async fn rotate_signing_key(&self, caller: Caller<'_>) -> Result<String> {
        let now = self.now();
        self.check(caller, Action::RotateSigningKey, now)?;
        let actor = caller.audit_id();
        let kid = self
            .retrying(|| async {
                let records = self
                    .inner
                    .store
                    .list(RecordKind::SigningKey, &ListQuery::default())
                    .await?;
                let mut writes = Vec::new();
                for r in records {
                    let mut k: keys::StoredKey = crate::json::from_body(&r.body)?;
                    if k.retired_at.is_none() {
                        k.retired_at = Some(now);
                        let body = crate::json::to_body(&k)?;
                        writes.push(Write::Update {
                            expected_version: r.version,
                            record: Record { body, ..r },
                        });
                    }
                }
                let new = keys::generate(&self.inner.rng, &self.inner.sealer, now)?;
                let kid = new.id.clone();
                writes.push(Write::Insert(new));
                let audit = AuditDraft::new(AuditKind::SigningKeyRotated, now)
                    .actor(actor)
                    .detail("kid", kid.clone());
                self.inner
                    .store
                    .commit(Commit {
                        writes,
                        audit: vec![audit],
                        ..Commit::default()
                    })
                    .await?;
                Ok(kid)
            })
            .await?;
        self.reload_keys().await?;
        Ok(kid)
    }

    /// Rebuilds the key ring from the store (another instance may have rotated).
    pub async fn reload_keys(&self) -> Result<()> {
        let now = self.now();
        let ring = load_or_create_ring(
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
        *self
            .inner
            .last_key_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = now;
        Ok(())
    }

    /// Signs access-token claims with the active key. The `iat` moves just past a cut-off
    /// made in the same millisecond (see [`RevocationCache::issue_time`]), so a token minted
    /// after it is not void at once.
    pub(crate) fn sign_claims(&self, claims: &AccessClaims) -> Result<String> {
        let encode = |c: &AccessClaims| {
            serde_json::to_vec(c).map_err(|_| Error::Crypto("claims encoding failed"))
        };
        let minted = Timestamp::parse_rfc3339(&claims.iat).ok_or(Error::Crypto("bad iat claim"))?;
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
        let iat = self.inner.revocations.issue_time_for(minted, &subjects);
        let json = if iat == minted {
            encode(claims)?
        } else {
            encode(&AccessClaims {
                iat: iat.to_rfc3339(),
                ..claims.clone()
            })?
        };
        Ok(self.ring().sign(&json))
    }

    // ---- verification -----------------------------------------------------------------

    /// Verifies an access token with no store access: signature, expiry, issuer, audience
    /// (iam's own, [`Config::audience`]) and the revocation cache. This is the hot path. A
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
    pub(crate) fn verify_cached_with(
        &self,
        token: &str,
        audience: Option<&str>,
    ) -> std::result::Result<Principal, Denial> {
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
        let claims: AccessClaims =
            serde_json::from_slice(&message).map_err(|_| Denial::TokenMalformed)?;
        let times = claims.times()?;
        let cfg = &self.inner.config;
        claims.check(&times, &cfg.issuer, audience, self.now())?;
        let principal = claims.into_principal(&times);
        self.inner.revocations.check_principal(&principal)?;
        Ok(principal)
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

    // ---- audit ------------------------------------------------------------------------

    /// Audit events matching `query`, in chain order.
    pub async fn audit_events(
        &self,
        caller: Caller<'_>,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>> {
        self.may(caller, Action::ReadAudit)?;
        Ok(self.inner.store.audit(query).await?)
    }

    /// Walks the whole audit chain; returns the number of events, or
    /// [`Error::AuditChain`] naming the first broken link.
    pub async fn verify_audit_chain(&self, caller: Caller<'_>) -> Result<u64> {
        self.may(caller, Action::ReadAudit)?;
        let mut verifier = ChainVerifier::default();
        let mut after = None;
        loop {
            let q = AuditQuery {
                after_seq: after,
                limit: Some(AUDIT_PAGE),
                ..AuditQuery::default()
            };
            let page = self.inner.store.audit(&q).await?;
            for e in &page {
                verifier.push(e)?;
            }
            match page.last() {
                Some(last) if page.len() == AUDIT_PAGE => after = Some(last.seq),
                _ => return Ok(verifier.count()),
            }
        }
    }
}
