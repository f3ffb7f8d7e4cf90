//! An account's consent to a client: recording (widening) it, and withdrawing it together
//! with every token family the client holds for the account.

use std::collections::BTreeSet;

use super::{families_revoked, revoke_live_families};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::{Error, Missing, Result};
use crate::oauth::grant::{consent_id, OAuthConsent, StoredFamily};
use crate::oauth::scope::format_scope;
use crate::plan::Plan;
use crate::store::{Commit, Record, RecordKind, Write};

/// Adds to `commit` the consent of `account_id` to `client_id` for `scopes`: widening
/// `existing` (the consent as read) or recording a new one, with its audit event.
pub(crate) fn widen_consent(
    commit: &mut Commit,
    existing: Option<(Record, OAuthConsent)>,
    account_id: &str,
    client_id: &str,
    scopes: &BTreeSet<String>,
    now: Timestamp,
) -> Result<()> {
    let (write, consent) = if let Some((record, mut c)) = existing {
        c.scopes.extend(scopes.iter().cloned());
        c.updated_at = now;
        let write = Write::Update {
            record: Record {
                body: crate::record_body::to_body(&c)?,
                ..record.clone()
            },
            expected_version: record.version,
        };
        (write, c)
    } else {
        let c = OAuthConsent {
            account_id: account_id.to_owned(),
            client_id: client_id.to_owned(),
            scopes: scopes.clone(),
            granted_at: now,
            updated_at: now,
        };
        let record = Record {
            kind: RecordKind::OAuthConsent,
            id: consent_id(account_id, client_id),
            version: 0,
            parent: Some(account_id.to_owned()),
            lookup: None,
            expires_at: None,
            body: crate::record_body::to_body(&c)?,
        };
        (Write::Insert(record), c)
    };
    commit.writes.push(write);
    commit.audit.push(
        AuditDraft::new(AuditKind::OAuthConsentGiven, now)
            .actor(Some(account_id))
            .account(account_id)
            .detail("client_id", client_id.to_owned())
            .detail("scope", format_scope(&consent.scopes)),
    );
    Ok(())
}

/// `account_id` withdraws its consent to `client_id`: the consent (`consent`, as read) is
/// deleted and every live family of the client's (`families`) that speaks for the account is
/// revoked. The output is how many families died; with neither a consent nor a live family
/// there is nothing to withdraw ([`Missing::Consent`]).
pub(crate) fn decide_revoke_consent(
    account_id: &str,
    client_id: &str,
    consent: Option<&Record>,
    families: Vec<(Record, StoredFamily)>,
    now: Timestamp,
) -> Result<Plan<usize>> {
    let mut commit = Commit::default();
    if let Some(record) = consent {
        commit.writes.push(Write::Delete {
            kind: RecordKind::OAuthConsent,
            id: record.id.clone(),
            expected_version: record.version,
        });
    }
    let revoked = revoke_live_families(&mut commit, families, Some(account_id), now)?;
    if consent.is_none() && revoked == 0 {
        return Err(Error::NotFound(Missing::Consent));
    }
    let audit = AuditDraft::new(AuditKind::OAuthConsentRevoked, now)
        .actor(Some(account_id))
        .account(account_id)
        .detail("client_id", client_id.to_owned());
    Ok(families_revoked(commit, audit, revoked))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{
        audit_kinds, consent_read, families_read, family, set, writes, written,
    };
    use super::*;

    /// (existing scopes, asked, write, stored scopes, granted at)
    type WidenCase = (
        Option<&'static [&'static str]>,
        &'static [&'static str],
        &'static str,
        &'static [&'static str],
        i64,
    );

    #[test]
    fn consent_is_recorded_or_widened() {
        let now = Timestamp::from_secs(500);
        let cases: [WidenCase; 3] = [
            (None, &["read"], "insert", &["read"], 500),
            (
                Some(&["read"]),
                &["write"],
                "update",
                &["read", "write"],
                10,
            ),
            (
                Some(&["read", "write"]),
                &["read"],
                "update",
                &["read", "write"],
                10,
            ),
        ];
        for (existing, asked, write, stored, granted) in cases {
            let mut plan = Plan::new(());
            widen_consent(
                &mut plan.commit,
                existing.map(consent_read),
                "acc_a",
                "cli_1",
                &set(asked),
                now,
            )
            .expect("plan");
            let expected_version = if existing.is_some() { 6 } else { 0 };
            assert_eq!(
                writes(&plan),
                [(
                    write,
                    RecordKind::OAuthConsent,
                    "acc_a/cli_1".to_owned(),
                    expected_version
                )]
            );
            let c: OAuthConsent = written(&plan, RecordKind::OAuthConsent, "acc_a/cli_1");
            assert_eq!(c.scopes, set(stored));
            assert_eq!(c.granted_at, Timestamp::from_secs(granted));
            assert_eq!(c.updated_at, now);
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthConsentGiven]);
            assert_eq!(
                plan.commit.audit[0].detail.get("scope").map(String::as_str),
                Some(format_scope(&set(stored)).as_str())
            );
        }
    }

    /// (consent, families, revoked, writes) — `None` revoked: nothing to withdraw.
    type WithdrawCase = (
        bool,
        bool,
        Option<usize>,
        &'static [(&'static str, &'static str)],
    );

    #[test]
    fn withdrawing_consent_deletes_it_and_revokes_the_accounts_families() {
        let now = Timestamp::from_secs(2_000);
        let mut dead = family("ofm_dead", "cli_1", "acc_a");
        dead.revoked_at = Some(Timestamp::from_secs(1_500));
        let all = [
            family("ofm_1", "cli_1", "acc_a"),
            family("ofm_2", "cli_1", "acc_other"),
            dead,
        ];
        let (consent_record, _) = consent_read(&["read"]);
        let cases: [WithdrawCase; 4] = [
            (
                true,
                true,
                Some(1),
                &[("delete", "acc_a/cli_1"), ("update", "ofm_1")],
            ),
            (true, false, Some(0), &[("delete", "acc_a/cli_1")]),
            (false, true, Some(1), &[("update", "ofm_1")]),
            (false, false, None, &[]),
        ];
        for (has_consent, has_families, revoked, expect_writes) in cases {
            let result = decide_revoke_consent(
                "acc_a",
                "cli_1",
                has_consent.then_some(&consent_record),
                families_read(if has_families { &all } else { &[] }, 2),
                now,
            );
            let Some(revoked) = revoked else {
                assert!(matches!(result, Err(Error::NotFound(Missing::Consent))));
                continue;
            };
            let plan = result.expect("plan");
            assert_eq!(plan.output, revoked);
            let got: Vec<_> = writes(&plan)
                .into_iter()
                .map(|(op, _, id, _)| (op, id))
                .collect();
            let want: Vec<_> = expect_writes
                .iter()
                .map(|(op, id)| (*op, (*id).to_owned()))
                .collect();
            assert_eq!(got, want);
            assert_eq!(plan.commit.revocations.len(), revoked);
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthConsentRevoked]);
            assert_eq!(
                plan.commit.audit[0]
                    .detail
                    .get("families_revoked")
                    .map(String::as_str),
                Some(revoked.to_string().as_str())
            );
        }
    }
}
