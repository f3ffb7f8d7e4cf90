//! Organizations and memberships: who belongs where, with which role, and tokens scoped to one
//! organization.

use serde::{Deserialize, Serialize};

use crate::account::{validate_role, validate_username};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Conflict, Denial, Error, Missing, Result};
use crate::iam::Iam;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::secret::SecretString;
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, StoreError, Write};
use crate::token::Principal;

/// The membership role of an organization's creator, allowed to manage its members.
pub const OWNER_ROLE: &str = "owner";

/// An organization (or group) accounts belong to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The id (`org_…`).
    pub id: String,
    /// The unique name (same rules as usernames).
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// One account's membership of one organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The organization.
    pub org_id: String,
    /// The member.
    pub account_id: String,
    /// The member's role there.
    pub role: String,
    /// When it was granted.
    pub since: Timestamp,
    /// Whether the member has yet to accept (an owner's invitation); pending members get no
    /// organization tokens.
    #[serde(default)]
    pub pending: bool,
}

fn membership_records(m: &Membership) -> Result<[Record; 2]> {
    let body = crate::json::to_body(m)?;
    let record = |kind, id: String, parent: &str| Record {
        kind,
        id,
        version: 0,
        parent: Some(parent.to_owned()),
        lookup: None,
        expires_at: None,
        body: body.clone(),
    };
    Ok([
        record(
            RecordKind::Membership,
            format!("{}/{}", m.org_id, m.account_id),
            &m.org_id,
        ),
        record(
            RecordKind::MembershipByAccount,
            format!("{}/{}", m.account_id, m.org_id),
            &m.account_id,
        ),
    ])
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Creates an organization; its creator becomes its first member with [`OWNER_ROLE`].
    pub async fn create_organization(&self, actor: &Principal, name: &str) -> Result<Organization> {
        let now = self.now();
        self.check(actor.into(), Action::CreateOrganization, now)?;
        validate_username(name)?;
        let org = Organization {
            id: self.inner.rng.id("org_"),
            name: name.to_owned(),
            created_at: now,
        };
        let owner = Membership {
            org_id: org.id.clone(),
            account_id: actor.account_id.clone(),
            role: OWNER_ROLE.into(),
            since: now,
            pending: false,
        };
        let [by_org, by_account] = membership_records(&owner)?;
        let commit = Commit {
            writes: vec![
                Write::Insert(Record {
                    kind: RecordKind::Organization,
                    id: org.id.clone(),
                    version: 0,
                    parent: None,
                    lookup: Some(org.name.clone()),
                    expires_at: None,
                    body: crate::json::to_body(&org)?,
                }),
                Write::Insert(by_org),
                Write::Insert(by_account),
            ],
            audit: vec![AuditDraft::new(AuditKind::OrganizationCreated, now)
                .actor(Some(&actor.account_id))
                .account(&actor.account_id)
                .detail("org", org.id.clone())
                .detail("name", org.name.clone())],
            ..Commit::default()
        };
        match self.inner.store.commit(commit).await {
            Ok(()) => Ok(org),
            Err(StoreError::Duplicate { .. }) => Err(Error::State(Conflict::OrganizationNameTaken)),
            Err(e) => Err(e.into()),
        }
    }

    /// The organization with `id`.
    pub async fn organization(&self, id: &str) -> Result<Organization> {
        self.load::<Organization>(RecordKind::Organization, id)
            .await?
            .map(|(_, o)| o)
            .ok_or(Error::NotFound(Missing::Organization))
    }

    /// Adds `account_id` to an organization with `role`, or changes its role there. Allowed for
    /// admins and the organization's owners. An owner's addition is an invitation the account
    /// must accept ([`Iam::answer_invitation`]); an admin's takes effect at once. A changed
    /// role voids the member's earlier tokens for this organization only.
    pub async fn set_membership(
        &self,
        actor: &Principal,
        org_id: &str,
        account_id: &str,
        role: &str,
    ) -> Result<Membership> {
        validate_role(role)?;
        self.require_org_manager(actor, org_id).await?;
        self.stored_account(account_id).await?;
        self.retrying(|| self.try_set_membership(actor, org_id, account_id, role))
            .await
    }

    async fn try_set_membership(
        &self,
        actor: &Principal,
        org_id: &str,
        account_id: &str,
        role: &str,
    ) -> Result<Membership> {
        let now = self.now();
        let existing = self.membership_record(org_id, account_id).await?;
        let by_admin = self
            .check(
                actor.into(),
                Action::ManageOrganization { owner: false },
                now,
            )
            .is_ok();
        let membership = Membership {
            org_id: org_id.to_owned(),
            account_id: account_id.to_owned(),
            role: role.to_owned(),
            since: now,
            pending: match &existing {
                Some((_, old)) => old.pending && !by_admin,
                None => !by_admin,
            },
        };
        let [by_org, by_account] = membership_records(&membership)?;
        let mut commit = Commit {
            audit: vec![AuditDraft::new(AuditKind::MemberAdded, now)
                .actor(Some(&actor.account_id))
                .account(account_id)
                .detail("org", org_id)
                .detail("role", role)],
            ..Commit::default()
        };
        match existing {
            Some((_, old)) if old.role == role => return Ok(old),
            Some((read, _)) => {
                commit.writes = self.replace_membership(read, by_org, by_account).await?;
                commit
                    .revocations
                    .push(self.membership_cut_off(org_id, account_id, now));
            }
            None => commit.writes = vec![Write::Insert(by_org), Write::Insert(by_account)],
        }
        self.inner.store.commit(commit).await?;
        Ok(membership)
    }

    /// Writes replacing both index records of a membership read as `read`.
    async fn replace_membership(
        &self,
        read: Record,
        by_org: Record,
        by_account: Record,
    ) -> Result<Vec<Write>> {
        let mirror = self
            .inner
            .store
            .get(RecordKind::MembershipByAccount, &by_account.id)
            .await?
            .ok_or(StoreError::Conflict)?;
        Ok(vec![
            Write::Update {
                record: by_org,
                expected_version: read.version,
            },
            Write::Update {
                record: by_account,
                expected_version: mirror.version,
            },
        ])
    }

    /// Removes a member (admins and owners); the member's earlier tokens stop verifying.
    pub async fn remove_member(
        &self,
        actor: &Principal,
        org_id: &str,
        account_id: &str,
    ) -> Result<()> {
        self.require_org_manager(actor, org_id).await?;
        self.retrying(|| async {
            let Some((read, _)) = self.membership_record(org_id, account_id).await? else {
                return Ok(());
            };
            let now = self.now();
            let mut commit = Commit::default();
            commit.writes.push(Write::Delete {
                kind: RecordKind::Membership,
                id: read.id.clone(),
                expected_version: read.version,
            });
            self.delete_if_present(
                &mut commit,
                RecordKind::MembershipByAccount,
                &format!("{account_id}/{org_id}"),
            )
            .await?;
            commit
                .revocations
                .push(self.membership_cut_off(org_id, account_id, now));
            commit.audit.push(
                AuditDraft::new(AuditKind::MemberRemoved, now)
                    .actor(Some(&actor.account_id))
                    .account(account_id)
                    .detail("org", org_id),
            );
            self.inner.store.commit(commit).await?;
            Ok(())
        })
        .await
    }

    /// The members of an organization, ordered by account id (its members and admins).
    pub async fn members_of(&self, caller: Caller<'_>, org_id: &str) -> Result<Vec<Membership>> {
        self.organization(org_id).await?;
        let members = self.memberships(RecordKind::Membership, org_id).await?;
        if let Caller::Principal(p) = caller {
            let member = members.iter().any(|m| m.account_id == p.account_id);
            self.may(caller, Action::ReadOrganization { member })
                .map_err(|_| Error::NotFound(Missing::Organization))?;
        }
        Ok(members)
    }

    /// The memberships of an account, ordered by organization id (itself or an admin).
    pub async fn memberships_of(
        &self,
        caller: Caller<'_>,
        account_id: &str,
    ) -> Result<Vec<Membership>> {
        self.may(
            caller,
            Action::ReadAccount {
                account: account_id,
            },
        )?;
        self.memberships(RecordKind::MembershipByAccount, account_id)
            .await
    }

    async fn memberships(&self, kind: RecordKind, parent: &str) -> Result<Vec<Membership>> {
        let query = ListQuery {
            parent: Some(parent.to_owned()),
            ..ListQuery::default()
        };
        self.inner
            .store
            .list(kind, &query)
            .await?
            .iter()
            .map(|r| crate::json::from_body(&r.body))
            .collect()
    }

    /// Mints an access token for the principal's session scoped to one organization: it
    /// carries the organization and the member's role there. Non-members are denied.
    pub async fn org_token(&self, principal: &Principal, org_id: &str) -> Result<SecretString> {
        self.may(principal.into(), Action::OrgToken)?;
        let (_, membership) = self
            .membership_record(org_id, &principal.account_id)
            .await?
            .filter(|(_, m)| !m.pending)
            .ok_or(Denial::NotPermitted)?;
        let (_, account) = self.stored_account(&principal.account_id).await?;
        if account.disabled {
            return Err(Denial::AccountDisabled.into());
        }
        let (_, session) = self
            .load::<crate::session::Session>(RecordKind::Session, &principal.session_id)
            .await?
            .ok_or(Denial::SessionRevoked)?;
        let now = self.now();
        if session.account_id != principal.account_id || !session.is_live(now) {
            return Err(Denial::SessionRevoked.into());
        }
        let (token, _) = self.session_token_with(&account, &session, now, |claims| {
            claims.cred = Some(crate::authz::CredentialKind::OrgToken);
            claims.org = Some(membership.org_id.clone());
            claims.org_role = Some(membership.role.clone());
        })?;
        Ok(SecretString::new(token))
    }

    async fn membership_record(
        &self,
        org_id: &str,
        account_id: &str,
    ) -> Result<Option<(Record, Membership)>> {
        self.load::<Membership>(RecordKind::Membership, &format!("{org_id}/{account_id}"))
            .await
    }

    /// `Ok` when `actor` is an admin or an owner of the organization.
    async fn require_org_manager(&self, actor: &Principal, org_id: &str) -> Result<()> {
        self.organization(org_id).await?;
        let owner = matches!(
            self.membership_record(org_id, &actor.account_id).await?,
            Some((_, m)) if m.role == OWNER_ROLE && !m.pending
        );
        self.may(actor.into(), Action::ManageOrganization { owner })
    }

    /// A cut-off that voids `account_id`'s tokens scoped to `org_id`, and no other token.
    fn membership_cut_off(
        &self,
        org_id: &str,
        account_id: &str,
        now: Timestamp,
    ) -> RevocationChange {
        RevocationChange::Put(Revocation {
            subject: RevokedSubject::OrgMembership,
            id: format!("{org_id}/{account_id}"),
            issued_before: self.inner.revocations.cutoff(now),
            until: now.plus(self.inner.config.longest_token_ttl()),
        })
    }

    /// The invited account accepts (`accept`) or declines an owner's invitation to `org_id`.
    /// Declining removes the membership.
    pub async fn answer_invitation(
        &self,
        principal: &Principal,
        org_id: &str,
        accept: bool,
    ) -> Result<()> {
        let account_id = principal.account_id.as_str();
        self.may(
            principal.into(),
            Action::AnswerInvitation {
                account: account_id,
            },
        )?;
        self.retrying(|| async {
            let (read, membership) = self
                .membership_record(org_id, account_id)
                .await?
                .filter(|(_, m)| m.pending)
                .ok_or(Error::NotFound(Missing::Invitation))?;
            let now = self.now();
            let mut commit = Commit::default();
            if accept {
                let accepted = Membership {
                    pending: false,
                    since: now,
                    ..membership
                };
                let [by_org, by_account] = membership_records(&accepted)?;
                commit.writes = self.replace_membership(read, by_org, by_account).await?;
            } else {
                commit.writes.push(Write::Delete {
                    kind: RecordKind::Membership,
                    id: read.id.clone(),
                    expected_version: read.version,
                });
                self.delete_if_present(
                    &mut commit,
                    RecordKind::MembershipByAccount,
                    &format!("{account_id}/{org_id}"),
                )
                .await?;
            }
            commit.audit.push(
                AuditDraft::new(
                    if accept {
                        AuditKind::MemberAdded
                    } else {
                        AuditKind::MemberRemoved
                    },
                    now,
                )
                .actor(Some(account_id))
                .account(account_id)
                .detail("org", org_id)
                .detail("answer", if accept { "accepted" } else { "declined" }),
            );
            self.inner.store.commit(commit).await?;
            Ok(())
        })
        .await
    }
}
