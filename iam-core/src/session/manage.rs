//! Refresh-token rotation with reuse detection, session listing and revocation.

use crate::account::StoredAccount;
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error, Missing, Result};
use crate::iam::Iam;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::session::login::session_record;
use crate::session::{RefreshState, Session, StoredRefresh};
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, Write};
use crate::token::{is_opaque_token_shape, Principal, TokenPair, MAX_OPAQUE_TOKEN_LEN};

/// The revocation that kills every token of `session`.
fn session_revocation(session: &Session) -> RevocationChange {
    RevocationChange::Put(Revocation {
        subject: RevokedSubject::Grant,
        id: session.id.clone(),
        issued_before: Timestamp::MAX,
        until: session.expires_at,
    })
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Exchanges a refresh token for a new pair. The presented token dies in the same atomic
    /// step; presenting it again revokes the whole session ([`Denial::RefreshTokenReused`]).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        if refresh_token.len() > MAX_OPAQUE_TOKEN_LEN || !is_opaque_token_shape(refresh_token) {
            return Err(Denial::RefreshTokenInvalid.into());
        }
        let hash = self.inner.token_hasher.hash(refresh_token);
        self.retrying(|| self.try_refresh(&hash)).await
    }

    async fn try_refresh(&self, hash: &str) -> Result<TokenPair> {
        let (token_record, token) = self
            .load::<StoredRefresh>(RecordKind::RefreshToken, hash)
            .await?
            .ok_or(Denial::RefreshTokenInvalid)?;
        let (session_record_read, mut session) = self
            .load::<Session>(RecordKind::Session, &token.session_id)
            .await?
            .ok_or(Denial::RefreshTokenInvalid)?;
        let now = self.now();
        if let RefreshState::Rotated { .. } = token.state {
            let audit = AuditDraft::new(AuditKind::RefreshReuseDetected, now)
                .account(&session.account_id)
                .session(&session.id);
            self.revoke_session_with(session_record_read, session, now, audit)
                .await?;
            return Err(Denial::RefreshTokenReused.into());
        }
        if session.revoked_at.is_some() {
            return Err(Denial::SessionRevoked.into());
        }
        if now >= session.expires_at {
            return Err(Denial::SessionExpired.into());
        }
        let (_, account) = self
            .load::<StoredAccount>(RecordKind::Account, &session.account_id)
            .await?
            .ok_or(Denial::RefreshTokenInvalid)?;
        if account.disabled {
            return Err(Denial::AccountDisabled.into());
        }
        session.last_refreshed_at = Some(now);
        let (pair, new_record) = self.issue_pair(&account, &session, now)?;
        let rotated = StoredRefresh {
            state: RefreshState::Rotated { at: now },
            ..token
        };
        let writes = vec![
            Write::Update {
                record: Record {
                    body: crate::json::to_body(&rotated)?,
                    ..token_record.clone()
                },
                expected_version: token_record.version,
            },
            Write::Insert(new_record),
            Write::Update {
                record: session_record(&session)?,
                expected_version: session_record_read.version,
            },
        ];
        let audit = AuditDraft::new(AuditKind::TokenRefreshed, now)
            .actor(Some(&session.account_id))
            .account(&session.account_id)
            .session(&session.id);
        self.inner
            .store
            .commit(Commit {
                writes,
                audit: vec![audit],
                ..Commit::default()
            })
            .await?;
        Ok(pair)
    }

    /// Revokes `session` (read as `record`) and records `audit`; if it is already revoked, only records `audit`.
    async fn revoke_session_with(
        &self,
        record: Record,
        mut session: Session,
        now: Timestamp,
        audit: AuditDraft,
    ) -> Result<()> {
        let mut commit = Commit {
            audit: vec![audit],
            ..Commit::default()
        };
        if session.revoked_at.is_none() {
            session.revoked_at = Some(now);
            commit.writes.push(Write::Update {
                record: session_record(&session)?,
                expected_version: record.version,
            });
            commit.revocations.push(session_revocation(&session));
        }
        Ok(self.inner.store.commit(commit).await?)
    }

    /// The session with `id`.
    pub async fn session(&self, id: &str) -> Result<Session> {
        Ok(self
            .load::<Session>(RecordKind::Session, id)
            .await?
            .ok_or(Error::NotFound(Missing::Session))?
            .1)
    }

    /// An account's sessions, newest first (revoked and expired ones included until pruned);
    /// for the account itself or an admin.
    pub async fn list_sessions(
        &self,
        caller: Caller<'_>,
        account_id: &str,
    ) -> Result<Vec<Session>> {
        self.may(
            caller,
            Action::ReadAccount {
                account: account_id,
            },
        )?;
        let q = ListQuery {
            parent: Some(account_id.to_owned()),
            ..ListQuery::default()
        };
        let records = self.inner.store.list(RecordKind::Session, &q).await?;
        let mut sessions: Vec<Session> = records
            .iter()
            .map(|r| crate::json::from_body(&r.body))
            .collect::<Result<_>>()?;
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(sessions)
    }

    /// Revokes one session: its refresh token stops working and its access tokens stop verifying at once.
    /// Allowed for the account's own session and for admins; another account's session is
    /// [`Error::NotFound`] to anyone else.
    pub async fn revoke_session(&self, caller: Caller<'_>, session_id: &str) -> Result<()> {
        let actor = caller.audit_id();
        self.retrying(|| async {
            let (record, session) = self
                .load::<Session>(RecordKind::Session, session_id)
                .await?
                .ok_or(Error::NotFound(Missing::Session))?;
            let action = Action::RevokeCredentials {
                account: &session.account_id,
            };
            match self.may(caller, action) {
                Err(Error::Denied(Denial::NotPermitted)) => {
                    return Err(Error::NotFound(Missing::Session))
                }
                other => other?,
            }
            if session.revoked_at.is_some() {
                return Ok(());
            }
            let now = self.now();
            let audit = AuditDraft::new(AuditKind::SessionRevoked, now)
                .actor(actor)
                .account(&session.account_id)
                .session(&session.id);
            self.revoke_session_with(record, session, now, audit).await
        })
        .await
    }

    /// Ends the session the principal's token belongs to (a session token).
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        self.revoke_session(principal.into(), &principal.session_id)
            .await
    }

    /// Signs an account out everywhere (its own session, or an admin): revokes every session,
    /// voids every access token it holds, and withdraws what it delegated (OAuth grants and
    /// refresh tokens, client tokens acting for it). Returns how many live sessions were revoked.
    pub async fn revoke_all_sessions(&self, caller: Caller<'_>, account_id: &str) -> Result<usize> {
        self.may(
            caller,
            Action::RevokeCredentials {
                account: account_id,
            },
        )?;
        let actor = caller.audit_id();
        self.retrying(|| async {
            let (_, account) = self.stored_account(account_id).await?;
            let now = self.now();
            let q = ListQuery {
                parent: Some(account_id.to_owned()),
                ..ListQuery::default()
            };
            let mut commit = Commit::default();
            for record in self.inner.store.list(RecordKind::Session, &q).await? {
                let mut session: Session = crate::json::from_body(&record.body)?;
                if !session.is_live(now) {
                    continue;
                }
                session.revoked_at = Some(now);
                commit.writes.push(Write::Update {
                    record: session_record(&session)?,
                    expected_version: record.version,
                });
                commit.revocations.push(session_revocation(&session));
            }
            let revoked = commit.writes.len();
            if !account.disabled {
                commit
                    .revocations
                    .push(self.account_cut_off(account_id, now));
            }
            commit
                .revocations
                .push(self.delegation_cut_off(account_id, now));
            commit.audit.push(
                AuditDraft::new(AuditKind::AllSessionsRevoked, now)
                    .actor(actor)
                    .account(account_id)
                    .detail("sessions", revoked.to_string()),
            );
            self.inner.store.commit(commit).await?;
            Ok(revoked)
        })
        .await
    }
}
