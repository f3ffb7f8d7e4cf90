//! Invitations: a single-use link with which a new person creates their own account, with
//! roles (and an organization) chosen by whoever invited them.
//!
//! An admin, or a holder of one of [`Config::inviter_roles`](crate::Config::inviter_roles),
//! creates an invitation ([`Iam::create_invitation`]) and hands on its secret (a link). The
//! secret is 256 random bits, shown once and stored only as its keyed hash. The invited person
//! opens the link ([`Iam::invitation_status`]) and picks a username and password
//! ([`Iam::accept_invitation`]): one commit creates the account, grants the preset roles,
//! joins the organization and marks the invitation used, so it is used at most once even when
//! two people race. The rules are in `rules`.

pub(crate) mod rules;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::manage::acting;
use crate::account::{Account, NewAccount};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Missing, Result};
use crate::iam::Iam;
use crate::secret::SecretString;
use crate::store::{ListQuery, Record, RecordKind, Store, StoreError};
use crate::token::{is_opaque_token_shape, new_opaque_token};

use rules::{
    Acceptance, CreatorStanding, FreshInvitation, InviterAuthority, Newcomer, OrgStanding,
};

/// The prefix of every invitation secret (so secret scanners can find leaked ones).
pub const INVITATION_PREFIX: &str = "iam_inv_";

/// How long an invitation is kept after it expires, so its link still explains itself.
pub const INVITATION_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The membership role an invitation into an organization gives when it names none.
pub const DEFAULT_ORG_ROLE: &str = "member";

/// What [`Iam::create_invitation`] needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewInvitation {
    /// Standing roles the new account gets.
    pub roles: Vec<String>,
    /// The organization the new account joins, if any.
    pub org_id: Option<String>,
    /// Its role there (default [`DEFAULT_ORG_ROLE`]).
    pub org_role: Option<String>,
    /// How long the invitation stays usable (default [`Config::invitation_ttl`](crate::Config::invitation_ttl),
    /// at most [`Config::invitation_max_ttl`](crate::Config::invitation_max_ttl)).
    pub ttl: Option<Duration>,
}

/// An invitation, as listed (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The public id (`inv_…`).
    pub id: String,
    /// Standing roles the new account gets.
    pub roles: std::collections::BTreeSet<String>,
    /// The organization the new account joins.
    pub org_id: Option<String>,
    /// Its role there.
    pub org_role: Option<String>,
    /// The inviting account (`None`: the embedding application).
    pub created_by: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops being usable.
    pub expires_at: Timestamp,
    /// Open, used or revoked.
    pub state: InvitationState,
}

/// Where an invitation stands (expiry aside: see [`InvitationStatus`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InvitationState {
    /// Not used yet.
    Open,
    /// Used to create an account.
    Used {
        /// The account it created.
        account_id: String,
        /// When.
        at: Timestamp,
    },
    /// Revoked before use.
    Revoked {
        /// When.
        at: Timestamp,
    },
}

/// What an invitation link is worth now, for the page that opens it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Usable: the invitation it opens.
    Valid(Invitation),
    /// Past its expiry.
    Expired,
    /// Already used.
    Used,
    /// Revoked (or its creator may no longer invite).
    Revoked,
    /// No invitation has this secret.
    Unknown,
}

/// A new invitation: the secret is returned here once and never again.
#[derive(Clone, Debug)]
pub struct CreatedInvitation {
    /// Its metadata.
    pub invitation: Invitation,
    /// The secret (`iam_inv_…`) to put in the link.
    pub secret: SecretString,
}

