//! The device authorization grant (RFC 8628): starting a device authorization, and the
//! logged-in user approving or denying it by user code. Rules:
//! [`crate::oauth::rules::device`] (the poll is in [`super::token`]).

use super::settle;
use crate::authz::Action;
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error, Result};
use crate::iam::Iam;
use crate::oauth::device::{new_user_code, normalize_user_code, StoredDevice};
use crate::oauth::grant::{consent_id, OAuthConsent};
use crate::oauth::rules::clients::Authenticated;
use crate::oauth::rules::device::{
    decide_device_authorization, decide_settle_device, device_prompt, pending_device, DeviceCodes,
    Settler,
};
use crate::oauth::{ClientAuth, DeviceAuthorizationResponse, DevicePrompt, OAuthError};
use crate::plan::Plan;
use crate::session::Session;
use crate::store::{Record, RecordKind, Store, StoreError, ThrottleWrite, Write};
use crate::token::Principal;

/// Attempts at drawing a user code not already in use.
const USER_CODE_ATTEMPTS: usize = 8;

impl<S: Store, C: Clock> Iam<S, C> {
    /// Starts a device authorization (RFC 8628 §3.1-§3.2) for the client authenticated by
    /// `auth`, which must be allowed the device grant.
    pub async fn device_authorization(
        &self,
        auth: &ClientAuth,
        scope: Option<&str>,
        resource: &[String],
    ) -> std::result::Result<DeviceAuthorizationResponse, OAuthError> {
        let now = self.now();
        let presented = self.presented(auth);
        let cfg = &self.inner.config.oauth;
        settle(
            self.retrying(|| async {
                let Authenticated { client, spend } =
                    match self.authenticate(&presented, now).await? {
                        Ok(c) => c,
                        Err(e) => return Ok(Err(e)),
                    };
                for _ in 0..USER_CODE_ATTEMPTS {
                    let codes = DeviceCodes {
                        device: self.new_secret(),
                        user_code: new_user_code(&self.inner.rng),
                    };
                    let mut plan =
                        decide_device_authorization(&client, (scope, resource), codes, cfg, now)?;
                    plan.commit.writes.extend(spend.clone().map(Write::Insert));
                    match plan.apply(&self.inner.store).await {
                        Err(Error::Store(StoreError::Duplicate {
                            kind: RecordKind::ClientAssertion,
                        })) => return Ok(Err(OAuthError::invalid_client())),
                        Err(Error::Store(StoreError::Duplicate { .. })) => {}
                        other => return other,
                    }
                }
                Ok(Err(OAuthError::server_error()))
            })
            .await,
        )
    }

    /// What the verification page shows the logged-in `user` for a user code they typed (any
    /// case, with or without the dash). Unknown, expired or settled codes are
    /// [`Error::NotFound`]; each such miss counts towards the user's back-off, so user codes
    /// cannot be guessed at speed (RFC 8628 §5.1).
    pub async fn device_prompt(&self, user: &Principal, user_code: &str) -> Result<DevicePrompt> {
        let now = self.now();
        self.check(user.into(), Action::ApproveDelegation, now)?;
        let (_, device) = self.pending_device(user, user_code, now).await?;
        let client = self.load_client(&device.client_id).await?.map(|(_, c)| c);
        let registered_by = match &client {
            Some(c) => self.client_registrar(&c.info).await?,
            None => None,
        };
        device_prompt(device, client, registered_by)
    }

    /// The logged-in `user` approves the device authorization with `user_code`; the device's
    /// next poll receives tokens. Approval also records the user's consent to the client.
    pub async fn approve_device(&self, user: &Principal, user_code: &str) -> Result<()> {
        self.settle_device(user, user_code, true).await
    }

    /// The logged-in `user` denies the device authorization with `user_code`; the device's
    /// next poll answers `access_denied`.
    pub async fn deny_device(&self, user: &Principal, user_code: &str) -> Result<()> {
        self.settle_device(user, user_code, false).await
    }

    /// The pending device authorization with `user_code`, under the user's guessing back-off:
    /// the lookup is reserved as a miss first, and taken back when it is not one.
    async fn pending_device(
        &self,
        user: &Principal,
        user_code: &str,
        now: Timestamp,
    ) -> Result<(Record, StoredDevice)> {
        let key = format!("device:{}", user.account_id);
        self.reserve_guess(&key, now).await?;
        let found = match self.find_device(user_code).await {
            Ok(record) => pending_device(record, now),
            Err(e) => Err(e),
        };
        if !matches!(found, Err(Error::NotFound(_))) {
            self.refund_attempt(&key).await?;
        }
        found
    }

    /// The device authorization whose user code is `user_code` as typed, if any.
    async fn find_device(&self, user_code: &str) -> Result<Option<Record>> {
        match normalize_user_code(user_code) {
            Some(code) => Ok(self.inner.store.find(RecordKind::DeviceCode, &code).await?),
            None => Ok(None),
        }
    }

    /// Reserves one guess under `key` at `now`, counted as a miss up front;
    /// [`Denial::Throttled`] while the back-off asks to wait.
    async fn reserve_guess(&self, key: &str, now: Timestamp) -> Result<()> {
        let reserve = Plan::new(()).throttle(ThrottleWrite::Reserve {
            key: key.to_owned(),
            at: now,
            policy: self.inner.config.throttle.clone(),
        });
        match reserve.apply(&self.inner.store).await {
            Err(Error::Store(StoreError::Throttled { retry_after })) => {
                Err(Denial::Throttled { retry_after }.into())
            }
            other => other,
        }
    }

    async fn settle_device(&self, user: &Principal, user_code: &str, approve: bool) -> Result<()> {
        let now = self.now();
        self.check(user.into(), Action::ApproveDelegation, now)?;
        self.retrying(|| async {
            let device = self.pending_device(user, user_code, now).await?;
            let session = self
                .load::<Session>(RecordKind::Session, &user.session_id)
                .await?;
            let consent = if approve {
                self.load::<OAuthConsent>(
                    RecordKind::OAuthConsent,
                    &consent_id(&user.account_id, &device.1.client_id),
                )
                .await?
            } else {
                None
            };
            let settler = Settler {
                user,
                session,
                consent,
            };
            let plan = decide_settle_device(device, settler, approve, now)?;
            plan.apply(&self.inner.store).await
        })
        .await
    }
}
