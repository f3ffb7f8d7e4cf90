//! Shared set-up for iam-core's behaviour tests.
#![allow(dead_code)]

use iam_core::{
    Config, Iam, ManualClock, MasterKey, MemoryStore, PasswordPolicy, SecureRandom, Timestamp,
};

/// 2026-01-01T00:00:00Z.
pub const START: Timestamp = Timestamp::from_secs(1_767_225_600);

/// An Iam over a fresh MemoryStore with a manual clock and cheap Argon2.
pub async fn iam() -> (Iam<MemoryStore, ManualClock>, ManualClock) {
    iam_with(|_| {}).await
}

/// Like [`iam`], with a chance to adjust the configuration.
pub async fn iam_with(
    adjust: impl FnOnce(&mut Config),
) -> (Iam<MemoryStore, ManualClock>, ManualClock) {
    let clock = ManualClock::new(START);
    let mut config = Config::new(MasterKey::from_bytes([42; 32]));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    adjust(&mut config);
    let iam = Iam::builder(MemoryStore::new(), config)
        .clock(clock.clone())
        .rng(SecureRandom::from_seed([1; 32]))
        .open()
        .await
        .expect("open");
    (iam, clock)
}

/// A store shared by two services (delegates to one MemoryStore).
pub struct SharedStore(pub std::sync::Arc<iam_core::MemoryStore>);

#[async_trait::async_trait]
impl iam_core::Store for SharedStore {
    async fn get(
        &self,
        k: iam_core::store::RecordKind,
        id: &str,
    ) -> iam_core::store::StoreResult<Option<iam_core::store::Record>> {
        self.0.get(k, id).await
    }
    async fn find(
        &self,
        k: iam_core::store::RecordKind,
        l: &str,
    ) -> iam_core::store::StoreResult<Option<iam_core::store::Record>> {
        self.0.find(k, l).await
    }
    async fn list(
        &self,
        k: iam_core::store::RecordKind,
        q: &iam_core::store::ListQuery,
    ) -> iam_core::store::StoreResult<Vec<iam_core::store::Record>> {
        self.0.list(k, q).await
    }
    async fn commit(&self, c: iam_core::store::Commit) -> iam_core::store::StoreResult<()> {
        self.0.commit(c).await
    }
    async fn throttle(
        &self,
        key: &str,
    ) -> iam_core::store::StoreResult<Option<iam_core::store::ThrottleState>> {
        self.0.throttle(key).await
    }
    async fn audit(
        &self,
        q: &iam_core::AuditQuery,
    ) -> iam_core::store::StoreResult<Vec<iam_core::AuditEvent>> {
        self.0.audit(q).await
    }
    async fn revocations(
        &self,
    ) -> iam_core::store::StoreResult<Vec<iam_core::revocation::Revocation>> {
        self.0.revocations().await
    }
    async fn subscribe(
        &self,
        c: std::sync::Arc<iam_core::revocation::RevocationCache>,
    ) -> iam_core::store::StoreResult<()> {
        self.0.subscribe(c).await
    }
}
