//! Organizations and memberships: who belongs where, with which role, and tokens scoped to one
//! organization.

use serde::{Deserialize, Serialize};

pub(crate) mod rules;

use crate::account::{validate_role, StoredAccount};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Conflict, Error, Missing, Result};
use crate::iam::Iam;
use crate::secret::SecretString;
use crate::session::Session;
use crate::store::{ListQuery, Record, RecordKind, Store, StoreError};
use crate::token::Principal;

use rules::{MemberChange, MemberCutOff, OrgAuthority, StoredMembership};

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

impl<S: Store, C: Clock> Iam<S, C> {
    /// Creates an organization; its creator becomes its first member with [`OWNER_ROLE`].
    pub async fn create_organization(&self, actor: &Principal, name: &str) -> Result<Organization> {
        let now = self.now();
        self.check(actor.into(), Action::CreateOrganization, now)?;
        let plan =
            rules::create_organization(self.inner.rng.id("org_"), name, &actor.account_id, now)?;
        match plan.apply(&self.inner.store).await {
            Err(Error::Store(StoreError::Duplicate { .. })) => {
                Err(Error::State(Conflict::OrganizationNameTaken))
            }
            other => other,
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
        let now = self.now();
        validate_role(role)?;
        let change = MemberChange {
            org_id,
            account_id,
            role,
        };
        self.retrying(|| async {
            let authority = self.org_authority(actor, org_id, now).await?;
            let (target, _) = self.stored_account(account_id).await?;
            let existing = self.stored_membership(org_id, account_id).await?;
            let plan = rules::set_membership(
                &change,
                &target,
                existing.as_ref(),
                &authority,
                self.member_cut_off(now),
                &actor.account_id,
                now,
            )?;
            plan.apply(&self.inner.store).await
        })
        .await
    }

    /// Removes a member (admins and owners); the member's earlier tokens stop verifying.
    pub async fn remove_member(
        &self,
        actor: &Principal,
        org_id: &str,
        account_id: &str,
    ) -> Result<()> {
        let now = self.now();
        self.retrying(|| async {
            let authority = self.org_authority(actor, org_id, now).await?;
            let stored = self.stored_membership(org_id, account_id).await?;
            let plan = rules::remove_member(
                stored,
                &authority,
                self.member_cut_off(now),
                &actor.account_id,
                now,
            )?;
            plan.apply(&self.inner.store).await
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
            .map(|r| crate::record_body::from_body(&r.body))
            .collect()
    }

    /// Mints an access token for the principal's session scoped to one organization: it
    /// carries the organization and the member's role there. Non-members are denied. The
    /// token is handed out only once the membership, account and session it was decided on
    /// are checked unchanged in the store.
    pub async fn org_token(&self, principal: &Principal, org_id: &str) -> Result<SecretString> {
        let now = self.now();
        self.check(principal.into(), Action::OrgToken, now)?;
        self.retrying(|| async {
            let membership = self
                .membership_record(org_id, &principal.account_id)
                .await?;
            let account = self
                .load::<StoredAccount>(RecordKind::Account, &principal.account_id)
                .await?;
            let session = self
                .load::<Session>(RecordKind::Session, &principal.session_id)
                .await?;
            let plan = rules::org_token(
                principal,
                membership.as_ref(),
                account.as_ref(),
                session.as_ref(),
                now,
            )?;
            let scope = &plan.output;
            let (token, _) =
                self.session_token_with(scope.account, scope.session, now, |claims| {
                    claims.cred = Some(crate::authz::CredentialKind::OrgToken);
                    claims.org = Some(scope.org_id.to_owned());
                    claims.org_role = Some(scope.role.to_owned());
                })?;
            plan.apply(&self.inner.store).await?;
            Ok(SecretString::new(token))
        })
        .await
    }

    pub(crate) async fn membership_record(
        &self,
        org_id: &str,
        account_id: &str,
    ) -> Result<Option<(Record, Membership)>> {
        self.load::<Membership>(
            RecordKind::Membership,
            &rules::membership_id(org_id, account_id),
        )
        .await
    }

    /// A membership with both its index records, as stored.
    async fn stored_membership(
        &self,
        org_id: &str,
        account_id: &str,
    ) -> Result<Option<StoredMembership>> {
        let Some((by_org, membership)) = self.membership_record(org_id, account_id).await? else {
            return Ok(None);
        };
        let by_account = self
            .inner
            .store
            .get(
                RecordKind::MembershipByAccount,
                &rules::mirror_id(org_id, account_id),
            )
            .await?;
        Ok(Some(StoredMembership {
            by_org,
            by_account,
            membership,
        }))
    }

    /// The authority on which `actor` manages the organization's members: as an admin, or as
    /// an owner (by the membership read). Denied otherwise.
    async fn org_authority(
        &self,
        actor: &Principal,
        org_id: &str,
        now: Timestamp,
    ) -> Result<OrgAuthority> {
        self.organization(org_id).await?;
        let manager = self.membership_record(org_id, &actor.account_id).await?;
        let owner = rules::is_owner(manager.as_ref().map(|(_, m)| m));
        self.check(actor.into(), Action::ManageOrganization { owner }, now)?;
        match manager {
            Some((record, _))
                if owner
                    && self
                        .check(
                            actor.into(),
                            Action::ManageOrganization { owner: false },
                            now,
                        )
                        .is_err() =>
            {
                Ok(OrgAuthority::Owner(record))
            }
            _ => Ok(OrgAuthority::Admin),
        }
    }

    /// The cut-off a membership change made at `now` puts on the member's organization tokens.
    fn member_cut_off(&self, now: Timestamp) -> MemberCutOff {
        MemberCutOff {
            issued_before: self.inner.revocations.cutoff(now),
            until: now.plus(self.inner.config.longest_token_ttl()),
        }
    }

    /// The invited account accepts (`accept`) or declines an owner's invitation to `org_id`.
    /// Declining removes the membership.
    pub async fn answer_invitation(
        &self,
        principal: &Principal,
        org_id: &str,
        accept: bool,
    ) -> Result<()> {
        let now = self.now();
        let account_id = principal.account_id.as_str();
        self.check(
            principal.into(),
            Action::AnswerInvitation {
                account: account_id,
            },
            now,
        )?;
        self.retrying(|| async {
            let stored = self.stored_membership(org_id, account_id).await?;
            let plan = rules::answer_invitation(stored, accept, now)?;
            plan.apply(&self.inner.store).await
        })
        .await
    }
}
