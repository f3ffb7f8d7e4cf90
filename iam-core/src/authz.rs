//! Authorization: the one decision every adapter goes through.
//!
//! A [`Principal`] says what presented it ([`CredentialKind`]): a login session, a service
//! token, a personal API token, a user-delegated OAuth token, a client-credentials token or an
//! organization token. [`authorize`] decides an [`Action`] from the kind, the roles, the scopes
//! and the time of the last authentication together. The rules, in short:
//!
//! - **Management** (accounts, roles, clients, keys, audit, vault, service tokens, organizations)
//!   accepts a login session or a service token as they are. Delegated credentials (API
//!   tokens, OAuth tokens, client-credentials tokens) reach it only when they carry
//!   [`MANAGEMENT_SCOPE`]; organization tokens never do.
//! - **Self-service** that changes an account's credentials or its existence (revoking
//!   sessions and tokens, TOTP, deletion, minting API tokens) or one's own name needs a login
//!   session; the sensitive ones (TOTP enrolment and removal, deletion, API tokens that carry
//!   roles) also need an authentication within the configured window
//!   ([`Denial::RecentAuthenticationRequired`]).
//! - **Interactive approvals** (consent, device approval, elevation requests) need a login
//!   session of a human account; an elevation is approved by someone other than its requester.
//!
//! The full table is in docs/security-model.md and in this module's tests, cell by cell.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::AccountKind;
use crate::clock::Timestamp;
use crate::error::Denial;
use crate::oidc::OPENID_SCOPE;
use crate::token::Principal;

/// The role that may administer accounts, clients, keys, the vault and the audit log.
pub const ADMIN_ROLE: &str = "admin";

/// The scope a delegated credential (API token, OAuth token) needs to reach iam's own
/// management API. Only admins grant it, and only to first-party clients.
pub const MANAGEMENT_SCOPE: &str = "iam:manage";

/// What presented a principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A login session's access token (possibly carrying elevated roles).
    Session,
    /// A service account's token.
    ServiceToken,
    /// A personal API token.
    ApiToken,
    /// An OAuth token a user delegated to a client (authorization code, device, refresh).
    OAuthUser,
    /// A client-credentials token (acting for the client's owner when `actor` is set).
    ClientCredentials,
    /// A login session's token scoped to one organization.
    OrgToken,
}

impl CredentialKind {
    /// Every kind, in table order.
    pub const ALL: [CredentialKind; 6] = [
        CredentialKind::Session,
        CredentialKind::ServiceToken,
        CredentialKind::ApiToken,
        CredentialKind::OAuthUser,
        CredentialKind::ClientCredentials,
        CredentialKind::OrgToken,
    ];

    /// The stable name (as in the `cred` token claim).
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::ServiceToken => "service_token",
            CredentialKind::ApiToken => "api_token",
            CredentialKind::OAuthUser => "oauth_user",
            CredentialKind::ClientCredentials => "client_credentials",
            CredentialKind::OrgToken => "org_token",
        }
    }

    /// Whether the credential was delegated by its account to something else (a script, a
    /// client): such credentials reach management only with [`MANAGEMENT_SCOPE`].
    pub fn is_delegated(self) -> bool {
        matches!(
            self,
            CredentialKind::ApiToken
                | CredentialKind::OAuthUser
                | CredentialKind::ClientCredentials
        )
    }
}

/// Who asks for an operation: a verified principal, or the embedding application itself.
#[derive(Clone, Copy, Debug)]
pub enum Caller<'a> {
    /// The embedding application, trusted: bootstrap code, an admin CLI linked in-process, a
    /// C program through iam-ffi. Nothing is checked; the audit log names no actor.
    System,
    /// A verified token; every operation is decided by [`authorize`].
    Principal(&'a Principal),
}

impl<'a> Caller<'a> {
    /// The account id the audit log names as actor (`None` for the embedding application).
    pub fn audit_id(&self) -> Option<&'a str> {
        match self {
            Caller::System => None,
            Caller::Principal(p) => Some(&p.account_id),
        }
    }

    /// The principal, unless the caller is the embedding application.
    pub fn principal(&self) -> Option<&'a Principal> {
        match self {
            Caller::System => None,
            Caller::Principal(p) => Some(p),
        }
    }
}

