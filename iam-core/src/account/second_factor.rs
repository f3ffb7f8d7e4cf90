//! TOTP enrolment, confirmation and removal.

use crate::account::{Account, AccountKind};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::{Action, Caller};
use crate::clock::Clock;
use crate::error::{Conflict, Denial, Error, InvalidInput, Result};
use crate::iam::Iam;
use crate::session::login::totp_aad;
use crate::store::Store;
use crate::totp::{self, TotpEnrolment, TotpState, SECRET_BYTES};

impl<S: Store, C: Clock> Iam<S, C> {
    /// Starts TOTP enrolment for a human account: returns the secret and `otpauth://` URI once.
    /// TOTP is required at login only after [`Iam::confirm_totp`]. Enrolling again before
    /// confirmation replaces the pending secret.
    /// Allowed for the account's own session.
    pub async fn enrol_totp(&self, caller: Caller<'_>, account_id: &str) -> Result<TotpEnrolment> {
        self.may(
            caller,
            Action::EnrolTotp {
                account: account_id,
            },
        )?;
        let actor = caller.audit_id();
        let secret = zeroize::Zeroizing::new(self.inner.rng.bytes::<SECRET_BYTES>());
        let sealed =
            self.inner
                .sealer
                .seal(&self.inner.rng, secret.as_slice(), &totp_aad(account_id))?;
        let account = self
            .update_account(account_id, |a, now| {
                if a.kind == AccountKind::System {
                    return Err(InvalidInput::AccountKind("system accounts cannot use TOTP").into());
                }
                if a.totp_required() {
                    return Err(Error::State(Conflict::TotpAlreadyEnabled));
                }
                a.totp = Some(TotpState {
                    sealed_secret: sealed.clone(),
                    confirmed: false,
                    last_step: None,
                });
                Ok(Some((
                    vec![],
                    vec![AuditDraft::new(AuditKind::TotpEnrolled, now)
                        .actor(actor)
                        .account(&a.id)],
                )))
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
        self.may(
            caller,
            Action::EnrolTotp {
                account: account_id,
            },
        )?;
        let actor = caller.audit_id();
        totp::check_format(code)?;
        let sealer = &self.inner.sealer;
        self.update_account(account_id, |a, now| {
            let state = a
                .totp
                .as_mut()
                .ok_or(Error::State(Conflict::TotpNotEnrolled))?;
            if state.confirmed {
                return Err(Error::State(Conflict::TotpAlreadyConfirmed));
            }
            let secret = sealer.open(&state.sealed_secret, &totp_aad(account_id))?;
            let now_secs = u64::try_from(now.as_secs()).unwrap_or(0);
            let step = totp::matching_step(&secret, code, now_secs, state.last_step)
                .ok_or(Denial::BadCredentials)?;
            state.confirmed = true;
            state.last_step = Some(step);
            Ok(Some((
                vec![],
                vec![AuditDraft::new(AuditKind::TotpConfirmed, now)
                    .actor(actor)
                    .account(account_id)],
            )))
        })
        .await
    }

    /// Removes TOTP from an account: its own session with a recent sign-in, or an admin
    /// (recovery).
    pub async fn remove_totp(&self, caller: Caller<'_>, account_id: &str) -> Result<Account> {
        self.may(
            caller,
            Action::RemoveTotp {
                account: account_id,
            },
        )?;
        let actor = caller.audit_id();
        self.update_account(account_id, |a, now| {
            if a.totp.take().is_none() {
                return Ok(None);
            }
            Ok(Some((
                vec![],
                vec![AuditDraft::new(AuditKind::TotpRemoved, now)
                    .actor(actor)
                    .account(&a.id)],
            )))
        })
        .await
    }
}
