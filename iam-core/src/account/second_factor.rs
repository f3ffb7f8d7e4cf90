//! TOTP enrolment, confirmation and removal.

use crate::account::manage::acting;
use crate::account::totp_aad;
use crate::account::{rules, Account, StoredAccount};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::Result;
use crate::iam::Iam;
use crate::store::Store;
use crate::totp::{self, TotpEnrolment, SECRET_BYTES};

impl<S: Store, C: Clock> Iam<S, C> {
    /// Starts TOTP enrolment for a human account: returns the secret and `otpauth://` URI once.
    /// TOTP is required at login only after [`Iam::confirm_totp`]. Enrolling again before
    /// confirmation replaces the pending secret.
    /// Allowed for the account's own session.
    pub async fn enrol_totp(&self, caller: Caller<'_>, account_id: &str) -> Result<TotpEnrolment> {
        let now = self.now();
        self.check(
            caller,
            Action::EnrolTotp {
                account: account_id,
            },
            now,
        )?;
        let secret = zeroize::Zeroizing::new(self.inner.rng.bytes::<SECRET_BYTES>());
        let sealed =
            self.inner
                .sealer
                .seal(&self.inner.rng, secret.as_slice(), &totp_aad(account_id))?;
        let account = self
            .decide_on_account(account_id, |read, account| {
                rules::enrol_totp(
                    read,
                    account,
                    sealed.clone(),
                    acting(self, caller.audit_id(), now),
                )
            })
            .await?;
        totp::enrolment(
            secret.as_slice(),
            &self.inner.config.totp_issuer,
            &account.username,
        )
    }

    /// Confirms a pending enrolment with a current code; from then on login requires a code.
    pub async fn confirm_totp(
        &self,
        caller: Caller<'_>,
        account_id: &str,
        code: &str,
    ) -> Result<Account> {
        let now = self.now();
        self.check(
            caller,
            Action::EnrolTotp {
                account: account_id,
            },
            now,
        )?;
        totp::check_format(code)?;
        self.decide_on_account(account_id, |read, account| {
            let step = self.pending_totp_step(&account, code, now)?;
            rules::confirm_totp(read, account, step, acting(self, caller.audit_id(), now))
        })
        .await
    }

    /// The time step `code` matches at `now` under the account's pending (unconfirmed) TOTP
    /// secret; `None` when it matches none or no enrolment is pending.
    fn pending_totp_step(
        &self,
        account: &StoredAccount,
        code: &str,
        now: Timestamp,
    ) -> Result<Option<u64>> {
        let Some(state) = account.totp.as_ref().filter(|t| !t.confirmed) else {
            return Ok(None);
        };
        let secret = self
            .inner
            .sealer
            .open(&state.sealed_secret, &totp_aad(&account.id))?;
        let now_secs = u64::try_from(now.as_secs()).unwrap_or(0);
        Ok(totp::matching_step(
            &secret,
            code,
            now_secs,
            state.last_step,
        ))
    }

    /// Removes TOTP from an account: its own session with a recent sign-in, or an admin
    /// (recovery).
    pub async fn remove_totp(&self, caller: Caller<'_>, account_id: &str) -> Result<Account> {
        let now = self.now();
        self.check(
            caller,
            Action::RemoveTotp {
                account: account_id,
            },
            now,
        )?;
        self.decide_on_account(account_id, |read, account| {
            rules::remove_totp(read, account, acting(self, caller.audit_id(), now))
        })
        .await
    }
}