impl<'a> From<Option<&'a Principal>> for Caller<'a> {
    fn from(p: Option<&'a Principal>) -> Self {
        p.map_or(Caller::System, Caller::Principal)
    }
}

impl<'a> From<&'a Principal> for Caller<'a> {
    fn from(p: &'a Principal) -> Self {
        Caller::Principal(p)
    }
}

/// Every operation iam authorizes. `account` is the account acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action<'a> {
    /// Create an account (admin).
    CreateAccount,
    /// List accounts (admin).
    ListAccounts,
    /// Disable, enable, set the password of, or change the roles of an account (admin).
    ManageAccount {
        /// The account.
        account: &'a str,
    },
    /// Rotate the token-signing key (admin).
    RotateSigningKey,
    /// Read or verify the audit log (admin).
    ReadAudit,
    /// Export the audit log with a signed checkpoint of its head (admin).
    ExportAudit,
    /// List every OAuth client (admin).
    ListClients,
    /// Revoke a service account's token (admin).
    RevokeServiceToken,
    /// Store a service account's database credentials (admin).
    StoreDbCredentials,
    /// Read an account and what it holds: sessions, API tokens, grants, memberships (itself or admin).
    ReadAccount {
        /// The account.
        account: &'a str,
    },
    /// Revoke sessions, API tokens or OAuth grants, or cancel a deletion (itself with a session, or admin).
    RevokeCredentials {
        /// The account.
        account: &'a str,
    },
    /// Schedule an account's deletion (itself with a recent session, or admin).
    ScheduleDeletion {
        /// The account.
        account: &'a str,
    },
    /// Remove an account's TOTP (itself with a recent session, or admin).
    RemoveTotp {
        /// The account.
        account: &'a str,
    },
    /// Enrol or confirm one's own TOTP (the account's own session, with a recent sign-in).
    EnrolTotp {
        /// The account.
        account: &'a str,
    },
    /// Change one's own password, proving the current one (a session).
    ChangeOwnPassword,
    /// Change one's own display name (a session).
    ChangeOwnName,
    /// Set an account's profile: name, email and whether the email is verified (admin).
    UpdateProfile {
        /// The account.
        account: &'a str,
    },
    /// Mint a personal API token; one that carries roles needs a recent session.
    CreateApiToken {
        /// Whether the token carries any role.
        carries_roles: bool,
    },
    /// Issue a service account's token (admin, or a holder of the role named like it).
    IssueServiceToken {
        /// The service account's username (the role that may act for it).
        service_role: &'a str,
    },
    /// Renew the presenting service token (the service token itself).
    RenewServiceToken,
    /// Fetch a service account's database credentials (the account itself, or a holder of its role).
    FetchDbCredentials {
        /// The service account's id.
        service_account: &'a str,
        /// Its username (the role that may fetch for it).
        service_role: &'a str,
    },
    /// Register an OAuth client: any account for a client acting for itself; admins for
    /// others and for first-party clients.
    RegisterClient {
        /// Whether the client is first-party (may be granted [`MANAGEMENT_SCOPE`]).
        first_party: bool,
        /// Whether its client-credentials tokens act for the registering account.
        acts_for_owner: bool,
    },
    /// Read, rotate the secret of, or disable an OAuth client (its owner or admin).
    ManageClient {
        /// The account that registered it.
        owner: Option<&'a str>,
    },
    /// Open or end an elevation of one's own session, or prove one's credentials again for
    /// it (a session).
    Elevate,
    /// List elevation requests one may answer (a human's session).
    ListElevationRequests,
    /// Approve or deny an elevation request (another human's session holding the approver role).
    AnswerElevation {
        /// The account that asked.
        requester: &'a str,
        /// The role an approver must hold.
        approver_role: &'a str,
    },
    /// Approve a client's authorization request or a device code (a human's session).
    ApproveDelegation,
    /// Create an organization.
    CreateOrganization,
    /// Read an organization and its members (members and admins).
    ReadOrganization {
        /// Whether the caller is a member.
        member: bool,
    },
    /// Change an organization's memberships (its owners and admins).
    ManageOrganization {
        /// Whether the caller owns the organization.
        owner: bool,
    },
    /// Accept or decline an invitation to an organization (the invited account's session).
    AnswerInvitation {
        /// The invited account.
        account: &'a str,
    },
    /// Mint an organization-scoped token (a session or service token of a member).
    OrgToken,
    /// Read the user's claims from userinfo (a user-delegated OAuth token with `openid`).
    ReadUserInfo,
    /// Invite someone to create an account, or list invitations (admins; holders of a
    /// configured inviter role, who list only their own).
    Invite {
        /// Whether the caller holds one of [`crate::Config::inviter_roles`].
        inviter: bool,
    },
    /// Revoke an invitation (its creator, or admin).
    RevokeInvitation {
        /// The account that created it (`None`: the embedding application).
        creator: Option<&'a str>,
    },
    /// Register a passkey for one's own account (a person's session, signed in recently).
    RegisterPasskey {
        /// The account.
        account: &'a str,
    },
    /// Rename or remove an account's passkey (itself with a recent session, or admin).
    ManagePasskeys {
        /// The account.
        account: &'a str,
    },
}

