//! Fresh proofs ("step-up"): checking a password and TOTP code again, with the back-off that
//! failed proofs earn, and re-authenticating a session with them.

use crate::account::totp_aad;
use crate::account::StoredAccount;
use crate::audit::AuditDraft;
use crate::authz::Action;
use crate::clock::{Clock, Timestamp};
use crate::config::StepUp;
use crate::error::{Denial, Result};
use crate::iam::Iam;
use crate::plan::Plan;
use crate::secret::SecretString;
use crate::session::Session;
use crate::store::{RecordKind, Store};
use crate::token::Principal;

use super::rules::{self, step_up_throttle_key, StepUpChecked};
use super::StepUpProof;

impl<S: Store, C: Clock> Iam<S, C> {
    /// Proves the holder of the principal's session again: the password, and a TOTP code when
    /// the account has TOTP on. On success the session's sign-in time becomes now, so actions
    /// that need a recent sign-in ([`Denial::RecentAuthenticationRequired`]) work again, and a
    /// fresh access token for the session is returned. Failed proofs count towards the step-up
    /// back-off.
    pub async fn reauthenticate(
        &self,
        principal: &Principal,
        proof: &StepUpProof,
    ) -> Result<SecretString> {
        let now = self.now();
        self.check(principal.into(), Action::Elevate, now)?;
        let (_, account) = self.stored_account(&principal.account_id).await?;
        let step_up = rules::reauthentication_step_up(&account);
        self.reserve_step_up_at(&account.id, now).await?;
        let checked = match self
            .check_step_up_at(principal, &account, step_up, proof, now)
            .await
        {
            Ok(checked) => checked,
            Err(e) => {
                let audit = rules::reauthentication_failed(&account.id, &principal.session_id, now);
                self.record_step_up_failure(audit).await?;
                return Err(e);
            }
        };
        self.retrying(|| async {
            let account = self.stored_account(&principal.account_id).await?;
            let session = self
                .load::<Session>(RecordKind::Session, &principal.session_id)
                .await?;
            let plan = rules::reauthenticate(&account, session.as_ref(), &checked, now)?;
            let (access_token, _) = self.session_access_token(&account.1, &plan.output, now)?;
            self.inner.store.commit(plan.commit).await?;
            Ok(SecretString::new(access_token))
        })
        .await
    }

    /// Reserves one step-up attempt of `account_id` (elevation proofs, password changes) at
    /// `now`, before its proof is checked; [`Denial::Throttled`] while failed step-ups call for
    /// a back-off. The attempt counts as failed until [`Self::end_step_up_back_off`] or
    /// [`Self::refund_step_up`] settles it.
    pub(crate) async fn reserve_step_up_at(&self, account_id: &str, now: Timestamp) -> Result<()> {
        self.reserve_attempt_at(&step_up_throttle_key(account_id), now)
            .await
    }

    /// Takes back a reserved step-up attempt whose proof could not be checked.
    pub(crate) async fn refund_step_up(&self, account_id: &str) -> Result<()> {
        self.refund_attempt(&step_up_throttle_key(account_id)).await
    }

    /// Clears the step-up back-off of `account_id` after a proof passed.
    pub(crate) async fn end_step_up_back_off(&self, account_id: &str) -> Result<()> {
        self.reset_attempts(&step_up_throttle_key(account_id)).await
    }

    /// Audits a failed step-up of `account_id` (its reservation already counted it).
    pub(crate) async fn record_step_up_failure(&self, audit: AuditDraft) -> Result<()> {
        Ok(self
            .inner
            .store
            .commit(Plan::new(()).audit(audit).commit)
            .await?)
    }

    /// Checks the proof a step-up policy asks for, at `now` (the TOTP code is checked against
    /// the time step of `now`); returns what it proved. These are the costly checks (Argon2id,
    /// the TOTP code, a passkey's signature) whose result the elevation rules take as input. A
    /// passkey answer, when given, satisfies any policy on its own (its use is committed here:
    /// its ceremony is single-use).
    pub(crate) async fn check_step_up_at(
        &self,
        principal: &Principal,
        account: &StoredAccount,
        step_up: StepUp,
        proof: &StepUpProof,
        now: Timestamp,
    ) -> Result<StepUpChecked> {
        if let Some(assertion) = &proof.passkey {
            let amr = self
                .check_passkey_step_up(principal, assertion, now)
                .await?;
            return Ok(StepUpChecked {
                totp_step: None,
                passkey_amr: Some(amr),
            });
        }
        let totp_step = self
            .check_password_step_up(account, step_up, proof, now)
            .await?;
        Ok(StepUpChecked {
            totp_step,
            passkey_amr: None,
        })
    }

    /// The password and TOTP part of [`Self::check_step_up_at`]: returns the TOTP step used.
    async fn check_password_step_up(
        &self,
        account: &StoredAccount,
        step_up: StepUp,
        proof: &StepUpProof,
        now: Timestamp,
    ) -> Result<Option<u64>> {
        let (want_password, want_totp) = rules::wanted_proofs(step_up);
        if want_password {
            let Some(password) = proof.password.as_ref() else {
                return Err(Denial::StepUpRequired.into());
            };
            let v = self
                .inner
                .passwords
                .verify(password, account.password_hash.as_deref())
                .await?;
            if !v.matched {
                return Err(Denial::BadCredentials.into());
            }
        }
        if !want_totp {
            return Ok(None);
        }
        let Some(state) = account.totp.as_ref().filter(|_| account.totp_required()) else {
            // The policy asks for a factor this account does not have.
            return Err(Denial::StepUpRequired.into());
        };
        let Some(code) = proof.totp_code.as_deref() else {
            return Err(Denial::StepUpRequired.into());
        };
        let secret = self
            .inner
            .sealer
            .open(&state.sealed_secret, &totp_aad(&account.id))?;
        let now_secs = u64::try_from(now.as_secs()).unwrap_or(0);
        crate::totp::matching_step(&secret, code, now_secs, state.last_step)
            .map(Some)
            .ok_or_else(|| Denial::BadCredentials.into())
    }
}
