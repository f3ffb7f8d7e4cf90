//! Upstream-login rules as pure functions (see [`crate::plan`]): no store, no clock, no I/O.
//!
//! The decision of a callback, given the verified upstream claims:
//!
//! - **Linked identity**: the (issuer, subject) pair is linked to an account: that account
//!   signs in (unless disabled).
//! - **Verified email, trusted provider**: no link yet, the upstream asserts `email_verified`
//!   and the provider is trusted for it, and exactly one human account holds that email,
//!   verified locally: the identity is linked to it and it signs in.
//! - **Email of an existing account otherwise**: refused ([`UpstreamRefusal::SignInLocallyToLink`]);
//!   the person signs in locally and links from the account page. This is the account-takeover
//!   defence: an upstream that lets anyone claim any address cannot reach a local account.
//! - **First login**: by the provider's [`Provisioning`]: an account is created (roles from the
//!   groups claim, plus admin for a bootstrap subject or verified email), or the login is
//!   refused ([`UpstreamRefusal::NoLinkedAccount`], [`UpstreamRefusal::InvitationRequired`]).
//!
//! Every outcome is audited; a refusal writes nothing else.

use std::collections::BTreeSet;
use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::account::{account_record, validate_username, AccountKind, Profile, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::ADMIN_ROLE;
use crate::clock::Timestamp;
use crate::error::Result;
use crate::plan::Plan;
use crate::session::rules::refresh_record;
use crate::session::{session_record, Session};
use crate::store::{Record, RecordKind, Write};
use crate::token::rules::unchanged;
use crate::token::Amr;

use super::{
    upstream_link_id, Provisioning, StoredAttempt, UpstreamClaims, UpstreamLink, UpstreamProvider,
    UpstreamPurpose, UpstreamRefusal,
};

/// The fresh values a begun attempt is stored with.
#[derive(Clone, Debug)]
pub(crate) struct FreshAttempt {
    /// The record id: the keyed hash of the `state`.
    pub id: String,
    /// The keyed hash of the browser-binding cookie value.
    pub binding_hash: String,
    /// The sealed nonce.
    pub nonce: String,
    /// The sealed PKCE verifier.
    pub verifier: String,
}

/// The record of a begun attempt through `provider` for `purpose`, usable until `now + ttl`.
pub(crate) fn begin_attempt(
    provider: &str,
    fresh: FreshAttempt,
    purpose: UpstreamPurpose,
    ttl: Duration,
    now: Timestamp,
) -> Result<Plan<()>> {
    let attempt = StoredAttempt {
        provider: provider.to_owned(),
        binding_hash: fresh.binding_hash,
        nonce: fresh.nonce,
        verifier: fresh.verifier,
        purpose,
        expires_at: now.plus(ttl),
    };
    Ok(Plan::new(()).write(Write::Insert(Record {
        kind: RecordKind::UpstreamAttempt,
        id: fresh.id,
        version: 0,
        parent: None,
        lookup: None,
        expires_at: Some(attempt.expires_at),
        body: crate::record_body::to_body(&attempt)?,
    })))
}

/// A refusal through `provider` at `now`: the `upstream.refused` event (naming the upstream
/// identity and the account when known), and the refusal.
pub(crate) fn refusal(
    provider: &str,
    why: UpstreamRefusal,
    claims: Option<&UpstreamClaims>,
    account: Option<&str>,
    now: Timestamp,
) -> Plan<UpstreamRefusal> {
    let mut event = AuditDraft::new(AuditKind::UpstreamRefused, now)
        .detail("provider", provider)
        .detail("reason", why.as_str());
    if let Some(detail) = why.detail() {
        event = event.detail("fault", detail);
    }
    if let Some(c) = claims {
        event = event
            .detail("issuer", c.issuer.clone())
            .detail("subject", c.subject.clone());
    }
    if let Some(account) = account {
        event = event.account(account);
    }
    Plan::new(why).audit(event)
}

/// The callback's consumption of the attempt its `state` named (`found`, as read), on the
/// callback path of `provider`, from the browser whose binding cookie hashes to `binding_hash`.
///
/// An unknown attempt, one of another provider, or an expired one (deleted now) is
/// [`UpstreamRefusal::StateInvalid`]; one begun in another browser is
/// [`UpstreamRefusal::StateFromOtherBrowser`] and stays for its own browser. Otherwise the
/// attempt is deleted (compare-and-swap: it is used at most once) and handed back.
pub(crate) fn take_attempt(
    found: Option<(Record, StoredAttempt)>,
    provider: &str,
    binding_hash: Option<&str>,
    now: Timestamp,
) -> Plan<std::result::Result<StoredAttempt, UpstreamRefusal>> {
    let refuse = |why| refusal(provider, why, None, None, now).map(Err);
    let Some((record, attempt)) = found else {
        return refuse(UpstreamRefusal::StateInvalid);
    };
    if attempt.provider != provider {
        return refuse(UpstreamRefusal::StateInvalid);
    }
    let delete = Write::Delete {
        kind: record.kind,
        id: record.id.clone(),
        expected_version: record.version,
    };
    if now >= attempt.expires_at {
        return refuse(UpstreamRefusal::StateInvalid).write(delete);
    }
    let same_browser = binding_hash.is_some_and(|h| {
        h.len() == attempt.binding_hash.len()
            && bool::from(h.as_bytes().ct_eq(attempt.binding_hash.as_bytes()))
    });
    if !same_browser {
        return refuse(UpstreamRefusal::StateFromOtherBrowser);
    }
    Plan::new(Ok(attempt)).write(delete)
}

/// The roles `provider` maps the upstream `groups` to.
pub(crate) fn mapped_roles(
    provider: &UpstreamProvider,
    claims: &UpstreamClaims,
) -> BTreeSet<String> {
    claims
        .groups
        .iter()
        .filter_map(|g| provider.claims.group_roles.get(g))
        .flatten()
        .cloned()
        .collect()
}

/// Whether the upstream identity is one of `provider`'s bootstrap admins: its subject is
/// listed, or its email is listed and the upstream asserts it verified.
pub(crate) fn is_bootstrap_admin(provider: &UpstreamProvider, claims: &UpstreamClaims) -> bool {
    let b = &provider.bootstrap_admins;
    let by_subject = b.subjects.contains(&claims.subject);
    let by_email = claims.email_verified
        && claims.email.as_deref().is_some_and(|e| {
            b.verified_emails
                .iter()
                .any(|listed| listed.eq_ignore_ascii_case(e))
        });
    by_subject || by_email
}

/// Whether `account` holds `email` (case-insensitively).
fn holds_email(account: &StoredAccount, email: &str) -> bool {
    account
        .profile
        .email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(email))
}

