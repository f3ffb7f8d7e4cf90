//! Invitation rules as pure functions (see [`crate::plan`]): no store, no clock, no runtime.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::account::rules::{create_account, Acting};
use crate::account::{validate_role, Account, NewAccount, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::ADMIN_ROLE;
use crate::clock::Timestamp;
use crate::error::{Denial, Error, InvalidInput, Missing, Result};
use crate::org::rules::membership_writes;
use crate::org::Membership;
use crate::plan::Plan;
use crate::store::{Record, RecordKind, Write};
use crate::token::rules::unchanged;

use super::{Invitation, InvitationState, InvitationStatus, NewInvitation, INVITATION_RETENTION};

/// On what authority an invitation is made: the ceiling on the roles it may preset.
#[derive(Clone, Debug)]
pub(crate) enum InviterAuthority {
    /// The embedding application or an admin: any valid role.
    Unbounded,
    /// A holder of a configured inviter role: only roles it holds itself, never admin.
    Inviter {
        /// The roles the inviter holds.
        held: BTreeSet<String>,
    },
}

/// The organization an invitation joins, as read when it is made: its record, and the
/// inviter's own owner membership record when the inviter manages it as an owner.
#[derive(Clone, Debug)]
pub(crate) struct OrgStanding {
    /// The organization's record.
    pub org: Record,
    /// The inviter's owner membership (`None` for an admin or the application).
    pub owner: Option<Record>,
}

/// The fresh values a new invitation is made with.
#[derive(Clone, Debug)]
pub(crate) struct FreshInvitation {
    /// The public id (`inv_…`).
    pub id: String,
    /// The keyed hash of its secret.
    pub secret_hash: String,
}

/// The roles `authority` may preset, checked: each a valid role name and, for an inviter,
/// one it holds (so never [`ADMIN_ROLE`] unless it is an admin).
pub(crate) fn check_role_ceiling(authority: &InviterAuthority, roles: &[String]) -> Result<()> {
    for role in roles {
        validate_role(role)?;
        if let InviterAuthority::Inviter { held } = authority {
            if role == ADMIN_ROLE || !held.contains(role) {
                return Err(Denial::MissingRole(role.clone()).into());
            }
        }
    }
    Ok(())
}

/// The lifetime of a new invitation: `asked`, else `default`; positive and at most `max`.
pub(crate) fn invitation_lifetime(
    asked: Option<Duration>,
    default: Duration,
    max: Duration,
) -> Result<Duration> {
    let ttl = asked.unwrap_or(default);
    if ttl.is_zero() {
        return Err(InvalidInput::ExpiryInPast.into());
    }
    if ttl > max {
        return Err(InvalidInput::DurationTooLong {
            max_secs: max.as_secs(),
        }
        .into());
    }
    Ok(ttl)
}

/// The stored record of `invitation`, looked up by `secret_hash`.
fn invitation_record(invitation: &Invitation, secret_hash: &str) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::Invitation,
        id: invitation.id.clone(),
        version: 0,
        parent: invitation.created_by.clone(),
        lookup: Some(secret_hash.to_owned()),
        expires_at: Some(invitation.expires_at.plus(INVITATION_RETENTION)),
        body: crate::record_body::to_body(invitation)?,
    })
}

