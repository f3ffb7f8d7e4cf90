//! Vault rules as pure functions (see [`crate::plan`]): no store, no clock, no runtime.

use std::time::Duration;

use crate::account::{AccountKind, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::Action;
use crate::clock::Timestamp;
use crate::error::{Denial, Error, InvalidInput, Missing, Result};
use crate::plan::Plan;
use crate::store::{Record, RecordKind, Write};
use crate::token::rules::unchanged;
use crate::token::Principal;

use super::StoredCredentials;

/// Database credentials are kept for system accounts only.
pub(crate) fn require_system_account(account: &StoredAccount) -> Result<()> {
    if account.kind == AccountKind::System {
        Ok(())
    } else {
        Err(InvalidInput::AccountKind("database credentials belong to system accounts").into())
    }
}

/// The audit of a refused credentials `action` ("store" or "fetch") by `actor` on
/// `service_account_id`; it is committed before the refusal is returned.
pub(crate) fn credentials_denied(
    actor: &str,
    service_account_id: &str,
    action: &str,
    now: Timestamp,
) -> Plan<()> {
    Plan::new(()).audit(
        AuditDraft::new(AuditKind::CredentialsDenied, now)
            .actor(Some(actor))
            .account(service_account_id)
            .detail("action", action),
    )
}

/// Storing (or replacing) `sealed` credentials for the system account `account` (as read),
/// over the credentials record `existing` (as read, if any), by `actor`. Only the database
/// user name is audited. The decision depends on the account being a system account, so the
/// plan checks it is unchanged.
pub(crate) fn store_db_credentials(
    account: &(Record, StoredAccount),
    existing: Option<&Record>,
    sealed: String,
    db_user: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Plan<()>> {
    let (account_record, sa) = account;
    require_system_account(sa)?;
    let record = Record {
        kind: RecordKind::DbCredentials,
        id: sa.id.clone(),
        version: 0,
        parent: None,
        lookup: None,
        expires_at: None,
        body: crate::record_body::to_body(&StoredCredentials {
            sealed,
            updated_at: now,
            updated_by: actor.to_owned(),
        })?,
    };
    let write = match existing {
        Some(old) => Write::Update {
            record,
            expected_version: old.version,
        },
        None => Write::Insert(record),
    };
    Ok(Plan::new(())
        .write(unchanged(account_record))
        .write(write)
        .audit(
            AuditDraft::new(AuditKind::CredentialsStored, now)
                .actor(Some(actor))
                .account(&sa.id)
                .detail("db_user", db_user),
        ))
}

/// A fetch of the database credentials of `account` (as read) by `actor`, stored as
/// `stored` (as read, if any): allowed for the system account itself and for holders of the
/// role named like it. Every fetch is audited: an allowed one with both records checked
/// unchanged, and output `Ok`; a refused one with the refusal as output, which the caller
/// returns once the audit is committed. Credentials that were never stored are an error with
/// nothing to commit.
pub(crate) fn fetch_db_credentials(
    actor: &Principal,
    account: &(Record, StoredAccount),
    stored: Option<&Record>,
    recent_authentication: Duration,
    now: Timestamp,
) -> Result<Plan<Result<()>>> {
    let (account_record, sa) = account;
    let allowed = if sa.kind == AccountKind::System {
        let action = Action::FetchDbCredentials {
            service_account: &sa.id,
            service_role: &sa.username,
        };
        crate::authz::authorize(actor, action, now, recent_authentication)
    } else {
        Err(Denial::NotPermitted)
    };
    if let Err(denied) = allowed {
        return Ok(credentials_denied(&actor.account_id, &sa.id, "fetch", now)
            .map(|()| Err(denied.into())));
    }
    let stored = stored.ok_or(Error::NotFound(Missing::DatabaseCredentials))?;
    Ok(Plan::new(Ok(()))
        .write(unchanged(account_record))
        .write(unchanged(stored))
        .audit(
            AuditDraft::new(AuditKind::CredentialsFetched, now)
                .actor(Some(&actor.account_id))
                .account(&sa.id),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditDraft;
    use crate::authz::CredentialKind;
    use crate::fixtures::{self, NOW};

    #[test]
    fn credentials_belong_to_system_accounts_only() {
        for (kind, ok) in [(AccountKind::System, true), (AccountKind::Human, false)] {
            let (_, account) = fixtures::account("acc_svc", kind, &[]);
            let result = require_system_account(&account);
            assert_eq!(result.is_ok(), ok, "{kind:?}");
            if !ok {
                assert!(matches!(
                    result,
                    Err(Error::Invalid(InvalidInput::AccountKind(_)))
                ));
            }
        }
    }

    #[test]
    fn refusals_are_audited() {
        let plan = credentials_denied("acc_x", "acc_svc", "store", NOW);
        assert!(plan.commit.writes.is_empty());
        let audit = AuditDraft::new(AuditKind::CredentialsDenied, NOW)
            .actor(Some("acc_x"))
            .account("acc_svc")
            .detail("action", "store");
        assert_eq!(plan.commit.audit, [audit]);
    }

    #[test]
    fn storing_inserts_or_replaces_the_sealed_record() {
        let body = StoredCredentials {
            sealed: "sealed-1".into(),
            updated_at: NOW,
            updated_by: "acc_admin".into(),
        };
        let stored = Record {
            kind: RecordKind::DbCredentials,
            id: "acc_svc".into(),
            version: 0,
            parent: None,
            lookup: None,
            expires_at: None,
            body: crate::record_body::to_body(&body).expect("body"),
        };
        let old = Record {
            version: 9,
            ..stored.clone()
        };
        // Account kind, existing record, expected write (`None`: refused).
        let cases = [
            (
                AccountKind::System,
                None,
                Some(Write::Insert(stored.clone())),
            ),
            (
                AccountKind::System,
                Some(&old),
                Some(Write::Update {
                    record: stored,
                    expected_version: 9,
                }),
            ),
            (AccountKind::Human, None, None),
        ];
        for (kind, existing, expected) in cases {
            let account = fixtures::account("acc_svc", kind, &[]);
            let result = store_db_credentials(
                &account,
                existing,
                "sealed-1".into(),
                "app",
                "acc_admin",
                NOW,
            );
            let (plan, write) = match (result, expected) {
                (Ok(plan), Some(write)) => (plan, write),
                (Err(Error::Invalid(InvalidInput::AccountKind(_))), None) => continue,
                (other, _) => panic!("{kind:?}: {:?}", other.map(|p| p.commit)),
            };
            assert_eq!(plan.commit.writes, vec![unchanged(&account.0), write]);
            let audit = AuditDraft::new(AuditKind::CredentialsStored, NOW)
                .actor(Some("acc_admin"))
                .account("acc_svc")
                .detail("db_user", "app");
            assert_eq!(plan.commit.audit, [audit]);
        }
    }

    /// What the fetch is expected to do.
    #[derive(Debug, PartialEq)]
    enum Fetch {
        /// Audited as fetched, both records checked.
        Allowed,
        /// Audited as refused, with this denial.
        Denied(Denial),
        /// Nothing stored: an error with nothing committed.
        Missing,
    }

    #[test]
    fn fetching_is_allowed_to_the_account_and_its_role_holders_and_always_audited() {
        let window = Duration::from_secs(300);
        let itself = fixtures::principal("acc_svc", CredentialKind::ServiceToken, &[]);
        let role_holder =
            fixtures::principal("acc_app", CredentialKind::Session, &["acc_svc-name"]);
        let other_service = fixtures::principal("acc_other", CredentialKind::ServiceToken, &[]);
        let admin = fixtures::principal("acc_admin", CredentialKind::Session, &["admin"]);
        let sealed = fixtures::record(RecordKind::DbCredentials, "acc_svc", 5, &"sealed");
        // Actor, account kind, credentials stored, expected outcome.
        let cases = [
            (&itself, AccountKind::System, true, Fetch::Allowed),
            (&role_holder, AccountKind::System, true, Fetch::Allowed),
            (&itself, AccountKind::System, false, Fetch::Missing),
            (
                &other_service,
                AccountKind::System,
                true,
                Fetch::Denied(Denial::NotPermitted),
            ),
            (
                &admin,
                AccountKind::System,
                true,
                Fetch::Denied(Denial::NotPermitted),
            ),
            (
                &admin,
                AccountKind::System,
                false,
                Fetch::Denied(Denial::NotPermitted),
            ),
            (
                &role_holder,
                AccountKind::Human,
                true,
                Fetch::Denied(Denial::NotPermitted),
            ),
        ];
        for (actor, kind, present, expected) in cases {
            let account = fixtures::account("acc_svc", kind, &[]);
            let stored = present.then_some(&sealed);
            let result = fetch_db_credentials(actor, &account, stored, window, NOW);
            let plan = match result {
                Ok(plan) => plan,
                Err(Error::NotFound(Missing::DatabaseCredentials)) => {
                    assert_eq!(expected, Fetch::Missing, "{}", actor.account_id);
                    continue;
                }
                Err(e) => panic!("{}: {e:?}", actor.account_id),
            };
            let fetched = AuditDraft::new(AuditKind::CredentialsFetched, NOW)
                .actor(Some(&actor.account_id))
                .account("acc_svc");
            let (outcome, writes, audit) = match plan.output {
                Ok(()) => (
                    Fetch::Allowed,
                    vec![unchanged(&account.0), unchanged(&sealed)],
                    fetched,
                ),
                Err(Error::Denied(denial)) => (
                    Fetch::Denied(denial),
                    vec![],
                    credentials_denied(&actor.account_id, "acc_svc", "fetch", NOW)
                        .commit
                        .audit[0]
                        .clone(),
                ),
                Err(e) => panic!("{}: {e:?}", actor.account_id),
            };
            assert_eq!(plan.commit.writes, writes);
            assert_eq!(plan.commit.audit, [audit]);
            assert_eq!(outcome, expected, "{} {kind:?}", actor.account_id);
        }
    }
}
