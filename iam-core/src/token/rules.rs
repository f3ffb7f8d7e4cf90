//! Token rules as pure functions (see [`crate::plan`]): no store, no clock, no runtime.

use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::plan::Plan;
use crate::store::{Record, Write};
use crate::token::keys::StoredKey;

/// Rotation of the signing keys: every key still signing (`retired_at` unset) retires at
/// `now`, and `new_key` (a freshly generated key record) becomes the active one. The output is
/// the new key id.
pub(crate) fn rotate_signing_key(
    keys: Vec<(Record, StoredKey)>,
    new_key: Record,
    actor: Option<&str>,
    now: Timestamp,
) -> Result<Plan<String>> {
    let kid = new_key.id.clone();
    let mut plan = Plan::new(kid.clone());
    for (record, mut key) in keys {
        if key.retired_at.is_none() {
            key.retired_at = Some(now);
            let body = crate::json::to_body(&key)?;
            plan = plan.write(Write::Update {
                expected_version: record.version,
                record: Record { body, ..record },
            });
        }
    }
    Ok(plan.write(Write::Insert(new_key)).audit(
        AuditDraft::new(AuditKind::SigningKeyRotated, now)
            .actor(actor)
            .detail("kid", kid),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordKind;

    fn key(id: &str, version: u64, retired_at: Option<Timestamp>) -> (Record, StoredKey) {
        let stored = StoredKey {
            public_key: format!("pk-{id}"),
            sealed_seed: format!("sealed-{id}"),
            created_at: Timestamp::from_millis(1_000),
            retired_at,
        };
        let record = Record {
            kind: RecordKind::SigningKey,
            id: id.to_owned(),
            version,
            parent: None,
            lookup: None,
            expires_at: None,
            body: crate::json::to_body(&stored).expect("body"),
        };
        (record, stored)
    }

    /// Existing keys with their retirement time, and the ids the rotation retires.
    type Case<'a> = (&'a [(&'a str, Option<Timestamp>)], &'a [&'a str]);

    #[test]
    fn rotation_retires_only_signing_keys_and_inserts_the_new_one() {
        let now = Timestamp::from_millis(50_000);
        let old = Some(Timestamp::from_millis(20_000));
        let cases: [Case<'_>; 3] = [
            (&[], &[]),
            (&[("k1", None)], &["k1"]),
            (&[("k1", old), ("k2", None)], &["k2"]),
        ];
        for (existing, retired) in cases {
            let keys = existing.iter().map(|(id, at)| key(id, 3, *at)).collect();
            let (new, _) = key("k9", 0, None);
            let plan = rotate_signing_key(keys, new, Some("acc_admin"), now).expect("plan");
            assert_eq!(plan.output, "k9");
            let updated: Vec<&str> = plan
                .commit
                .writes
                .iter()
                .filter_map(|w| match w {
                    Write::Update {
                        record,
                        expected_version: 3,
                    } => {
                        let k: StoredKey = crate::json::from_body(&record.body).expect("key");
                        assert_eq!(k.retired_at, Some(now));
                        Some(record.id.as_str())
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(updated, retired);
            assert!(matches!(plan.commit.writes.last(), Some(Write::Insert(r)) if r.id == "k9"));
            assert_eq!(plan.commit.audit.len(), 1);
            assert_eq!(plan.commit.audit[0].kind, AuditKind::SigningKeyRotated);
            assert_eq!(plan.commit.audit[0].actor.as_deref(), Some("acc_admin"));
            assert_eq!(
                plan.commit.audit[0].detail.get("kid").map(String::as_str),
                Some("k9")
            );
        }
    }
}
