//! Account administration: create, read, list, password, enable/disable, roles.

use std::collections::BTreeSet;

use crate::account::{validate_role, validate_username, Account, AccountKind, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::config::StepUp;
use crate::elevation::StepUpProof;
use crate::error::{Error, InvalidInput, Missing, Result};
use crate::iam::Iam;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::secret::SecretString;
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, StoreError, Write};
use crate::token::Principal;

/// What [`Iam::create_account`] needs.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The login name (see [`validate_username`]).
    pub username: String,
    /// Human or system.
    pub kind: AccountKind,
    /// The initial password (humans only; may be set later).
    pub password: Option<SecretString>,
    /// Initial standing roles.
    pub roles: Vec<String>,
}

impl NewAccount {
    /// A human account with a password and no roles.
    pub fn human(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        NewAccount {
            username: username.into(),
            kind: AccountKind::Human,
            password: Some(password.into()),
            roles: vec![],
        }
    }

    /// A system account (no password).
    pub fn system(username: impl Into<String>) -> Self {
        NewAccount {
            username: username.into(),
            kind: AccountKind::System,
            password: None,
            roles: vec![],
        }
    }

    /// Adds initial roles.
    #[must_use]
    pub fn with_roles<I: IntoIterator<Item = R>, R: Into<String>>(mut self, roles: I) -> Self {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }
}

/// Which of an account's role sets a change touches.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RoleSet {
    /// Roles always in the account's tokens.
    Standing,
    /// Roles that must be opened per session (elevation).
    Elevatable,
}

/// The stored record for `account` (its version is set by the store).
pub(crate) fn account_record(account: &StoredAccount) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::Account,
        id: account.id.clone(),
        version: 0,
        parent: None,
        lookup: Some(account.username.clone()),
        expires_at: None,
        body: crate::json::to_body(account)?,
    })
}