/// Creation of an invitation by `creator` (`None`: the application) on `authority`, with
/// `lifetime` (from [`invitation_lifetime`]), joining the organization read in `org` if any.
pub(crate) fn create_invitation(
    new: &NewInvitation,
    authority: &InviterAuthority,
    org: Option<&OrgStanding>,
    fresh: FreshInvitation,
    creator: Option<&str>,
    lifetime: Duration,
    now: Timestamp,
) -> Result<Plan<Invitation>> {
    check_role_ceiling(authority, &new.roles)?;
    let org_role = match (&new.org_id, org) {
        (None, _) => None,
        (Some(_), None) => return Err(Error::NotFound(Missing::Organization)),
        (Some(id), Some(standing)) => {
            if standing.org.id != *id {
                return Err(Error::NotFound(Missing::Organization));
            }
            if matches!(authority, InviterAuthority::Inviter { .. }) && standing.owner.is_none() {
                return Err(Denial::NotPermitted.into());
            }
            let role = new.org_role.clone().unwrap_or_else(|| "member".to_owned());
            validate_role(&role)?;
            Some(role)
        }
    };
    let invitation = Invitation {
        id: fresh.id,
        roles: new.roles.iter().cloned().collect(),
        org_id: new.org_id.clone(),
        org_role,
        created_by: creator.map(str::to_owned),
        created_at: now,
        expires_at: now.plus(lifetime),
        state: InvitationState::Open,
    };
    let mut plan = Plan::new(invitation.clone());
    if let Some(standing) = org {
        plan = plan.write(unchanged(&standing.org));
        if let Some(owner) = &standing.owner {
            plan = plan.write(unchanged(owner));
        }
    }
    let roles: Vec<&str> = invitation.roles.iter().map(String::as_str).collect();
    Ok(plan
        .write(Write::Insert(invitation_record(
            &invitation,
            &fresh.secret_hash,
        )?))
        .audit(
            AuditDraft::new(AuditKind::InvitationCreated, now)
                .actor(creator)
                .detail("invitation", invitation.id.clone())
                .detail("roles", roles.join(","))
                .detail("org", invitation.org_id.clone().unwrap_or_default())
                .detail("expires_at", invitation.expires_at.as_millis().to_string()),
        ))
}

/// What an invitation (as read; `None`: no such secret) is at `now`.
pub(crate) fn status(found: Option<&Invitation>, now: Timestamp) -> InvitationStatus {
    match found {
        None => InvitationStatus::Unknown,
        Some(i) => match &i.state {
            InvitationState::Used { .. } => InvitationStatus::Used,
            InvitationState::Revoked { .. } => InvitationStatus::Revoked,
            InvitationState::Open if now >= i.expires_at => InvitationStatus::Expired,
            InvitationState::Open => InvitationStatus::Valid(i.clone()),
        },
    }
}

/// Revocation of an open invitation (`read`, as read) by `actor`; a closed one is left as it is.
pub(crate) fn revoke_invitation(
    read: &Record,
    invitation: Invitation,
    actor: Option<&str>,
    now: Timestamp,
) -> Result<Plan<Invitation>> {
    if invitation.state != InvitationState::Open {
        return Ok(Plan::new(invitation));
    }
    let revoked = Invitation {
        state: InvitationState::Revoked { at: now },
        ..invitation
    };
    let record = Record {
        body: crate::record_body::to_body(&revoked)?,
        ..read.clone()
    };
    Ok(Plan::new(revoked.clone())
        .write(Write::Update {
            record,
            expected_version: read.version,
        })
        .audit(
            AuditDraft::new(AuditKind::InvitationRevoked, now)
                .actor(actor)
                .detail("invitation", revoked.id),
        ))
}

/// The creator of an invitation as read when it is used: still allowed to make it?
#[derive(Clone, Debug)]
pub(crate) struct CreatorStanding<'a> {
    /// The creator's account (`None`: deleted).
    pub account: Option<&'a (Record, StoredAccount)>,
    /// The configured inviter roles.
    pub inviter_roles: &'a [String],
}

/// Whether the creator could still make `invitation`: enabled, and an admin or a holder of an
/// inviter role and of every preset role.
fn creator_still_may(invitation: &Invitation, creator: &CreatorStanding<'_>) -> bool {
    let Some((_, account)) = creator.account else {
        return false;
    };
    if account.disabled {
        return false;
    }
    if account.roles.contains(ADMIN_ROLE) {
        return true;
    }
    let inviter = creator
        .inviter_roles
        .iter()
        .any(|r| account.roles.contains(r));
    inviter
        && invitation
            .roles
            .iter()
            .all(|r| r != ADMIN_ROLE && account.roles.contains(r))
}

/// What using an invitation decides: the account it created, or why it was refused.
#[derive(Debug)]
pub(crate) enum Acceptance {
    /// The account was created.
    Accepted(Account),
    /// The invitation could not be used (the refusal is audited for a known invitation).
    Refused(
        #[cfg_attr(not(test), expect(dead_code, reason = "the tests read why"))] InvitationStatus,
    ),
}

/// A refused use of invitation `id` at `now`, for `reason`, audited.
fn refusal(id: &str, reason: &str, outcome: InvitationStatus, now: Timestamp) -> Plan<Acceptance> {
    Plan::new(Acceptance::Refused(outcome)).audit(
        AuditDraft::new(AuditKind::InvitationRefused, now)
            .detail("invitation", id)
            .detail("reason", reason),
    )
}

