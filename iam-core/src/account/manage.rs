//! Account administration: create, read, list, password, enable/disable, roles.

use std::collections::BTreeSet;

use crate::account::rules;
use crate::account::{validate_role, Account, NewAccount, RoleSet, StoredAccount};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Missing, Result};
use crate::iam::Iam;
use crate::plan::Plan;
use crate::secret::SecretString;
use crate::store::{ListQuery, Record, RecordKind, Store, StoreError};
use crate::token::Principal;

impl<S: Store, C: Clock> Iam<S, C> {
    /// Creates an account (admins, or the embedding application). Fails with
    /// [`Error::UsernameTaken`] if the name is in use. A human account needs a password and a
    /// system account has none.
    pub async fn create_account(&self, new: NewAccount, caller: Caller<'_>) -> Result<Account> {
        let now = self.now();
        self.check(caller, Action::CreateAccount, now)?;
        let password_hash = match rules::admit_new_account(&new, self.inner.passwords.policy())? {
            Some(pw) => Some(self.inner.passwords.hash(pw, &self.inner.rng).await?),
            None => None,
        };
        let id = self.inner.rng.id("acc_");
        let plan =
            rules::create_account(new, id, password_hash, acting(self, caller.audit_id(), now))?;
        match self.inner.store.commit(plan.commit).await {
            Ok(()) => Ok(plan.output),
            Err(StoreError::Duplicate {
                kind: RecordKind::Account,
            }) => Err(Error::UsernameTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a stored account with its record, or `NotFound`.
    pub(crate) async fn stored_account(&self, id: &str) -> Result<(Record, StoredAccount)> {
        self.load(RecordKind::Account, id)
            .await?
            .ok_or(Error::NotFound(Missing::Account))
    }

    /// Reads the account by username, if any.
    pub(crate) async fn stored_account_by_name(
        &self,
        username: &str,
    ) -> Result<Option<(Record, StoredAccount)>> {
        match self.inner.store.find(RecordKind::Account, username).await? {
            Some(r) => {
                let a = crate::record_body::from_body(&r.body)?;
                Ok(Some((r, a)))
            }
            None => Ok(None),
        }
    }

    /// The account with `id` (itself or an admin).
    pub async fn account(&self, caller: Caller<'_>, id: &str) -> Result<Account> {
        self.may(caller, Action::ReadAccount { account: id })?;
        Ok(self.stored_account(id).await?.1.view())
    }

    /// The account named `username`, if any (itself or an admin).
    pub async fn account_by_username(
        &self,
        caller: Caller<'_>,
        username: &str,
    ) -> Result<Option<Account>> {
        let found = self
            .stored_account_by_name(username)
            .await?
            .map(|(_, a)| a.view());
        if let Some(a) = &found {
            self.may(caller, Action::ReadAccount { account: &a.id })?;
        } else {
            self.may(caller, Action::ListAccounts)?;
        }
        Ok(found)
    }

    /// Accounts ordered by id, `limit` at a time after the id `after` (admins).
    pub async fn list_accounts(
        &self,
        caller: Caller<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Account>> {
        self.may(caller, Action::ListAccounts)?;
        let q = ListQuery {
            parent: None,
            after: after.map(str::to_owned),
            limit: Some(limit),
        };
        let records = self.inner.store.list(RecordKind::Account, &q).await?;
        records
            .iter()
            .map(|r| crate::record_body::from_body::<StoredAccount>(&r.body).map(|a| a.view()))
            .collect()
    }

    /// Loads the account `id`, decides its change with `decide` (given the record read and the
    /// decoded account), and commits the plan, retrying the whole while it loses races.
    pub(super) async fn decide_on_account<T, F>(&self, id: &str, decide: F) -> Result<T>
    where
        F: Fn(&Record, StoredAccount) -> Result<Plan<T>>,
    {
        self.retrying(|| async {
            let (read, account) = self.stored_account(id).await?;
            decide(&read, account)?.apply(&self.inner.store).await
        })
        .await
    }

    /// Sets a human account's password (an admin's reset). Every session and OAuth grant of
    /// the account ends, and its personal API tokens are revoked unless
    /// [`crate::Config::api_tokens_survive_password_reset`] says otherwise.
    pub async fn set_password(
        &self,
        caller: Caller<'_>,
        id: &str,
        password: &SecretString,
    ) -> Result<Account> {
        let now = self.now();
        self.check(caller, Action::ManageAccount { account: id }, now)?;
        let actor = caller.audit_id();
        self.inner.passwords.policy().check(password)?;
        let hash = self.inner.passwords.hash(password, &self.inner.rng).await?;
        let account = self
            .decide_on_account(id, |read, account| {
                rules::change_password(read, account, hash.clone(), acting(self, actor, now))
            })
            .await?;
        self.end_all_sessions(id, actor, now).await?;
        if !self.inner.config.api_tokens_survive_password_reset {
            self.revoke_api_tokens_of(id, actor, now).await?;
        }
        Ok(account)
    }

    /// Changes the caller's own password, given the current one. Needs a session token (not an
    /// API or OAuth token); a wrong current password is [`Denial::BadCredentials`](crate::Denial::BadCredentials) and counts
    /// towards the same back-off as failed elevation proofs. Other sessions stay signed in:
    /// follow with [`Iam::revoke_all_sessions`] to end them.
    pub async fn change_own_password(
        &self,
        principal: &Principal,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<Account> {
        let now = self.now();
        self.check(Caller::Principal(principal), Action::ChangeOwnPassword, now)?;
        self.inner.passwords.policy().check(new)?;
        let (_, account) = self.stored_account(&principal.account_id).await?;
        self.reserve_step_up_at(&account.id, now).await?;
        let matched = match self
            .inner
            .passwords
            .verify(current, account.password_hash.as_deref())
            .await
        {
            Ok(v) => v.matched,
            Err(e) => {
                // A failure to check the password does not count towards the back-off; should
                // the refund fail too, the attempt stays counted (fail closed).
                let _ = self.refund_step_up(&account.id).await;
                return Err(e);
            }
        };
        let proof = rules::check_current_password(matched, &account.id, &principal.session_id, now);
        if let Some(denial) = proof.apply(&self.inner.store).await? {
            return Err(denial.into());
        }
        self.end_step_up_back_off(&account.id).await?;
        let hash = self.inner.passwords.hash(new, &self.inner.rng).await?;
        let actor = Some(account.id.as_str());
        self.decide_on_account(&account.id, |read, account| {
            rules::change_password(read, account, hash.clone(), acting(self, actor, now))
        })
        .await
    }

    /// Disables an account (admins): it cannot log in and all its tokens, and every token
    /// acting for it, stop verifying at once.
    pub async fn disable_account(&self, caller: Caller<'_>, id: &str) -> Result<Account> {
        let now = self.now();
        self.check(caller, Action::ManageAccount { account: id }, now)?;
        self.retrying(|| async {
            let (read, account) = self.stored_account(id).await?;
            let was_enabled = !account.disabled;
            let mut plan =
                rules::disable_account(&read, account, acting(self, caller.audit_id(), now))?;
            if was_enabled {
                let live = self.live_session_ids(id, now).await?;
                let live: Vec<&str> = live.iter().map(String::as_str).collect();
                plan = self.with_logouts(plan, &live, now).await?;
            }
            plan.apply(&self.inner.store).await
        })
        .await
    }

    /// The ids of the sessions of `account_id` live at `now`.
    async fn live_session_ids(&self, account_id: &str, now: Timestamp) -> Result<Vec<String>> {
        let q = ListQuery {
            parent: Some(account_id.to_owned()),
            ..ListQuery::default()
        };
        let mut ids = Vec::new();
        for record in self.inner.store.list(RecordKind::Session, &q).await? {
            let session: crate::session::Session = crate::record_body::from_body(&record.body)?;
            if session.is_live(now) {
                ids.push(session.id);
            }
        }
        Ok(ids)
    }

    /// Enables a disabled account (admins). Tokens issued before it was enabled stay void.
    pub async fn enable_account(&self, caller: Caller<'_>, id: &str) -> Result<Account> {
        let now = self.now();
        self.check(caller, Action::ManageAccount { account: id }, now)?;
        self.decide_on_account(id, |read, account| {
            rules::enable_account(read, account, acting(self, caller.audit_id(), now))
        })
        .await
    }

    /// Grants a standing role (admins). It appears in tokens issued from now on.
    pub async fn grant_role(&self, caller: Caller<'_>, id: &str, role: &str) -> Result<Account> {
        self.change_role(caller, id, role, RoleSet::Standing, true)
            .await
    }

    /// Revokes a standing role (admins). Access tokens issued before carry it, so they are
    /// voided at once, as are tokens acting for the account; the holder's next refresh yields
    /// tokens without it.
    pub async fn revoke_role(&self, caller: Caller<'_>, id: &str, role: &str) -> Result<Account> {
        self.change_role(caller, id, role, RoleSet::Standing, false)
            .await
    }

    /// Adds `role` to (`grant`) or removes it from one of an account's role sets, audited.
    /// Removal voids the account's earlier tokens, which may carry the role.
    pub(crate) async fn change_role(
        &self,
        caller: Caller<'_>,
        id: &str,
        role: &str,
        set: RoleSet,
        grant: bool,
    ) -> Result<Account> {
        let now = self.now();
        self.check(caller, Action::ManageAccount { account: id }, now)?;
        if grant {
            validate_role(role)?;
        }
        self.decide_on_account(id, |read, account| {
            rules::change_role(
                read,
                account,
                role,
                set,
                grant,
                acting(self, caller.audit_id(), now),
            )
        })
        .await
    }

    /// The roles an account holds (itself or an admin).
    pub async fn roles(&self, caller: Caller<'_>, id: &str) -> Result<BTreeSet<String>> {
        self.may(caller, Action::ReadAccount { account: id })?;
        Ok(self.stored_account(id).await?.1.roles)
    }
}

/// The context of an account decision at `now`, acting as `actor`: the configuration in force
/// and the revocation cache's cut-off time at `now`.
pub(crate) fn acting<'a, S: Store, C: Clock>(
    iam: &'a Iam<S, C>,
    actor: Option<&'a str>,
    now: Timestamp,
) -> rules::Acting<'a> {
    rules::Acting {
        actor,
        now,
        cutoff: iam.inner.revocations.cutoff(now),
        config: &iam.inner.config,
    }
}