/// A revocation that kills every token of `account_id` issued at or before `at`.
pub(crate) fn account_tokens_before(
    account_id: &str,
    at: Timestamp,
    until: Timestamp,
) -> RevocationChange {
    RevocationChange::Put(Revocation {
        subject: RevokedSubject::Account,
        id: account_id.to_owned(),
        issued_before: at,
        until,
    })
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// A cut-off that kills every token of `account_id` minted so far, kept until the
    /// longest-lived of them (a service token, say) has expired.
    pub(crate) fn account_cut_off(&self, account_id: &str, now: Timestamp) -> RevocationChange {
        account_tokens_before(
            account_id,
            self.inner.revocations.cutoff(now),
            now.plus(self.inner.config.longest_token_ttl()),
        )
    }

    /// A cut-off that voids what `account_id` delegated until now: OAuth tokens and refresh
    /// families issued for it, and client tokens acting for it.
    pub(crate) fn delegation_cut_off(&self, account_id: &str, now: Timestamp) -> RevocationChange {
        let config = &self.inner.config;
        RevocationChange::Put(Revocation {
            subject: RevokedSubject::Delegation,
            id: account_id.to_owned(),
            issued_before: self.inner.revocations.cutoff(now),
            until: now.plus(config.longest_token_ttl().max(config.oauth.refresh_ttl)),
        })
    }

    /// Creates an account (admins, or the embedding application). Fails with
    /// [`Error::UsernameTaken`] if the name is in use. A human account needs a password and a
    /// system account has none.
    pub async fn create_account(&self, new: NewAccount, caller: Caller<'_>) -> Result<Account> {
        self.may(caller, Action::CreateAccount)?;
        let actor = caller.audit_id();
        validate_username(&new.username)?;
        for r in &new.roles {
            validate_role(r)?;
        }
        let password_hash = match (new.kind, &new.password) {
            (AccountKind::System, Some(_)) => {
                return Err(InvalidInput::AccountKind("system accounts have no password").into());
            }
            (_, Some(pw)) => {
                self.inner.passwords.policy().check(pw)?;
                Some(self.inner.passwords.hash(pw, &self.inner.rng).await?)
            }
            (AccountKind::Human, None) => {
                return Err(InvalidInput::AccountKind("a human account needs a password").into());
            }
            (AccountKind::System, None) => None,
        };
        let now = self.now();
        let account = StoredAccount {
            id: self.inner.rng.id("acc_"),
            username: new.username,
            kind: new.kind,
            roles: new.roles.into_iter().collect(),
            disabled: false,
            created_at: now,
            password_hash,
            totp: None,
            elevatable_roles: BTreeSet::new(),
            deletion_due: None,
            service_grant: None,
        };
        let kind = match account.kind {
            AccountKind::Human => "human",
            AccountKind::System => "system",
        };
        let audit = AuditDraft::new(AuditKind::AccountCreated, now)
            .actor(actor)
            .account(&account.id)
            .detail("username", account.username.clone())
            .detail("kind", kind)
            .detail(
                "roles",
                account.roles.iter().cloned().collect::<Vec<_>>().join(","),
            );
        let commit = Commit {
            writes: vec![Write::Insert(account_record(&account)?)],
            audit: vec![audit],
            ..Commit::default()
        };
        match self.inner.store.commit(commit).await {
            Ok(()) => Ok(account.view()),
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
                let a = crate::json::from_body(&r.body)?;
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
            .map(|r| crate::json::from_body::<StoredAccount>(&r.body).map(|a| a.view()))
            .collect()
    }

    /// Applies `change` to the account with a compare-and-swap, retrying on races, and commits
    /// it with the extra revocations and audit events `change` returns. `change` returns
    /// `Ok(None)` when there is nothing to do.
    pub(crate) async fn update_account<F>(&self, id: &str, mut change: F) -> Result<Account>
    where
        F: FnMut(
            &mut StoredAccount,
            Timestamp,
        ) -> Result<Option<(Vec<RevocationChange>, Vec<AuditDraft>)>>,
    {
        for _ in 0..crate::iam::MAX_ATTEMPTS {
            let (record, mut account) = self.stored_account(id).await?;
            let now = self.now();
            let Some((revocations, audit)) = change(&mut account, now)? else {
                return Ok(account.view());
            };
            let write = Write::Update {
                record: account_record(&account)?,
                expected_version: record.version,
            };
            match self
                .inner
                .store
                .commit(Commit {
                    writes: vec![write],
                    revocations,
                    audit,
                    ..Commit::default()
                })
                .await
            {
                Ok(()) => return Ok(account.view()),
                Err(StoreError::Conflict) => crate::offload::yield_now().await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention)
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
        self.may(caller, Action::ManageAccount { account: id })?;
        let account = self.store_password(id, password, caller.audit_id()).await?;
        self.revoke_all_sessions(Caller::System, id).await?;
        if !self.inner.config.api_tokens_survive_password_reset {
            self.revoke_api_tokens_of(id, caller.audit_id()).await?;
        }
        Ok(account)
    }

    /// Hashes and stores a new password, and cuts off what the account delegated (OAuth
    /// grants, tokens acting for it).
    async fn store_password(
        &self,
        id: &str,
        password: &SecretString,
        actor: Option<&str>,
    ) -> Result<Account> {
        self.inner.passwords.policy().check(password)?;
        let hash = self.inner.passwords.hash(password, &self.inner.rng).await?;
        self.update_account(id, |a, now| {
            if a.kind == AccountKind::System {
                return Err(InvalidInput::AccountKind("system accounts have no password").into());
            }
            a.password_hash = Some(hash.clone());
            Ok(Some((
                vec![self.delegation_cut_off(&a.id, now)],
                vec![AuditDraft::new(AuditKind::PasswordChanged, now)
                    .actor(actor)
                    .account(&a.id)],
            )))
        })
        .await
    }

    /// Changes the caller's own password, given the current one. Needs a session token (not an
    /// API or OAuth token); a wrong current password is [`Denial::BadCredentials`] and counts
    /// towards the same back-off as failed elevation proofs. Other sessions stay signed in:
    /// follow with [`Iam::revoke_all_sessions`] to end them.
    pub async fn change_own_password(
        &self,
        principal: &Principal,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<Account> {
        self.may(Caller::Principal(principal), Action::ChangeOwnPassword)?;
        self.inner.passwords.policy().check(new)?;
        let (_, account) = self.stored_account(&principal.account_id).await?;
        self.reserve_step_up(&account.id).await?;
        let proof = StepUpProof {
            password: Some(current.clone()),
            totp_code: None,
        };
        match self.check_step_up(&account, StepUp::Password, &proof).await {
            Ok(_) => self.end_step_up_back_off(&account.id).await?,
            // A wrong password counts towards the back-off; a failure to check it does not.
            Err(e @ Error::Denied(_)) => {
                let now = self.now();
                self.record_step_up_failure(
                    AuditDraft::new(AuditKind::PasswordChangeDenied, now)
                        .actor(Some(&account.id))
                        .account(&account.id)
                        .session(&principal.session_id),
                )
                .await?;
                return Err(e);
            }
            Err(e) => {
                // Should the refund fail too, the attempt stays counted (fail closed).
                let _ = self.refund_step_up(&account.id).await;
                return Err(e);
            }
        }
        self.store_password(&account.id, new, Some(&account.id))
            .await
    }

    /// Disables an account (admins): it cannot log in and all its tokens, and every token
    /// acting for it, stop verifying at once.
    pub async fn disable_account(&self, caller: Caller<'_>, id: &str) -> Result<Account> {
        self.may(caller, Action::ManageAccount { account: id })?;
        let actor = caller.audit_id();
        self.update_account(id, |a, now| {
            if a.disabled {
                return Ok(None);
            }
            a.disabled = true;
            Ok(Some((
                vec![
                    account_tokens_before(&a.id, Timestamp::MAX, Timestamp::MAX),
                    self.delegation_cut_off(&a.id, now),
                ],
                vec![AuditDraft::new(AuditKind::AccountDisabled, now)
                    .actor(actor)
                    .account(&a.id)],
            )))
        })
        .await
    }

    /// Enables a disabled account (admins). Tokens issued before it was enabled stay void.
    pub async fn enable_account(&self, caller: Caller<'_>, id: &str) -> Result<Account> {
        self.may(caller, Action::ManageAccount { account: id })?;
        let actor = caller.audit_id();
        self.update_account(id, |a, now| {
            if !a.disabled {
                return Ok(None);
            }
            a.disabled = false;
            Ok(Some((
                vec![self.account_cut_off(&a.id, now)],
                vec![AuditDraft::new(AuditKind::AccountEnabled, now)
                    .actor(actor)
                    .account(&a.id)],
            )))
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
        self.may(caller, Action::ManageAccount { account: id })?;
        let actor = caller.audit_id();
        if grant {
            validate_role(role)?;
        }
        self.update_account(id, |a, now| {
            let roles = match set {
                RoleSet::Standing => &mut a.roles,
                RoleSet::Elevatable => &mut a.elevatable_roles,
            };
            let changed = if grant {
                roles.insert(role.to_owned())
            } else {
                roles.remove(role)
            };
            if !changed {
                return Ok(None);
            }
            let revocations = if grant || a.disabled {
                vec![]
            } else {
                vec![
                    self.account_cut_off(&a.id, now),
                    self.delegation_cut_off(&a.id, now),
                ]
            };
            let kind = match (set, grant) {
                (RoleSet::Standing, true) => AuditKind::RoleGranted,
                (RoleSet::Standing, false) => AuditKind::RoleRevoked,
                (RoleSet::Elevatable, true) => AuditKind::ElevatableRoleGranted,
                (RoleSet::Elevatable, false) => AuditKind::ElevatableRoleRevoked,
            };
            Ok(Some((
                revocations,
                vec![AuditDraft::new(kind, now)
                    .actor(actor)
                    .account(&a.id)
                    .detail("role", role)],
            )))
        })
        .await
    }

    /// The roles an account holds (itself or an admin).
    pub async fn roles(&self, caller: Caller<'_>, id: &str) -> Result<BTreeSet<String>> {
        self.may(caller, Action::ReadAccount { account: id })?;
        Ok(self.stored_account(id).await?.1.roles)
    }
}