/// What the load step read for a callback's decision.
#[derive(Debug)]
pub(crate) struct UpstreamFacts<'a> {
    /// The provider the callback came through.
    pub provider: &'a UpstreamProvider,
    /// The validated claims.
    pub claims: &'a UpstreamClaims,
    /// The link of (issuer, subject), if any.
    pub link: Option<(Record, UpstreamLink)>,
    /// The account that link names (`None`: no link, or its account is gone).
    pub linked_account: Option<(Record, StoredAccount)>,
    /// Accounts holding the claimed email (read only when no live link exists).
    pub same_email: Vec<(Record, StoredAccount)>,
    /// The account holding the claimed username, if any (read only when provisioning).
    pub username_holder: Option<Record>,
}

/// Fresh values for a sign-in.
#[derive(Debug)]
pub(crate) struct FreshSignIn {
    /// The id of an account provisioned now.
    pub account_id: String,
    /// The new session's id.
    pub session_id: String,
    /// The keyed hash of the new refresh token.
    pub refresh_hash: String,
}

/// How a sign-in concluded.
#[derive(Debug)]
pub(crate) enum SignInDecision {
    /// A session was opened for the account.
    SignedIn {
        /// The account as written.
        account: Box<StoredAccount>,
        /// The new session.
        session: Session,
        /// Whether the account was created now.
        provisioned: bool,
        /// Whether the identity was linked now.
        linked: bool,
    },
    /// Refused (audited).
    Refused(UpstreamRefusal),
}

/// The link record of `link`, listed under its account.
fn link_record(link: &UpstreamLink) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::UpstreamIdentity,
        id: link.id.clone(),
        version: 0,
        parent: Some(link.account_id.clone()),
        lookup: None,
        expires_at: None,
        body: crate::record_body::to_body(link)?,
    })
}

/// A new link of the identity in `claims` (through `provider`) to `account_id`, made `via`.
fn new_link(
    provider: &UpstreamProvider,
    claims: &UpstreamClaims,
    account_id: &str,
    via: &str,
    now: Timestamp,
) -> UpstreamLink {
    UpstreamLink {
        id: upstream_link_id(&claims.issuer, &claims.subject),
        provider: provider.id.clone(),
        issuer: claims.issuer.clone(),
        subject: claims.subject.clone(),
        account_id: account_id.to_owned(),
        linked_at: now,
        via: via.to_owned(),
    }
}

/// The `upstream.linked` event of `link`, by `actor`.
fn linked_event(link: &UpstreamLink, actor: Option<&str>, now: Timestamp) -> AuditDraft {
    AuditDraft::new(AuditKind::UpstreamLinked, now)
        .actor(actor)
        .account(&link.account_id)
        .detail("provider", link.provider.clone())
        .detail("issuer", link.issuer.clone())
        .detail("subject", link.subject.clone())
        .detail("via", link.via.clone())
}

