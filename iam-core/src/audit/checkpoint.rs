//! Signed checkpoints of the audit chain's head.
//!
//! A checkpoint says "event `seq` of this chain has hash `head`", signed at `at` by the token
//! key `kid`. The signature is a PASETO v4.public token (Ed25519, the key's PASERK id in the
//! footer, as in access tokens) with its own implicit assertion, so no checkpoint verifies as
//! an access token nor the reverse. Since every event's hash covers all before it, one
//! checkpoint vouches for the whole chain up to `seq`.
//!
//! Checkpoints are records ([`RecordKind::AuditCheckpoint`]): one per signed head (id: the
//! sequence number, zero-padded) and a pointer to the latest (id `latest`), replaced by
//! compare-and-swap, so two instances never sign over each other.

use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::{AuditEvent, AuditQuery, ChainBreak, ChainHash, ChainVerifier};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Result};
use crate::iam::Iam;
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, StoreError, Write};
use crate::token::keys::{footer_for, KeyRing, StoredKey};
use crate::token::paseto;

/// The PASETO implicit assertion of every checkpoint token (access tokens have none).
pub const CHECKPOINT_IMPLICIT_ASSERTION: &[u8] = b"iam-audit-checkpoint-v1";

/// The id of the record pointing at the latest checkpoint.
const LATEST: &str = "latest";

/// Audit events read per page when walking the chain.
pub(crate) const AUDIT_PAGE: usize = 5_000;

/// A signed statement that event `seq` of the audit chain has hash `head`.
///
/// The plain fields are for reading; [`AuditCheckpoint::verify`] checks that `token` signs
/// exactly them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditCheckpoint {
    /// The sequence number of the signed event (the head when it was signed).
    pub seq: u64,
    /// That event's chain hash (64 lowercase hex digits in JSON).
    #[serde(with = "super::hex")]
    pub head: ChainHash,
    /// When it was signed (milliseconds since the epoch in JSON).
    pub at: Timestamp,
    /// The PASERK id (`k4.pid.…`) of the signing key, as published at `/keys`.
    pub kid: String,
    /// The PASETO v4.public token signing `seq`, `head` and `at`.
    pub token: String,
}

/// What the token signs.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signed {
    seq: u64,
    #[serde(with = "super::hex")]
    head: ChainHash,
    at: Timestamp,
}

impl AuditCheckpoint {
    /// Signs event `seq` with hash `head` at `at` with the ring's active key.
    pub(crate) fn sign(
        ring: &KeyRing,
        seq: u64,
        head: ChainHash,
        at: Timestamp,
    ) -> Result<AuditCheckpoint> {
        let payload = crate::record_body::to_body(&Signed { seq, head, at })?;
        Ok(AuditCheckpoint {
            seq,
            head,
            at,
            kid: ring.active_kid().to_owned(),
            token: ring.sign_asserting(payload.as_bytes(), CHECKPOINT_IMPLICIT_ASSERTION),
        })
    }

    /// Whether `token` is a signature by `key` of exactly this checkpoint's `seq`, `head` and
    /// `at`, naming `kid`. The caller picks `key` by `kid` and decides whether to trust it.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        let Ok(unverified) = paseto::decode(&self.token) else {
            return false;
        };
        if unverified.footer != footer_for(&self.kid) {
            return false;
        }
        let Ok(payload) = unverified.verify(key, CHECKPOINT_IMPLICIT_ASSERTION) else {
            return false;
        };
        serde_json::from_slice::<Signed>(&payload)
            .is_ok_and(|s| s.seq == self.seq && s.head == self.head && s.at == self.at)
    }

    /// The record id of the checkpoint of event `seq`: zero-padded so ids sort by `seq`.
    fn record_id(seq: u64) -> String {
        format!("{seq:020}")
    }
}

/// The commit that stores `checkpoint` and points `latest` at it (replacing the pointer the
/// caller read, or creating it).
fn store_checkpoint(latest: Option<Record>, checkpoint: &AuditCheckpoint) -> Result<Commit> {
    let body = crate::record_body::to_body(checkpoint)?;
    let record = |id: String| Record {
        kind: RecordKind::AuditCheckpoint,
        id,
        version: 0,
        parent: None,
        lookup: None,
        expires_at: None,
        body: body.clone(),
    };
    let pointer = match latest {
        Some(old) => Write::Update {
            expected_version: old.version,
            record: record(LATEST.to_owned()),
        },
        None => Write::Insert(record(LATEST.to_owned())),
    };
    Ok(Commit {
        writes: vec![
            Write::Insert(record(AuditCheckpoint::record_id(checkpoint.seq))),
            pointer,
        ],
        ..Commit::default()
    })
}