/// How the invited person answers an invitation: the account they choose. (A passkey
/// registration would join here as a further credential.)
#[derive(Clone, Debug)]
pub struct InvitationAnswer {
    /// The username they pick.
    pub username: String,
    /// The password they set (under the password policy).
    pub password: SecretString,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Creates an invitation (admins, holders of an inviter role, or the application). An
    /// inviter that is not an admin presets only roles it holds itself, and names an
    /// organization only if it owns it.
    pub async fn create_invitation(
        &self,
        caller: Caller<'_>,
        new: &NewInvitation,
    ) -> Result<CreatedInvitation> {
        let now = self.now();
        let authority = self.inviter_authority(caller, now)?;
        let config = &self.inner.config;
        let lifetime =
            rules::invitation_lifetime(new.ttl, config.invitation_ttl, config.invitation_max_ttl)?;
        rules::check_role_ceiling(&authority, &new.roles)?;
        self.retrying(|| async {
            let org = match &new.org_id {
                Some(org_id) => Some(self.org_standing(caller, &authority, org_id).await?),
                None => None,
            };
            let secret = SecretString::new(format!(
                "{INVITATION_PREFIX}{}",
                new_opaque_token(&self.inner.rng).expose()
            ));
            let fresh = FreshInvitation {
                id: self.inner.rng.id("inv_"),
                secret_hash: self.inner.token_hasher.hash(secret.expose()),
            };
            let plan = rules::create_invitation(
                new,
                &authority,
                org.as_ref(),
                fresh,
                caller.audit_id(),
                lifetime,
                now,
            )?;
            let invitation = plan.apply(&self.inner.store).await?;
            Ok(CreatedInvitation { invitation, secret })
        })
        .await
    }