/// The decision of a sign-in callback (see the module docs), at `now`, with a session lasting
/// `session_ttl`.
pub(crate) fn decide_sign_in(
    facts: UpstreamFacts<'_>,
    fresh: FreshSignIn,
    session_ttl: Duration,
    now: Timestamp,
) -> Result<Plan<SignInDecision>> {
    let UpstreamFacts {
        provider,
        claims,
        link,
        linked_account,
        same_email,
        username_holder,
    } = facts;
    let refuse = |why, account: Option<&str>| {
        Ok(refusal(&provider.id, why, Some(claims), account, now).map(SignInDecision::Refused))
    };
    if claims.issuer != provider.issuer {
        return refuse(
            UpstreamRefusal::IdTokenInvalid(super::IdTokenFault::Issuer),
            None,
        );
    }
    let mut plan = Plan::new(());
    // A live link signs its account in.
    if let (Some((link_read, _)), Some((account_read, account))) = (&link, linked_account) {
        if account.disabled {
            return refuse(UpstreamRefusal::AccountDisabled, Some(&account.id));
        }
        plan = plan
            .write(unchanged(link_read))
            .write(unchanged(&account_read));
        return open_session(
            plan,
            provider,
            claims,
            account,
            fresh,
            session_ttl,
            now,
            (false, false),
        );
    }
    // A link whose account is gone is removed; the identity counts as unlinked.
    if let Some((link_read, _)) = &link {
        plan = plan.write(Write::Delete {
            kind: link_read.kind,
            id: link_read.id.clone(),
            expected_version: link_read.version,
        });
    }
    let email_holders: Vec<(Record, StoredAccount)> = match &claims.email {
        Some(email) => same_email
            .into_iter()
            .filter(|(_, a)| holds_email(a, email))
            .collect(),
        None => Vec::new(),
    };
    if !email_holders.is_empty() {
        let may_link = provider.trust_verified_email && claims.email_verified;
        if !may_link {
            return refuse(UpstreamRefusal::SignInLocallyToLink, None);
        }
        let verified: Vec<&(Record, StoredAccount)> = email_holders
            .iter()
            .filter(|(_, a)| a.profile.email_verified && a.kind == AccountKind::Human)
            .collect();
        let [(account_read, account)] = verified.as_slice() else {
            return if verified.is_empty() {
                refuse(UpstreamRefusal::SignInLocallyToLink, None)
            } else {
                refuse(UpstreamRefusal::EmailAmbiguous, None)
            };
        };
        if account.disabled {
            return refuse(UpstreamRefusal::AccountDisabled, Some(&account.id));
        }
        let link = new_link(provider, claims, &account.id, "verified_email", now);
        plan = plan
            .write(unchanged(account_read))
            .write(Write::Insert(link_record(&link)?))
            .audit(linked_event(&link, None, now));
        return open_session(
            plan,
            provider,
            claims,
            account.clone(),
            fresh,
            session_ttl,
            now,
            (false, true),
        );
    }
    match provider.provisioning {
        Provisioning::LinkOnly => return refuse(UpstreamRefusal::NoLinkedAccount, None),
        Provisioning::InvitationRequired => {
            return refuse(UpstreamRefusal::InvitationRequired, None)
        }
        Provisioning::CreateOnFirstLogin => {}
    }
    let Some(username) = claims
        .username
        .as_deref()
        .map(str::to_ascii_lowercase)
        .filter(|u| validate_username(u).is_ok())
    else {
        return refuse(UpstreamRefusal::UsernameUnusable, None);
    };
    if username_holder.is_some() {
        return refuse(UpstreamRefusal::UsernameTaken, None);
    }
    let mut roles = mapped_roles(provider, claims);
    let bootstrap = is_bootstrap_admin(provider, claims);
    if bootstrap {
        roles.insert(ADMIN_ROLE.to_owned());
    }
    let email = claims
        .email
        .as_deref()
        .and_then(|e| crate::account::validate_email(e).ok());
    let account = StoredAccount {
        id: fresh.account_id.clone(),
        username,
        kind: AccountKind::Human,
        roles,
        disabled: false,
        created_at: now,
        password_hash: None,
        totp: None,
        elevatable_roles: BTreeSet::new(),
        deletion_due: None,
        service_grant: None,
        profile: Profile {
            name: claims
                .name
                .as_deref()
                .and_then(|n| crate::account::validate_name(n).ok()),
            email_verified: email.is_some() && claims.email_verified,
            email,
            updated_at: None,
        },
        sessions_revoked_before: None,
    };
    let link = new_link(provider, claims, &account.id, "provisioned", now);
    plan = plan
        .write(Write::Insert(account_record(&account)?))
        .write(Write::Insert(link_record(&link)?))
        .audit(
            AuditDraft::new(AuditKind::UpstreamProvisioned, now)
                .account(&account.id)
                .detail("provider", provider.id.clone())
                .detail("issuer", claims.issuer.clone())
                .detail("subject", claims.subject.clone())
                .detail("username", account.username.clone())
                .detail(
                    "roles",
                    account.roles.iter().cloned().collect::<Vec<_>>().join(","),
                )
                .detail("bootstrap_admin", bootstrap.to_string()),
        );
    open_session(
        plan,
        provider,
        claims,
        account,
        fresh,
        session_ttl,
        now,
        (true, true),
    )
}

