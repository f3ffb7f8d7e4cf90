//! Opening and ending elevations, and which roles an account may elevate to.

use std::time::Duration;

use crate::account::Account;
use crate::account::RoleSet;
use crate::authz::{Action, Caller};
use crate::clock::Clock;
use crate::config::StepUp;
use crate::error::Result;
use crate::iam::Iam;
use crate::secret::SecretString;
use crate::session::Session;
use crate::store::{RecordKind, Store};
use crate::token::Principal;

use super::rules::{self, Elevated, ElevationAsk};
use super::{ElevationOutcome, StepUpProof};

impl<S: Store, C: Clock> Iam<S, C> {
    /// Makes `role` elevatable for an account (admins): held, but off until opened per session.
    pub async fn grant_elevatable_role(
        &self,
        caller: Caller<'_>,
        account_id: &str,
        role: &str,
    ) -> Result<Account> {
        self.change_role(caller, account_id, role, RoleSet::Elevatable, true)
            .await
    }

    /// Takes an elevatable role away (admins); tokens carrying it (open elevations) stop
    /// verifying at once.
    pub async fn revoke_elevatable_role(
        &self,
        caller: Caller<'_>,
        account_id: &str,
        role: &str,
    ) -> Result<Account> {
        self.change_role(caller, account_id, role, RoleSet::Elevatable, false)
            .await
    }

    /// Opens `role` for the principal's session for `duration` (the role's maximum when `None`).
    ///
    /// The proof must satisfy the role's [`crate::config::ElevationPolicy`]; failed proofs count
    /// towards a back-off like failed logins. Roles with an approver role return
    /// [`ElevationOutcome::Pending`]; the role opens when another account approves.
    pub async fn elevate(
        &self,
        principal: &Principal,
        role: &str,
        duration: Option<Duration>,
        proof: &StepUpProof,
    ) -> Result<ElevationOutcome> {
        let now = self.now();
        self.check(principal.into(), Action::Elevate, now)?;
        let policy = self.inner.config.elevation_policy(role).clone();
        let duration = rules::elevation_duration(duration, &policy)?;
        let (_, account) = self.stored_account(&principal.account_id).await?;
        rules::may_elevate(&account, role)?;
        // A role that asks for no proof has nothing to guess: it neither counts nor clears.
        let proved = policy.step_up != StepUp::None;
        if proved {
            self.reserve_step_up_at(&account.id, now).await?;
        }
        let totp_step = match self
            .check_step_up_at(principal, &account, policy.step_up, proof, now)
            .await
        {
            Ok(checked) => checked.totp_step,
            Err(e) => {
                let audit =
                    rules::elevation_step_up_failed(&account.id, &principal.session_id, role, now);
                self.record_step_up_failure(audit).await?;
                return Err(e);
            }
        };
        let approval = policy.approver_role.is_some().then(|| {
            (
                self.inner.rng.id("elr_"),
                self.inner.config.elevation_request_ttl,
            )
        });
        let ask = ElevationAsk {
            role,
            duration,
            proved,
            totp_step,
            approval,
        };
        self.retrying(|| self.try_elevate(principal, &ask, now))
            .await
    }

    /// One attempt at [`Self::elevate`] once the proof passed: decides on the account's
    /// elevatable roles and the session as read now (a retry re-reads them), and commits
    /// against those versions.
    async fn try_elevate(
        &self,
        principal: &Principal,
        ask: &ElevationAsk<'_>,
        now: crate::clock::Timestamp,
    ) -> Result<ElevationOutcome> {
        let account = self.stored_account(&principal.account_id).await?;
        let session = self
            .load::<Session>(RecordKind::Session, &principal.session_id)
            .await?;
        let plan = rules::elevate(&account, session.as_ref(), ask, now)?;
        let outcome = match plan.output {
            Elevated::Pending {
                request_id,
                expires_at,
            } => ElevationOutcome::Pending {
                request_id,
                expires_at,
            },
            Elevated::Open { elevation, session } => {
                let (access_token, _) = self.session_access_token(&account.1, &session, now)?;
                ElevationOutcome::Active {
                    elevation,
                    access_token: SecretString::new(access_token),
                }
            }
        };
        self.inner.store.commit(plan.commit).await?;
        Ok(outcome)
    }

    /// Ends an open elevation of the principal's session early. Access tokens the session holds
    /// stop verifying at once; the next refresh yields one without the role.
    pub async fn end_elevation(&self, principal: &Principal, role: &str) -> Result<()> {
        let now = self.now();
        self.check(principal.into(), Action::Elevate, now)?;
        self.retrying(|| async {
            let session = self
                .load::<Session>(RecordKind::Session, &principal.session_id)
                .await?;
            let plan = rules::end_elevation(
                &principal.account_id,
                session.as_ref(),
                role,
                self.inner.revocations.cutoff(now),
                self.inner.config.access_token_ttl,
                now,
            )?;
            if let Some(plan) = plan {
                self.inner.store.commit(plan.commit).await?;
            }
            Ok(())
        })
        .await
    }
}
