//! [`Iam`]: the one entry point. Each operation reads through the [`Store`], decides with
//! plain functions, and writes its outcome and audit event in one [`Commit`].

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::audit::{AuditDraft, AuditKind};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::jose::keys::JoseRing;
use crate::oauth::known_clients::KnownClients;
use crate::offload::{Offload, OsThreads};
use crate::password::Passwords;
use crate::random::SecureRandom;
use crate::revocation::RevocationCache;
use crate::secret::{Sealer, TokenHasher};
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, StoreError, Write};
use crate::token::keys::{self, KeyRing};
use crate::token::VerifiedTokens;

/// How often a read-modify-write is retried after losing a race before giving up.
pub(crate) const MAX_ATTEMPTS: usize = 16;

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
    /// The JOSE (JWT) keys, apart from the PASETO ones ([`crate::jose`]).
    pub(crate) jose: RwLock<Arc<JoseRing>>,
    /// Held while making missing JOSE keys, so one instance makes one set.
    pub(crate) jose_create: async_lock::Mutex<()>,
    pub(crate) revocations: Arc<RevocationCache>,
    /// Access tokens verified earlier ([`VerifiedTokens`]).
    pub(crate) verified: VerifiedTokens,
    /// OAuth clients read earlier ([`KnownClients`]).
    pub(crate) clients: KnownClients,
    /// The WebAuthn relying party, when passkeys are configured.
    pub(crate) passkeys: Option<webauthn_rs::Webauthn>,
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

    /// Validates the configuration, loads (or creates) the signing keys, loads the JOSE keys
    /// if any (they are made on first use), and subscribes the
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
        let jose = crate::jose::service::load_ring(
            &self.store,
            &sealer,
            now,
            crate::jose::service::retention(&self.config),
            None,
        )
        .await?;
        let revocations = Arc::new(RevocationCache::new());
        self.store.subscribe(Arc::clone(&revocations)).await?;
        let verified = VerifiedTokens::new(self.config.verified_token_capacity);
        let passkeys = match &self.config.passkeys {
            Some(p) => Some(p.relying_party()?),
            None => None,
        };
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
                jose: RwLock::new(Arc::new(jose)),
                jose_create: async_lock::Mutex::new(()),
                revocations,
                verified,
                clients: KnownClients::default(),
                passkeys,
            }),
        })
    }
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
                let body = crate::record_body::from_body(&r.body)?;
                Ok(Some((r, body)))
            }
            None => Ok(None),
        }
    }
}

pub(crate) async fn load_or_create_ring<S: Store>(
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
