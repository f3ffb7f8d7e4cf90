//! Account lifecycle: deletion with a grace period, and the sweep that carries out due
//! deletions and prunes what has expired.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::manage::account_record;
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::Action;
use crate::clock::{Clock, Timestamp};
use crate::error::Result;
use crate::iam::Iam;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::store::{Commit, ListQuery, PruneReport, Record, RecordKind, Store, Write};
use crate::token::Principal;

/// How long a throttle counter must sit idle before the sweep forgets it. Longer than the
/// back-off cap, so forgetting it never shortens a running back-off.
pub const THROTTLE_IDLE: Duration = Duration::from_secs(24 * 3600);

/// A scheduled deletion, as stored (record id: the account id).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DeletionSchedule {
    account_id: String,
    due: Timestamp,
    requested_by: String,
}

/// What [`Iam::sweep`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Accounts whose scheduled deletion was carried out.
    pub deleted_accounts: Vec<String>,
    /// Expired records, revocations and idle throttle counters removed.
    pub pruned: PruneReport,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Schedules an account's deletion after the configured grace period. Allowed for the
    /// account itself and for admins. Returns when it falls due.
    pub async fn schedule_deletion(
        &self,
        actor: &Principal,
        account_id: &str,
    ) -> Result<Timestamp> {
        self.may(
            actor.into(),
            Action::ScheduleDeletion {
                account: account_id,
            },
        )?;
        let grace = self.inner.config.deletion_grace;
        let actor_id = actor.account_id.clone();
        self.retrying(|| async {
            let (read, mut account) = self.stored_account(account_id).await?;
            if let Some(existing) = account.deletion_due {
                return Ok(existing);
            }
            let now = self.now();
            let due = now.plus(grace);
            account.deletion_due = Some(due);
            let schedule = DeletionSchedule {
                account_id: account_id.to_owned(),
                due,
                requested_by: actor_id.clone(),
            };
            let commit = Commit {
                writes: vec![
                    Write::Update {
                        record: account_record(&account)?,
                        expected_version: read.version,
                    },
                    Write::Insert(Record {
                        kind: RecordKind::DeletionSchedule,
                        id: account_id.to_owned(),
                        version: 0,
                        parent: None,
                        lookup: None,
                        expires_at: None,
                        body: crate::json::to_body(&schedule)?,
                    }),
                ],
                audit: vec![AuditDraft::new(AuditKind::DeletionScheduled, now)
                    .actor(Some(&actor_id))
                    .account(account_id)
                    .detail("due", due.to_rfc3339())],
                ..Commit::default()
            };
            self.inner.store.commit(commit).await?;
            Ok(due)
        })
        .await
    }

    /// Cancels a scheduled deletion (the account itself or an admin). No-op when none is scheduled.
    pub async fn cancel_deletion(&self, actor: &Principal, account_id: &str) -> Result<()> {
        self.may(
            actor.into(),
            Action::RevokeCredentials {
                account: account_id,
            },
        )?;
        self.retrying(|| async {
            let (read, mut account) = self.stored_account(account_id).await?;
            if account.deletion_due.take().is_none() {
                return Ok(());
            }
            let writes = vec![Write::Update {
                record: account_record(&account)?,
                expected_version: read.version,
            }];
            let mut commit = Commit {
                writes,
                audit: vec![AuditDraft::new(AuditKind::DeletionCancelled, self.now())
                    .actor(Some(&actor.account_id))
                    .account(account_id)],
                ..Commit::default()
            };
            self.delete_if_present(&mut commit, RecordKind::DeletionSchedule, account_id)
                .await?;
            self.inner.store.commit(commit).await?;
            Ok(())
        })
        .await
    }

    /// Carries out every deletion due by now (the service clock), then prunes expired sessions,
    /// refresh and API tokens, service grants, lapsed elevation requests, moot revocations and
    /// throttle counters idle for [`THROTTLE_IDLE`]. Run it periodically; it is idempotent.
    ///
    /// A deletion first voids every token of the account (an account revocation that outlives
    /// its longest-lived token), then removes its personal data: the account (freeing the
    /// username), API tokens, memberships, stored credentials, pending requests. Audit events
    /// stay; they name the account only by id.
    pub async fn sweep(&self) -> Result<SweepReport> {
        let now = self.now();
        let mut report = SweepReport::default();
        let schedules = self
            .inner
            .store
            .list(RecordKind::DeletionSchedule, &ListQuery::default())
            .await?;
        for record in schedules {
            let schedule: DeletionSchedule = crate::json::from_body(&record.body)?;
            if schedule.due <= now {
                self.retrying(|| self.delete_account_now(&schedule.account_id))
                    .await?;
                report.deleted_accounts.push(schedule.account_id);
            }
        }
        let idle_since = Timestamp::from_millis(
            now.as_millis()
                .saturating_sub(i64::try_from(THROTTLE_IDLE.as_millis()).unwrap_or(i64::MAX)),
        );
        report.pruned = self.inner.store.prune(now, idle_since).await?;
        let mut audit = AuditDraft::new(AuditKind::SweepCompleted, now)
            .detail(
                "deleted_accounts",
                report.deleted_accounts.len().to_string(),
            )
            .detail("revocations", report.pruned.revocations.to_string())
            .detail("throttles", report.pruned.throttles.to_string());
        for (kind, n) in &report.pruned.records {
            audit = audit.detail(kind.as_str(), n.to_string());
        }
        self.inner
            .store
            .commit(Commit {
                audit: vec![audit],
                ..Commit::default()
            })
            .await?;
        Ok(report)
    }

    /// Deletes one account whose deletion is due, in one commit.
    async fn delete_account_now(&self, account_id: &str) -> Result<()> {
        let now = self.now();
        let mut commit = Commit::default();
        self.delete_if_present(&mut commit, RecordKind::DeletionSchedule, account_id)
            .await?;
        if !self
            .delete_if_present(&mut commit, RecordKind::Account, account_id)
            .await?
        {
            // Already gone: only the schedule remains to clear.
            self.inner.store.commit(commit).await?;
            return Ok(());
        }
        self.delete_if_present(&mut commit, RecordKind::DbCredentials, account_id)
            .await?;
        for kind in [
            RecordKind::Session,
            RecordKind::ApiToken,
            RecordKind::ServiceGrant,
            RecordKind::ElevationRequest,
        ] {
            for r in self.children(kind, account_id).await? {
                if kind == RecordKind::Session {
                    for t in self.children(RecordKind::RefreshToken, &r.id).await? {
                        commit.writes.push(delete_write(&t));
                    }
                }
                commit.writes.push(delete_write(&r));
            }
        }
        for mirror in self
            .children(RecordKind::MembershipByAccount, account_id)
            .await?
        {
            let membership: crate::org::Membership = crate::json::from_body(&mirror.body)?;
            let org_side = format!("{}/{account_id}", membership.org_id);
            self.delete_if_present(&mut commit, RecordKind::Membership, &org_side)
                .await?;
            commit.writes.push(delete_write(&mirror));
        }
        let outlives_tokens = self
            .inner
            .config
            .longest_token_ttl()
            .max(self.inner.config.api_token_max_ttl)
            .max(self.inner.config.session_ttl);
        commit.revocations.push(RevocationChange::Put(Revocation {
            subject: RevokedSubject::Account,
            id: account_id.to_owned(),
            issued_before: Timestamp::MAX,
            until: now.plus(outlives_tokens),
        }));
        commit
            .audit
            .push(AuditDraft::new(AuditKind::AccountDeleted, now).account(account_id));
        self.inner.store.commit(commit).await?;
        Ok(())
    }

    /// The records of `kind` whose parent is `parent`.
    async fn children(&self, kind: RecordKind, parent: &str) -> Result<Vec<Record>> {
        let query = ListQuery {
            parent: Some(parent.to_owned()),
            ..ListQuery::default()
        };
        Ok(self.inner.store.list(kind, &query).await?)
    }

    /// Adds the deletion of record (`kind`, `id`) to `commit` if it exists; says whether it did.
    pub(crate) async fn delete_if_present(
        &self,
        commit: &mut Commit,
        kind: RecordKind,
        id: &str,
    ) -> Result<bool> {
        let found = self.inner.store.get(kind, id).await?;
        if let Some(r) = &found {
            commit.writes.push(delete_write(r));
        }
        Ok(found.is_some())
    }
}

/// A write deleting `record` as read.
fn delete_write(record: &Record) -> Write {
    Write::Delete {
        kind: record.kind,
        id: record.id.clone(),
        expected_version: record.version,
    }
}
