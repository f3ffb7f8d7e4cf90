//! The device authorization grant (RFC 8628): starting a device authorization, and the
//! logged-in user approving or denying it by user code.

use std::collections::BTreeSet;

use super::settle;
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::Action;
use crate::clock::Clock;
use crate::error::{Denial, Error, Missing, Result};
use crate::iam::Iam;
use crate::oauth::device::{
    format_user_code, new_user_code, normalize_user_code, DeviceApproval, DeviceStatus,
    StoredDevice,
};
use crate::oauth::grant::{consent_id, OAuthConsent};
use crate::oauth::response::form_encode;
use crate::oauth::scope::{decide_resources, decide_scope, format_scope};
use crate::oauth::{
    ClientAuth, DeviceAuthorizationResponse, DevicePrompt, GrantType, OAuthError, OAuthErrorCode,
};
use crate::session::Session;
use crate::store::{Commit, Record, RecordKind, Store, StoreError, Write};
use crate::token::{new_opaque_token, Principal};

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
        let (_, client) = settle(self.authenticate_client(auth).await)?;
        if !client.info.allows(GrantType::DeviceCode) {
            return Err(OAuthError::code(OAuthErrorCode::UnauthorizedClient));
        }
        let scopes = decide_scope(scope, &client.info.scopes, &client.info.scopes)?;
        let resources = decide_resources(resource, &client.info.resources)?;
        let cfg = &self.inner.config.oauth;
        for _ in 0..USER_CODE_ATTEMPTS {
            let now = self.now();
            let device_code = new_opaque_token(&self.inner.rng);
            let user_code = new_user_code(&self.inner.rng);
            let stored = StoredDevice {
                client_id: client.info.id.clone(),
                user_code: user_code.clone(),
                scopes: scopes.clone(),
                resources: resources.clone(),
                created_at: now,
                expires_at: now.plus(cfg.device_code_ttl),
                interval_secs: cfg.device_poll_interval.as_secs().max(1),
                last_poll: None,
                status: DeviceStatus::Pending,
            };
            let record = Record {
                kind: RecordKind::DeviceCode,
                id: self.inner.token_hasher.hash(device_code.expose()),
                version: 0,
                parent: Some(client.info.id.clone()),
                lookup: Some(user_code.clone()),
                // Kept past expiry so late polls still hear `expired_token`, not `invalid_grant`.
                expires_at: Some(stored.expires_at.plus(cfg.device_code_ttl)),
                body: crate::json::to_body(&stored).map_err(OAuthError::from)?,
            };
            match self
                .inner
                .store
                .commit(Commit {
                    writes: vec![Write::Insert(record)],
                    ..Commit::default()
                })
                .await
            {
                Ok(()) => {
                    let shown = format_user_code(&user_code);
                    let sep = if cfg.verification_uri.contains('?') {
                        '&'
                    } else {
                        '?'
                    };
                    return Ok(DeviceAuthorizationResponse {
                        device_code,
                        verification_uri_complete: format!(
                            "{}{sep}user_code={}",
                            cfg.verification_uri,
                            form_encode(&shown)
                        ),
                        user_code: shown,
                        verification_uri: cfg.verification_uri.clone(),
                        expires_in: cfg.device_code_ttl.as_secs(),
                        interval: stored.interval_secs,
                    });
                }
                Err(StoreError::Duplicate { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(OAuthError::server_error())
    }

    /// What the verification page shows the logged-in `user` for a user code they typed (any
    /// case, with or without the dash). Unknown, expired or settled codes are
    /// [`Error::NotFound`]; each such miss counts towards the user's back-off, so user codes
    /// cannot be guessed at speed (RFC 8628 §5.1).
    pub async fn device_prompt(&self, user: &Principal, user_code: &str) -> Result<DevicePrompt> {
        self.may(user.into(), Action::ApproveDelegation)?;
        let (_, device) = self.pending_device(user, user_code).await?;
        let (_, client) = self
            .load_client(&device.client_id)
            .await?
            .ok_or(Error::NotFound(Missing::DeviceAuthorization))?;
        let registered_by = self.client_registrar(&client.info).await?;
        Ok(DevicePrompt {
            user_code: format_user_code(&device.user_code),
            client_id: client.info.id,
            client_name: client.info.name,
            scopes: device.scopes,
            registered_by,
        })
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
    ) -> Result<(Record, StoredDevice)> {
        let key = format!("device:{}", user.account_id);
        self.reserve_attempt(&key).await?;
        let found = self.find_pending_device(user_code).await;
        if !matches!(found, Err(Error::NotFound(_))) {
            self.refund_attempt(&key).await?;
        }
        found
    }

    async fn find_pending_device(&self, user_code: &str) -> Result<(Record, StoredDevice)> {
        let code =
            normalize_user_code(user_code).ok_or(Error::NotFound(Missing::DeviceAuthorization))?;
        let record = self
            .inner
            .store
            .find(RecordKind::DeviceCode, &code)
            .await?
            .ok_or(Error::NotFound(Missing::DeviceAuthorization))?;
        let device: StoredDevice = crate::json::from_body(&record.body)?;
        if device.status != DeviceStatus::Pending || self.now() >= device.expires_at {
            return Err(Error::NotFound(Missing::DeviceAuthorization));
        }
        Ok((record, device))
    }

    async fn settle_device(&self, user: &Principal, user_code: &str, approve: bool) -> Result<()> {
        self.may(user.into(), Action::ApproveDelegation)?;
        self.retrying(|| async {
            let (record, mut device) = self.pending_device(user, user_code).await?;
            let (_, session) = self
                .load::<Session>(RecordKind::Session, &user.session_id)
                .await?
                .ok_or(Denial::SessionRevoked)?;
            let now = self.now();
            if session.account_id != user.account_id || !session.is_live(now) {
                return Err(Denial::SessionRevoked.into());
            }
            let mut commit = Commit::default();
            let kind = if approve {
                device.status = DeviceStatus::Approved(DeviceApproval {
                    account_id: user.account_id.clone(),
                    session_id: session.id.clone(),
                    auth_time: session.auth_time,
                    amr: session.amr.clone(),
                });
                self.widen_consent(
                    &mut commit,
                    &user.account_id,
                    &device.client_id,
                    &device.scopes,
                )
                .await?;
                AuditKind::OAuthDeviceApproved
            } else {
                device.status = DeviceStatus::Denied;
                AuditKind::OAuthDeviceDenied
            };
            commit.writes.push(Write::Update {
                record: Record {
                    body: crate::json::to_body(&device)?,
                    ..record.clone()
                },
                expected_version: record.version,
            });
            commit.audit.push(
                AuditDraft::new(kind, now)
                    .actor(Some(&user.account_id))
                    .account(&user.account_id)
                    .session(&session.id)
                    .detail("client_id", device.client_id.clone())
                    .detail("scope", format_scope(&device.scopes)),
            );
            self.inner.store.commit(commit).await?;
            Ok(())
        })
        .await
    }

    /// Adds to `commit` the consent of `account_id` to `client_id` for `scopes`, widening
    /// an existing consent.
    pub(crate) async fn widen_consent(
        &self,
        commit: &mut Commit,
        account_id: &str,
        client_id: &str,
        scopes: &BTreeSet<String>,
    ) -> Result<()> {
        let id = consent_id(account_id, client_id);
        let now = self.now();
        let existing = self
            .load::<OAuthConsent>(RecordKind::OAuthConsent, &id)
            .await?;
        let (write, consent) = if let Some((record, mut c)) = existing {
            c.scopes.extend(scopes.iter().cloned());
            c.updated_at = now;
            let body = crate::json::to_body(&c)?;
            let write = Write::Update {
                record: Record {
                    body,
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
                id,
                version: 0,
                parent: Some(account_id.to_owned()),
                lookup: None,
                expires_at: None,
                body: crate::json::to_body(&c)?,
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
}