/// Decides whether `p` may perform `action` at `now`. `recent` is the window within which the
/// last authentication counts as recent (see [`crate::Config::recent_authentication`]).
pub fn authorize(
    p: &Principal,
    action: Action<'_>,
    now: Timestamp,
    recent: Duration,
) -> Result<(), Denial> {
    match action {
        Action::CreateAccount
        | Action::ListAccounts
        | Action::ManageAccount { .. }
        | Action::UpdateProfile { .. }
        | Action::RotateSigningKey
        | Action::ReadAudit
        | Action::ExportAudit
        | Action::ListClients => admin(p),
        Action::RevokeServiceToken
        | Action::StoreDbCredentials
        | Action::ReadOrganization { member: false }
        | Action::ManageOrganization { owner: false } => admin_else_not_permitted(p),
        Action::ReadAccount { account } => self_or_admin(p, account, manage),
        Action::RevokeCredentials { account } => self_or_admin(p, account, session),
        Action::ScheduleDeletion { account }
        | Action::RemoveTotp { account }
        | Action::ManagePasskeys { account } => {
            self_or_admin(p, account, |p| recent_session(p, now, recent))
        }
        Action::ChangeOwnPassword | Action::ChangeOwnName | Action::Elevate => session(p),
        Action::EnrolTotp { account } => {
            own_session(p, account)?;
            recent_session(p, now, recent)
        }
        Action::AnswerInvitation { account } => own_session(p, account),
        Action::RegisterPasskey { account } => {
            human_session(p)?;
            if p.account_id != account {
                return Err(Denial::NotPermitted);
            }
            recent_session(p, now, recent)
        }
        Action::CreateApiToken { carries_roles } => {
            if carries_roles {
                recent_session(p, now, recent)
            } else {
                session(p)
            }
        }
        Action::IssueServiceToken { service_role } => {
            manage(p)?;
            if p.has_role(service_role) || p.has_role(ADMIN_ROLE) {
                Ok(())
            } else {
                Err(Denial::NotPermitted)
            }
        }
        Action::RenewServiceToken => kind(p, CredentialKind::ServiceToken),
        Action::FetchDbCredentials {
            service_account,
            service_role,
        } => {
            if p.account_id == service_account && p.credential == CredentialKind::ServiceToken {
                return Ok(());
            }
            manage(p)?;
            p.require_role(service_role)
                .map_err(|_| Denial::NotPermitted)
        }
        Action::RegisterClient {
            first_party,
            acts_for_owner,
        } => {
            // A client's owner is an account: a client cannot register clients.
            if p.credential == CredentialKind::ClientCredentials {
                return Err(Denial::WrongTokenKind);
            }
            if first_party || !acts_for_owner {
                admin(p)
            } else {
                manage(p)
            }
        }
        Action::ManageClient { owner } => match owner {
            Some(owner) => self_or_admin(p, owner, manage),
            None => admin(p),
        },
        Action::ListElevationRequests | Action::ApproveDelegation => human_session(p),
        Action::AnswerElevation {
            requester,
            approver_role,
        } => {
            human_session(p)?;
            if p.account_id == requester {
                return Err(Denial::SelfApproval);
            }
            p.require_role(approver_role)
        }
        Action::CreateOrganization => manage(p),
        Action::ReadOrganization { member: true } | Action::ManageOrganization { owner: true } => {
            manage(p)
        }
        Action::OrgToken => match p.credential {
            CredentialKind::Session | CredentialKind::ServiceToken => Ok(()),
            _ => Err(Denial::WrongTokenKind),
        },
        Action::Invite { inviter } => {
            if inviter {
                manage(p)
            } else {
                admin(p)
            }
        }
        Action::RevokeInvitation { creator } => match creator {
            Some(creator) => self_or_admin(p, creator, manage),
            None => admin_else_not_permitted(p),
        },
        Action::ReadUserInfo => {
            kind(p, CredentialKind::OAuthUser)?;
            if p.scopes.iter().any(|s| s == OPENID_SCOPE) {
                Ok(())
            } else {
                Err(Denial::MissingScope(OPENID_SCOPE.to_owned()))
            }
        }
    }
}