/// Whether a periodic checkpoint is due at `now` after `latest` (none yet: always).
fn checkpoint_due(latest: Option<&AuditCheckpoint>, every: Duration, now: Timestamp) -> bool {
    latest.is_none_or(|c| c.at.plus(every) <= now)
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Signs the audit chain's head as a checkpoint when one is due: the latest checkpoint is at
    /// least [`Config::audit_checkpoint_interval`](crate::Config::audit_checkpoint_interval)
    /// old (or there is none) and events came after it. [`Iam::sweep`] calls this; call it
    /// yourself if you do not sweep. Before signing, the events since the latest checkpoint are
    /// checked to extend it, so a rewritten chain is refused
    /// ([`Error::AuditChain`](crate::Error::AuditChain)), never signed. Returns the new
    /// checkpoint, if one was made.
    pub async fn checkpoint_audit_if_due(&self) -> Result<Option<AuditCheckpoint>> {
        match self.inner.config.audit_checkpoint_interval {
            Some(every) => self.checkpoint_audit(Some(every)).await,
            None => Ok(None),
        }
    }

    /// Signs the head if events came after the latest checkpoint (with `every`: only when the
    /// latest is at least that old). Returns the checkpoint made, if any.
    pub(crate) async fn checkpoint_audit(
        &self,
        every: Option<Duration>,
    ) -> Result<Option<AuditCheckpoint>> {
        let now = self.now();
        self.retrying(|| async {
            let latest = self.latest_checkpoint().await?;
            if let Some(every) = every {
                if !checkpoint_due(latest.as_ref().map(|(_, c)| c), every, now) {
                    return Ok(None);
                }
            }
            let (seq, head) = self
                .audit_head_after(latest.as_ref().map(|(_, c)| c))
                .await?;
            if seq == latest.as_ref().map_or(0, |(_, c)| c.seq) {
                return Ok(None);
            }
            let checkpoint = AuditCheckpoint::sign(&self.ring(), seq, head, now)?;
            let commit = store_checkpoint(latest.map(|(r, _)| r), &checkpoint)?;
            match self.inner.store.commit(commit).await {
                // Another instance stored a checkpoint first (of this head, or the first one):
                // a lost race like any other, tried again from the new latest.
                Err(StoreError::Duplicate {
                    kind: RecordKind::AuditCheckpoint,
                }) => Err(StoreError::Conflict.into()),
                other => other.map(|()| Some(checkpoint)).map_err(Error::from),
            }
        })
        .await
    }

    /// The latest checkpoint and its pointer record, if any.
    pub(crate) async fn latest_checkpoint(&self) -> Result<Option<(Record, AuditCheckpoint)>> {
        self.load(RecordKind::AuditCheckpoint, LATEST).await
    }

    /// Every stored checkpoint, in chain order.
    pub(crate) async fn stored_checkpoints(&self) -> Result<Vec<AuditCheckpoint>> {
        let records = self
            .inner
            .store
            .list(RecordKind::AuditCheckpoint, &ListQuery::default())
            .await?;
        records
            .iter()
            .filter(|r| r.id != LATEST)
            .map(|r| crate::record_body::from_body(&r.body))
            .collect()
    }

    /// The public key of the stored signing key `kid` (kept after it lapses from the ring).
    pub(crate) async fn stored_public_key(&self, kid: &str) -> Result<Option<VerifyingKey>> {
        match self.load::<StoredKey>(RecordKind::SigningKey, kid).await? {
            Some((_, key)) => Ok(Some(key.verifying_key()?)),
            None => Ok(None),
        }
    }

    /// The chain's head: walks the events after `from` (a checkpoint whose signature and whose
    /// event are checked first), verifying each link.
    async fn audit_head_after(&self, from: Option<&AuditCheckpoint>) -> Result<(u64, ChainHash)> {
        let mut verifier = match from {
            Some(c) => {
                let key = self.stored_public_key(&c.kid).await?;
                if !key.is_some_and(|k| c.verify(&k)) {
                    return Err(ChainBreak::ForgedCheckpoint { seq: c.seq }.into());
                }
                let signed = self
                    .inner
                    .store
                    .audit(&AuditQuery {
                        after_seq: Some(c.seq.saturating_sub(1)),
                        limit: Some(1),
                        ..AuditQuery::default()
                    })
                    .await?;
                if signed
                    .first()
                    .is_none_or(|e| e.seq != c.seq || e.hash != c.head)
                {
                    return Err(ChainBreak::CheckpointMismatch { seq: c.seq }.into());
                }
                ChainVerifier::after(c.seq, c.head)
            }
            None => ChainVerifier::default(),
        };
        self.walk_audit(&mut verifier, |_| Ok(())).await?;
        Ok(verifier.head())
    }

    /// Feeds every event after the verifier's head, in chain order, to `verifier` and then to
    /// `each`, a page at a time.
    pub(crate) async fn walk_audit(
        &self,
        verifier: &mut ChainVerifier,
        mut each: impl FnMut(&AuditEvent) -> Result<()>,
    ) -> Result<()> {
        loop {
            let q = AuditQuery {
                after_seq: Some(verifier.head().0),
                limit: Some(AUDIT_PAGE),
                ..AuditQuery::default()
            };
            let page = self.inner.store.audit(&q).await?;
            for e in &page {
                verifier.push(e)?;
                each(e)?;
            }
            if page.len() < AUDIT_PAGE {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SecureRandom;
    use crate::secret::MasterKey;

    fn ring() -> KeyRing {
        let rng = SecureRandom::from_seed([4; 32]);
        let sealer = MasterKey::from_bytes([5; 32]).sealer();
        let now = Timestamp::from_secs(1000);
        let key = crate::token::keys::generate(&rng, &sealer, now).expect("key");
        KeyRing::from_records(&[key], &sealer, now, Duration::from_secs(60))
            .expect("ring")
            .expect("active key")
    }

    fn public(ring: &KeyRing) -> VerifyingKey {
        let paserk = &ring.published()[0].paserk;
        crate::token::keys::parse_paserk_public(paserk).expect("published key parses")
    }

    #[test]
    fn a_checkpoint_verifies_only_as_signed_and_only_as_a_checkpoint() {
        let ring = ring();
        let key = public(&ring);
        let c = AuditCheckpoint::sign(&ring, 7, [9; 32], Timestamp::from_secs(2000)).expect("sign");
        assert_eq!(c.kid, ring.active_kid());
        assert!(c.verify(&key));

        let edits: [fn(&mut AuditCheckpoint); 4] = [
            |c| c.seq += 1,
            |c| c.head[0] ^= 1,
            |c| c.at = c.at.plus(Duration::from_millis(1)),
            |c| c.kid.push('x'),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut forged = c.clone();
            edit(&mut forged);
            assert!(!forged.verify(&key), "edit {i} still verifies");
        }
        let other = SecureRandom::from_seed([6; 32]);
        let stranger = ed25519_dalek::SigningKey::from_bytes(&other.bytes::<32>());
        assert!(!c.verify(&stranger.verifying_key()));

        // Signed without the checkpoint's implicit assertion (as an access token is), the same
        // payload does not verify as a checkpoint; the checkpoint does not verify as a token.
        let payload = paseto::decode(&c.token).expect("decodes");
        assert!(payload.verify(&key, b"").is_err());
        let as_token = AuditCheckpoint {
            token: ring.sign(br#"{"seq":7}"#),
            ..c.clone()
        };
        assert!(!as_token.verify(&key));
    }

    #[test]
    fn a_checkpoint_token_verifies_with_pasetors() {
        use pasetors::keys::AsymmetricPublicKey;
        use pasetors::token::UntrustedToken;
        use pasetors::version4::{PublicToken, V4};
        use pasetors::Public;

        let ring = ring();
        let c = AuditCheckpoint::sign(&ring, 3, [1; 32], Timestamp::from_secs(5)).expect("sign");
        let pk = AsymmetricPublicKey::<V4>::from(public(&ring).as_bytes()).expect("key");
        let untrusted = UntrustedToken::<Public, V4>::try_from(c.token.as_str()).expect("token");
        let footer = footer_for(&c.kid);
        let trusted = PublicToken::verify(
            &pk,
            &untrusted,
            Some(&footer),
            Some(CHECKPOINT_IMPLICIT_ASSERTION),
        )
        .expect("pasetors verifies the checkpoint");
        assert!(
            PublicToken::verify(&pk, &untrusted, Some(&footer), None).is_err(),
            "not without the checkpoint's implicit assertion"
        );
        let signed: serde_json::Value =
            serde_json::from_str(trusted.payload()).expect("JSON payload");
        assert_eq!(signed["seq"], 3);
        assert_eq!(signed["head"], super::super::hex::encode(&[1; 32]));
        assert_eq!(signed["at"], 5000);
    }

    #[test]
    fn periodic_checkpoints_fall_due_after_the_interval() {
        let every = Duration::from_secs(60);
        let at = Timestamp::from_secs(100);
        assert!(checkpoint_due(None, every, at));
        let c = AuditCheckpoint {
            seq: 1,
            head: [0; 32],
            at,
            kid: String::new(),
            token: String::new(),
        };
        assert!(!checkpoint_due(
            Some(&c),
            every,
            at.plus(Duration::from_secs(59))
        ));
        assert!(checkpoint_due(Some(&c), every, at.plus(every)));
    }

    #[test]
    fn record_ids_sort_in_chain_order() {
        let ids: Vec<String> = [2, 10, 1_000_000, u64::MAX]
            .into_iter()
            .map(AuditCheckpoint::record_id)
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|id| id.as_str() < LATEST));
    }
}