    /// Invitations, oldest first: all of them for admins and the application, an inviter's own
    /// for an inviter.
    pub async fn list_invitations(&self, caller: Caller<'_>) -> Result<Vec<Invitation>> {
        let now = self.now();
        let authority = self.inviter_authority(caller, now)?;
        let parent = match (&authority, caller.audit_id()) {
            (InviterAuthority::Inviter { .. }, Some(id)) => Some(id.to_owned()),
            _ => None,
        };
        let query = ListQuery {
            parent,
            ..ListQuery::default()
        };
        let mut list: Vec<Invitation> = self
            .inner
            .store
            .list(RecordKind::Invitation, &query)
            .await?
            .iter()
            .map(|r| crate::record_body::from_body(&r.body))
            .collect::<Result<_>>()?;
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    /// Revokes an open invitation (its creator, or admins); a used or revoked one is returned
    /// as it is.
    pub async fn revoke_invitation(&self, caller: Caller<'_>, id: &str) -> Result<Invitation> {
        let now = self.now();
        self.retrying(|| async {
            let (read, invitation) = self
                .load::<Invitation>(RecordKind::Invitation, id)
                .await?
                .ok_or(Error::NotFound(Missing::Invitation))?;
            self.check(
                caller,
                Action::RevokeInvitation {
                    creator: invitation.created_by.as_deref(),
                },
                now,
            )?;
            rules::revoke_invitation(&read, invitation, caller.audit_id(), now)?
                .apply(&self.inner.store)
                .await
        })
        .await
    }

    /// What the invitation with `secret` is worth now (for the page its link opens). Needs no
    /// credential: the secret is the credential.
    pub async fn invitation_status(&self, secret: &str) -> Result<InvitationStatus> {
        let now = self.now();
        let found = self.invitation_by_secret(secret).await?;
        Ok(rules::status(found.as_ref().map(|(_, i)| i), now))
    }

    /// Uses the invitation with `secret`: creates the account `answer` names (with the preset
    /// roles, in the organization), marks the invitation used, all in one commit. A link that
    /// is unknown, expired, used or revoked fails with [`Error::NotFound`] (the refusal of a
    /// known one is audited; [`Iam::invitation_status`] says which it was); a taken username
    /// with [`Error::UsernameTaken`].
    pub async fn accept_invitation(
        &self,
        secret: &str,
        answer: &InvitationAnswer,
    ) -> Result<Account> {
        let now = self.now();
        let new = NewAccount::human(answer.username.clone(), answer.password.clone());
        crate::account::rules::admit_new_account(&new, self.inner.passwords.policy())?;
        // Refuse a closed link before the costly hash; the decision below checks again.
        let found = self.invitation_by_secret(secret).await?;
        let hash = match rules::status(found.as_ref().map(|(_, i)| i), now) {
            InvitationStatus::Valid(_) => Some(
                self.inner
                    .passwords
                    .hash(&answer.password, &self.inner.rng)
                    .await?,
            ),
            _ => None,
        };
        let id = self.inner.rng.id("acc_");
        let outcome = self
            .retrying(|| async {
                let found = self.invitation_by_secret(secret).await?;
                let (Some(hash), Some((_, invitation))) = (&hash, &found) else {
                    return rules::refuse_use(found, now).apply(&self.inner.store).await;
                };
                let org = match &invitation.org_id {
                    Some(org_id) => {
                        self.inner
                            .store
                            .get(RecordKind::Organization, org_id)
                            .await?
                    }
                    None => None,
                };
                let creator = match &invitation.created_by {
                    Some(creator) => self.load(RecordKind::Account, creator).await?,
                    None => None,
                };
                let standing = invitation.created_by.as_ref().map(|_| CreatorStanding {
                    account: creator.as_ref(),
                    inviter_roles: &self.inner.config.inviter_roles,
                });
                let newcomer = Newcomer {
                    id: id.clone(),
                    account: new.clone(),
                    password_hash: hash.clone(),
                };
                let plan = rules::accept_invitation(
                    found,
                    org.as_ref(),
                    standing.as_ref(),
                    newcomer,
                    acting(self, None, now),
                )?;
                match plan.apply(&self.inner.store).await {
                    Err(Error::Store(StoreError::Duplicate {
                        kind: RecordKind::Account,
                    })) => Err(Error::UsernameTaken),
                    other => other,
                }
            })
            .await?;
        match outcome {
            Acceptance::Accepted(account) => Ok(account),
            Acceptance::Refused(_) => Err(Error::NotFound(Missing::Invitation)),
        }
    }

    /// The invitation whose secret is `secret`, if any (its keyed hash compared in constant time).
    async fn invitation_by_secret(&self, secret: &str) -> Result<Option<(Record, Invitation)>> {
        let well_formed = secret
            .strip_prefix(INVITATION_PREFIX)
            .is_some_and(is_opaque_token_shape);
        if !well_formed {
            return Ok(None);
        }
        let hash = SecretString::new(self.inner.token_hasher.hash(secret));
        let Some(record) = self
            .inner
            .store
            .find(RecordKind::Invitation, hash.expose())
            .await?
        else {
            return Ok(None);
        };
        if !record.lookup.as_deref().is_some_and(|l| hash.ct_eq(l)) {
            return Ok(None);
        }
        let invitation = crate::record_body::from_body(&record.body)?;
        Ok(Some((record, invitation)))
    }

    /// The authority on which `caller` invites: unbounded for the application and admins,
    /// an inviter's own roles for a holder of an inviter role; denied otherwise.
    fn inviter_authority(&self, caller: Caller<'_>, now: Timestamp) -> Result<InviterAuthority> {
        let Caller::Principal(p) = caller else {
            return Ok(InviterAuthority::Unbounded);
        };
        if self
            .check(caller, Action::Invite { inviter: false }, now)
            .is_ok()
        {
            return Ok(InviterAuthority::Unbounded);
        }
        let inviter = self
            .inner
            .config
            .inviter_roles
            .iter()
            .any(|r| p.has_role(r));
        self.check(caller, Action::Invite { inviter }, now)?;
        Ok(InviterAuthority::Inviter {
            held: p.roles.iter().cloned().collect(),
        })
    }

    /// The organization `org_id` as read, with the caller's owner membership when it invites
    /// as an inviter rather than an admin.
    async fn org_standing(
        &self,
        caller: Caller<'_>,
        authority: &InviterAuthority,
        org_id: &str,
    ) -> Result<OrgStanding> {
        let org = self
            .inner
            .store
            .get(RecordKind::Organization, org_id)
            .await?
            .ok_or(Error::NotFound(Missing::Organization))?;
        let owner = match (authority, caller.audit_id()) {
            (InviterAuthority::Inviter { .. }, Some(me)) => self
                .membership_record(org_id, me)
                .await?
                .filter(|(_, m)| crate::org::rules::is_owner(Some(m)))
                .map(|(r, _)| r),
            _ => None,
        };
        Ok(OrgStanding { org, owner })
    }
}