/// The credential may reach iam's management API.
fn manage(p: &Principal) -> Result<(), Denial> {
    match p.credential {
        CredentialKind::Session | CredentialKind::ServiceToken => Ok(()),
        k if k.is_delegated() => {
            if p.scopes.iter().any(|s| s == MANAGEMENT_SCOPE) {
                Ok(())
            } else {
                Err(Denial::MissingScope(MANAGEMENT_SCOPE.to_owned()))
            }
        }
        _ => Err(Denial::WrongTokenKind),
    }
}

/// A management credential of an admin.
fn admin(p: &Principal) -> Result<(), Denial> {
    manage(p)?;
    p.require_role(ADMIN_ROLE)
}

/// Like [`admin`], but an account without the role is told only [`Denial::NotPermitted`]
/// (for objects whose existence others need not learn).
fn admin_else_not_permitted(p: &Principal) -> Result<(), Denial> {
    manage(p)?;
    p.require_role(ADMIN_ROLE).map_err(|_| Denial::NotPermitted)
}

fn kind(p: &Principal, want: CredentialKind) -> Result<(), Denial> {
    if p.credential == want {
        Ok(())
    } else {
        Err(Denial::WrongTokenKind)
    }
}

/// A login session's token.
fn session(p: &Principal) -> Result<(), Denial> {
    kind(p, CredentialKind::Session)
}

/// A login session of `account` itself.
fn own_session(p: &Principal, account: &str) -> Result<(), Denial> {
    session(p)?;
    if p.account_id == account {
        Ok(())
    } else {
        Err(Denial::NotPermitted)
    }
}

fn human_session(p: &Principal) -> Result<(), Denial> {
    session(p)?;
    if p.kind == AccountKind::Human {
        Ok(())
    } else {
        Err(Denial::WrongTokenKind)
    }
}

/// A login session whose holder authenticated within `window`.
fn recent_session(p: &Principal, now: Timestamp, window: Duration) -> Result<(), Denial> {
    session(p)?;
    if p.auth_time.plus(window) >= now {
        Ok(())
    } else {
        Err(Denial::RecentAuthenticationRequired { max_age: window })
    }
}

/// The account itself under `own`, or an admin. When neither holds, acting on oneself says
/// why `own` failed; acting on another account is [`Denial::NotPermitted`].
fn self_or_admin(
    p: &Principal,
    account: &str,
    own: impl Fn(&Principal) -> Result<(), Denial>,
) -> Result<(), Denial> {
    let is_self = p.account_id == account && p.credential != CredentialKind::ClientCredentials;
    if is_self {
        own(p).or_else(|why| admin(p).map_err(|_| why))
    } else {
        admin(p).map_err(|_| Denial::NotPermitted)
    }
}

/// Scopes that name no role and that any client may ask for (OpenID Connect's standard ones).
pub const STANDARD_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Checks the scopes an OAuth client may be registered with: [`MANAGEMENT_SCOPE`] only on a
/// first-party client, and a client registered by a non-admin only scopes naming roles its
/// owner holds (or [`STANDARD_SCOPES`]).
pub fn check_client_scopes<'s>(
    registrar: &Principal,
    first_party: bool,
    scopes: impl IntoIterator<Item = &'s String>,
) -> Result<(), Denial> {
    let admin = admin(registrar).is_ok();
    for s in scopes {
        if s == MANAGEMENT_SCOPE {
            if !first_party {
                return Err(Denial::NotPermitted);
            }
        } else if !admin && !registrar.has_role(s) && !STANDARD_SCOPES.contains(&s.as_str()) {
            return Err(Denial::MissingRole(s.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