/// The refusal of a use of an invitation that is not usable at `now` (`found`, as read): an
/// expired, used or revoked one is audited; an unknown secret is not (there is nothing to name).
pub(crate) fn refuse_use(found: Option<(Record, Invitation)>, now: Timestamp) -> Plan<Acceptance> {
    let Some((_, invitation)) = found else {
        return Plan::new(Acceptance::Refused(InvitationStatus::Unknown));
    };
    let outcome = status(Some(&invitation), now);
    let reason = match outcome {
        InvitationStatus::Expired => "expired",
        InvitationStatus::Used => "used",
        InvitationStatus::Revoked => "revoked",
        InvitationStatus::Valid(_) | InvitationStatus::Unknown => {
            return Plan::new(Acceptance::Refused(outcome));
        }
    };
    refusal(&invitation.id, reason, outcome, now)
}

/// The account an invitation's use creates: username, password and the hash of the password.
pub(crate) struct Newcomer {
    /// The account id to give it.
    pub id: String,
    /// The chosen username and password (admitted by the caller).
    pub account: NewAccount,
    /// The password's Argon2id hash.
    pub password_hash: String,
}

/// The use of an invitation (`found`, as read by its secret) by a newcomer at `acting.now`:
/// one commit creates the account with the preset roles, joins the organization (its record
/// read in `org`), and marks the invitation used (compare-and-swap, so only one use wins). An
/// expired, used or revoked invitation is refused, and the refusal audited; so is one whose
/// creator has since lost the authority to make it.
pub(crate) fn accept_invitation(
    found: Option<(Record, Invitation)>,
    org: Option<&Record>,
    creator: Option<&CreatorStanding<'_>>,
    newcomer: Newcomer,
    acting: Acting<'_>,
) -> Result<Plan<Acceptance>> {
    let now = acting.now;
    let Some((read, invitation)) = found else {
        return Ok(Plan::new(Acceptance::Refused(InvitationStatus::Unknown)));
    };
    if !matches!(status(Some(&invitation), now), InvitationStatus::Valid(_)) {
        return Ok(refuse_use(Some((read, invitation)), now));
    }
    if let Some(creator) = creator {
        if !creator_still_may(&invitation, creator) {
            return Ok(refusal(
                &invitation.id,
                "inviter_lost_authority",
                InvitationStatus::Revoked,
                now,
            ));
        }
    }
    if invitation.org_id.is_some() && org.is_none() {
        return Err(Error::NotFound(Missing::Organization));
    }
    let account = NewAccount {
        roles: invitation.roles.iter().cloned().collect(),
        ..newcomer.account
    };
    let created = create_account(
        account,
        newcomer.id,
        Some(newcomer.password_hash),
        Acting {
            actor: invitation.created_by.as_deref(),
            ..acting
        },
    )?;
    let account = created.output;
    let mut plan = Plan::new(());
    plan.commit = created.commit;
    if let Some((creator_record, _)) = creator.and_then(|c| c.account) {
        plan = plan.write(unchanged(creator_record));
    }
    if let (Some(org), Some(org_id), Some(role)) = (org, &invitation.org_id, &invitation.org_role) {
        plan = plan.write(unchanged(org));
        let membership = Membership {
            org_id: org_id.clone(),
            account_id: account.id.clone(),
            role: role.clone(),
            since: now,
            pending: false,
        };
        plan.commit
            .writes
            .extend(membership_writes(None, Some(&membership))?);
    }
    let used = Invitation {
        state: InvitationState::Used {
            account_id: account.id.clone(),
            at: now,
        },
        ..invitation
    };
    let record = Record {
        body: crate::record_body::to_body(&used)?,
        ..read.clone()
    };
    Ok(plan
        .write(Write::Update {
            record,
            expected_version: read.version,
        })
        .audit(
            AuditDraft::new(AuditKind::InvitationUsed, now)
                .actor(Some(&account.id))
                .account(&account.id)
                .detail("invitation", used.id.clone())
                .detail("org", used.org_id.clone().unwrap_or_default()),
        )
        .map(|()| Acceptance::Accepted(account)))
}

#[cfg(test)]
mod tests;
