//! Refresh-token rotation with reuse detection, session listing and revocation.

use crate::account::manage::acting;
use crate::account::StoredAccount;
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error, Missing, Result};
use crate::iam::Iam;
use crate::plan::Plan;
use crate::session::rules::{self, CutOffs};
use crate::session::{Session, StoredRefresh};
use crate::store::{Commit, ListQuery, RecordKind, Store};
use crate::token::{is_opaque_token_shape, Principal, TokenPair, MAX_OPAQUE_TOKEN_LEN};

impl<S: Store, C: Clock> Iam<S, C> {
    /// Exchanges a refresh token for a new pair. The presented token dies in the same atomic
    /// step; presenting it again revokes the whole session ([`Denial::RefreshTokenReused`]).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        if refresh_token.len() > MAX_OPAQUE_TOKEN_LEN || !is_opaque_token_shape(refresh_token) {
            return Err(Denial::RefreshTokenInvalid.into());
        }
        let now = self.now();
        let hash = self.inner.token_hasher.hash(refresh_token);
        self.retrying(|| self.try_refresh(&hash, now)).await
    }

    /// One refresh at `now` of the token whose keyed hash is `hash`.
    async fn try_refresh(&self, hash: &str, now: Timestamp) -> Result<TokenPair> {
        let token = self
            .load::<StoredRefresh>(RecordKind::RefreshToken, hash)
            .await?
            .ok_or(Denial::RefreshTokenInvalid)?;
        let session = self
            .load::<Session>(RecordKind::Session, &token.1.session_id)
            .await?
            .ok_or(Denial::RefreshTokenInvalid)?;
        let account = self
            .load::<StoredAccount>(RecordKind::Account, &session.1.account_id)
            .await?;
        let (refresh_token, refresh_hash) = self.new_refresh_token();
        let ending = session.1.revoked_at.is_none().then(|| session.1.id.clone());
        let mut plan = rules::decide_refresh(token, session, account, refresh_hash, now)?;
        if let (Some(id), Err(Denial::RefreshTokenReused | Denial::SessionRevoked)) =
            (&ending, &plan.output)
        {
            // Reuse, or a sign-out everywhere the session's record did not show yet, revokes
            // the session: its clients are logged out too.
            plan = self.with_logouts(plan, &[id], now).await?;
        }
        let Plan { commit, output } = plan;
        let (account, session) = match output {
            Ok(granted) => granted,
            Err(denial) => {
                self.commit_unless_empty(commit).await?;
                return Err(denial.into());
            }
        };
        let pair = self.token_pair(&account, &session, refresh_token, now)?;
        self.inner.store.commit(commit).await?;
        Ok(pair)
    }

    /// Applies `commit` unless it changes nothing (a denial, a session already revoked).
    async fn commit_unless_empty(&self, commit: Commit) -> Result<()> {
        if commit != Commit::default() {
            self.inner.store.commit(commit).await?;
        }
        Ok(())
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
            .map(|r| crate::record_body::from_body(&r.body))
            .collect::<Result<_>>()?;
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(sessions)
    }

    /// Revokes one session: its refresh token stops working and its access tokens stop verifying at once.
    /// Allowed for the account's own session and for admins; another account's session is
    /// [`Error::NotFound`] to anyone else.
    pub async fn revoke_session(&self, caller: Caller<'_>, session_id: &str) -> Result<()> {
        let now = self.now();
        let actor = caller.audit_id();
        self.retrying(|| async {
            let (record, session) = self
                .load::<Session>(RecordKind::Session, session_id)
                .await?
                .ok_or(Error::NotFound(Missing::Session))?;
            let action = Action::RevokeCredentials {
                account: &session.account_id,
            };
            match self.check(caller, action, now) {
                Err(Error::Denied(Denial::NotPermitted)) => {
                    return Err(Error::NotFound(Missing::Session))
                }
                other => other?,
            }
            let ending = session.revoked_at.is_none().then(|| session.id.clone());
            let mut plan = rules::decide_revoke_session(&record, session, actor, now)?;
            if let Some(id) = &ending {
                plan = self.with_logouts(plan, &[id], now).await?;
            }
            self.commit_unless_empty(plan.commit).await
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
    ///
    /// A login that began before this call ends too, even one whose session is committed while
    /// this call runs (and so is not counted): that session's first refresh is refused with
    /// [`Denial::SessionRevoked`] and revokes it.
    pub async fn revoke_all_sessions(&self, caller: Caller<'_>, account_id: &str) -> Result<usize> {
        let now = self.now();
        self.check(
            caller,
            Action::RevokeCredentials {
                account: account_id,
            },
            now,
        )?;
        self.end_all_sessions(account_id, caller.audit_id(), now)
            .await
    }

    /// Revokes every session of `account_id` at `now` and cuts off its tokens and delegations
    /// (the decision of [`Self::revoke_all_sessions`], for operations that already authorized
    /// `actor`). Returns how many live sessions were revoked.
    pub(crate) async fn end_all_sessions(
        &self,
        account_id: &str,
        actor: Option<&str>,
        now: Timestamp,
    ) -> Result<usize> {
        self.retrying(|| async {
            let (record, account) = self.stored_account(account_id).await?;
            let q = ListQuery {
                parent: Some(account_id.to_owned()),
                ..ListQuery::default()
            };
            let mut sessions = Vec::new();
            for record in self.inner.store.list(RecordKind::Session, &q).await? {
                let session: Session = crate::record_body::from_body(&record.body)?;
                sessions.push((record, session));
            }
            // One reading of the revocation cache, so the three cut-offs share one instant.
            let acting = acting(self, None, now);
            let cut_offs = CutOffs {
                sessions: acting.cutoff,
                account: acting.account_cut_off(account_id),
                delegation: acting.delegation_cut_off(account_id),
            };
            let ending: Vec<String> = sessions
                .iter()
                .filter(|(_, s)| s.is_live(now))
                .map(|(_, s)| s.id.clone())
                .collect();
            let plan = rules::decide_revoke_all_sessions(
                (&record, &account),
                sessions,
                cut_offs,
                actor,
                now,
            )?;
            let ending: Vec<&str> = ending.iter().map(String::as_str).collect();
            let plan = self.with_logouts(plan, &ending, now).await?;
            self.inner.store.commit(plan.commit).await?;
            Ok(plan.output)
        })
        .await
    }
}
