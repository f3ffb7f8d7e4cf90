//! Account lifecycle: deletion with a grace period, and the sweep that carries out due
//! deletions and prunes what has expired.

use serde::{Deserialize, Serialize};

use crate::account::manage::acting;
use crate::account::rules::{self, DueDeletion};
use crate::account::DeletionSchedule;
use crate::authz::Action;
use crate::clock::{Clock, Timestamp};
use crate::error::Result;
use crate::iam::Iam;
use crate::store::{ListQuery, PruneReport, Record, RecordKind, Store};
use crate::token::Principal;

/// What [`Iam::sweep`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Accounts whose scheduled deletion was carried out.
    pub deleted_accounts: Vec<String>,
    /// Expired records, revocations and idle throttle counters removed.
    pub pruned: PruneReport,
    /// The audit event a new checkpoint signed, when one fell due
    /// ([`Iam::checkpoint_audit_if_due`]).
    #[serde(default)]
    pub audit_checkpoint: Option<u64>,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Schedules an account's deletion after the configured grace period. Allowed for the
    /// account itself and for admins. Returns when it falls due.
    pub async fn schedule_deletion(
        &self,
        actor: &Principal,
        account_id: &str,
    ) -> Result<Timestamp> {
        let now = self.now();
        self.check(
            actor.into(),
            Action::ScheduleDeletion {
                account: account_id,
            },
            now,
        )?;
        let requested_by = actor.account_id.as_str();
        self.decide_on_account(account_id, |read, account| {
            rules::schedule_deletion(
                read,
                account,
                requested_by,
                acting(self, Some(requested_by), now),
            )
        })
        .await
    }

    /// Cancels a scheduled deletion (the account itself or an admin). No-op when none is scheduled.
    pub async fn cancel_deletion(&self, actor: &Principal, account_id: &str) -> Result<()> {
        let now = self.now();
        self.check(
            actor.into(),
            Action::RevokeCredentials {
                account: account_id,
            },
            now,
        )?;
        let actor = Some(actor.account_id.as_str());
        self.retrying(|| async {
            let (read, account) = self.stored_account(account_id).await?;
            let schedule = match account.deletion_due {
                Some(_) => {
                    self.inner
                        .store
                        .get(RecordKind::DeletionSchedule, account_id)
                        .await?
                }
                None => None,
            };
            let plan = rules::cancel_deletion(
                &read,
                account,
                schedule.as_ref(),
                acting(self, actor, now),
            )?;
            plan.apply(&self.inner.store).await
        })
        .await
    }

    /// Carries out every deletion due by now (the service clock), then prunes expired sessions,
    /// refresh and API tokens, service grants, lapsed elevation requests, moot revocations and
    /// throttle counters idle for [`THROTTLE_IDLE`](crate::THROTTLE_IDLE). Run it periodically; it is idempotent.
    ///
    /// A deletion first voids every token of the account (an account revocation that outlives
    /// its longest-lived token), then removes its personal data: the account (freeing the
    /// username), API tokens, memberships, stored credentials, pending requests. Audit events
    /// stay; they name the account only by id.
    ///
    /// Last, it signs the audit chain's head when a checkpoint is due
    /// ([`Iam::checkpoint_audit_if_due`]); a chain that no longer extends its latest checkpoint
    /// fails the sweep with [`Error::AuditChain`](crate::Error::AuditChain) after the rest is done.
    pub async fn sweep(&self) -> Result<SweepReport> {
        let now = self.now();
        let mut deleted = Vec::new();
        let schedules = self
            .inner
            .store
            .list(RecordKind::DeletionSchedule, &ListQuery::default())
            .await?;
        for record in schedules {
            let schedule: DeletionSchedule = crate::record_body::from_body(&record.body)?;
            if !rules::deletion_due(&schedule, now) {
                continue;
            }
            let carried_out = self
                .retrying(|| async {
                    let loaded = self.load_due_deletion(&schedule.account_id).await?;
                    let mut live = Vec::new();
                    for (record, _) in &loaded.sessions {
                        let session: crate::session::Session =
                            crate::record_body::from_body(&record.body)?;
                        if session.is_live(now) {
                            live.push(session.id);
                        }
                    }
                    let mut plan = rules::delete_due_account(loaded, now, &self.inner.config);
                    if plan.output {
                        // The account's live sessions end with it: back-channel logouts.
                        let live: Vec<&str> = live.iter().map(String::as_str).collect();
                        plan = self.with_logouts(plan, &live, now).await?;
                    }
                    plan.apply(&self.inner.store).await
                })
                .await?;
            if carried_out {
                deleted.push(schedule.account_id);
            }
        }
        let pruned = self
            .inner
            .store
            .prune(now, rules::throttle_idle_since(now))
            .await?;
        let plan = rules::sweep_completed(deleted, pruned, now);
        self.inner.store.commit(plan.commit).await?;
        let mut report = plan.output;
        report.audit_checkpoint = self.checkpoint_audit_if_due().await?.map(|c| c.seq);
        Ok(report)
    }

    /// Reads what deleting `account_id` touches (see [`rules::delete_due_account`]).
    async fn load_due_deletion(&self, account_id: &str) -> Result<DueDeletion> {
        let mut loaded = DueDeletion {
            schedule: self.load(RecordKind::DeletionSchedule, account_id).await?,
            ..DueDeletion::default()
        };
        if loaded.schedule.is_none() {
            return Ok(loaded);
        }
        loaded.account = self
            .inner
            .store
            .get(RecordKind::Account, account_id)
            .await?;
        if loaded.account.is_none() {
            return Ok(loaded);
        }
        loaded.credentials = self
            .inner
            .store
            .get(RecordKind::DbCredentials, account_id)
            .await?;
        for session in self.children(RecordKind::Session, account_id).await? {
            let refresh = self.children(RecordKind::RefreshToken, &session.id).await?;
            loaded.sessions.push((session, refresh));
        }
        for kind in [
            RecordKind::ApiToken,
            RecordKind::ServiceGrant,
            RecordKind::ElevationRequest,
            RecordKind::Passkey,
            RecordKind::PasskeyCeremony,
        ] {
            loaded.owned.extend(self.children(kind, account_id).await?);
        }
        for mirror in self
            .children(RecordKind::MembershipByAccount, account_id)
            .await?
        {
            let membership: crate::org::Membership = crate::record_body::from_body(&mirror.body)?;
            let org_side = format!("{}/{account_id}", membership.org_id);
            let found = self
                .inner
                .store
                .get(RecordKind::Membership, &org_side)
                .await?;
            loaded.memberships.push((mirror, found));
        }
        Ok(loaded)
    }

    /// The records of `kind` whose parent is `parent`.
    async fn children(&self, kind: RecordKind, parent: &str) -> Result<Vec<Record>> {
        let query = ListQuery {
            parent: Some(parent.to_owned()),
            ..ListQuery::default()
        };
        Ok(self.inner.store.list(kind, &query).await?)
    }
}