/// Adds to `plan` a session of `account` opened through `provider`: `amr` `["fed"]`, the
/// upstream's `acr`, its refresh token, and the `upstream.login` event. `(provisioned,
/// linked)` say what else the plan did.
#[allow(clippy::too_many_arguments)]
fn open_session(
    plan: Plan<()>,
    provider: &UpstreamProvider,
    claims: &UpstreamClaims,
    account: StoredAccount,
    fresh: FreshSignIn,
    session_ttl: Duration,
    now: Timestamp,
    (provisioned, linked): (bool, bool),
) -> Result<Plan<SignInDecision>> {
    let session = Session {
        id: fresh.session_id,
        account_id: account.id.clone(),
        created_at: account.session_begins(now),
        expires_at: now.plus(session_ttl),
        revoked_at: None,
        last_refreshed_at: None,
        auth_time: now,
        amr: vec![Amr::Federated.into()],
        elevations: vec![],
        upstream_acr: claims.acr.clone(),
    };
    let mut event = AuditDraft::new(AuditKind::UpstreamLogin, now)
        .actor(Some(&account.id))
        .account(&account.id)
        .session(&session.id)
        .detail("provider", provider.id.clone())
        .detail("issuer", claims.issuer.clone())
        .detail("subject", claims.subject.clone())
        .detail("amr", session.amr.join(","));
    if let Some(acr) = &session.upstream_acr {
        event = event.detail("acr", acr.clone());
    }
    let plan = plan
        .write(Write::Insert(session_record(&session)?))
        .write(Write::Insert(refresh_record(
            fresh.refresh_hash,
            &session,
            now,
        )?))
        .audit(event);
    Ok(plan.map(|()| SignInDecision::SignedIn {
        account: Box::new(account),
        session,
        provisioned,
        linked,
    }))
}

/// How a link callback concluded.
#[derive(Debug)]
pub(crate) enum LinkDecision {
    /// Linked now, or already linked to this account.
    Linked(UpstreamLink),
    /// Refused (audited).
    Refused(UpstreamRefusal),
}

/// The decision of a link callback: the identity in `claims` (through `provider`, its link as
/// read in `link`) is linked to `target`, the signed-in account (as read), by itself. An
/// identity linked to another account is refused; one already linked to `target` is left as
/// it is.
pub(crate) fn decide_link(
    provider: &UpstreamProvider,
    claims: &UpstreamClaims,
    link: Option<(Record, UpstreamLink)>,
    target: &(Record, StoredAccount),
    now: Timestamp,
) -> Result<Plan<LinkDecision>> {
    let (target_read, account) = target;
    let refuse = |why| {
        Ok(
            refusal(&provider.id, why, Some(claims), Some(&account.id), now)
                .map(LinkDecision::Refused),
        )
    };
    if claims.issuer != provider.issuer {
        return refuse(UpstreamRefusal::IdTokenInvalid(super::IdTokenFault::Issuer));
    }
    if account.disabled || account.kind != AccountKind::Human {
        return refuse(UpstreamRefusal::AccountDisabled);
    }
    if let Some((_, existing)) = link {
        if existing.account_id == account.id {
            return Ok(Plan::new(LinkDecision::Linked(existing)));
        }
        return refuse(UpstreamRefusal::LinkedToOtherAccount);
    }
    let link = new_link(provider, claims, &account.id, "user", now);
    Ok(Plan::new(LinkDecision::Linked(link.clone()))
        .write(unchanged(target_read))
        .write(Write::Insert(link_record(&link)?))
        .audit(linked_event(&link, Some(&account.id), now)))
}

/// The removal of `link` (as read) by `actor`, audited.
pub(crate) fn unlink(
    read: &Record,
    link: &UpstreamLink,
    actor: Option<&str>,
    now: Timestamp,
) -> Plan<()> {
    Plan::new(())
        .write(Write::Delete {
            kind: read.kind,
            id: read.id.clone(),
            expected_version: read.version,
        })
        .audit(
            AuditDraft::new(AuditKind::UpstreamUnlinked, now)
                .actor(actor)
                .account(&link.account_id)
                .detail("provider", link.provider.clone())
                .detail("issuer", link.issuer.clone())
                .detail("subject", link.subject.clone()),
        )
}

#[cfg(test)]
mod tests;
