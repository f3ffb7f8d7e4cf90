//! The JSON shapes of the REST API: request bodies (strict: unknown fields refused) and answers.

use std::collections::BTreeSet;

use iam_core::session::ActiveElevation;
use iam_core::{
    Account, AccountKind, ApiTokenInfo, ElevationRequest, Membership, Organization, Principal,
    SecretString, Session, Timestamp, TokenPair, TotpStatus,
};
use serde::{Deserialize, Deserializer, Serialize};

/// A secret from a request body: zeroized on drop, never printed.
pub(crate) struct Secret(pub SecretString);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Secret(SecretString::new(s)))
    }
}

/// RFC 3339 text of a timestamp.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339()
}

fn opt_time(t: Option<Timestamp>) -> Option<String> {
    t.map(rfc3339)
}

// ---- requests ---------------------------------------------------------------------------

/// `POST /login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    pub username: String,
    pub password: Secret,
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// `POST /refresh`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshBody {
    pub refresh_token: Secret,
}

/// `POST /totp/confirm`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TotpCodeBody {
    pub code: String,
}

/// `POST /accounts`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccountBody {
    pub username: String,
    #[serde(default = "human")]
    pub kind: AccountKind,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub roles: Vec<String>,
}

fn human() -> AccountKind {
    AccountKind::Human
}

/// `PUT /accounts/{id}/password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordBody {
    pub password: Secret,
}

/// `PUT /password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordBody {
    pub current_password: Secret,
    pub new_password: Secret,
}

/// `POST /api-tokens`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApiTokenBody {
    pub label: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Lifetime in seconds from now.
    pub expires_in: u64,
}

/// `POST /elevation`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ElevateBody {
    pub role: String,
    /// Requested duration in seconds (the role's maximum when absent).
    #[serde(default)]
    pub duration: Option<u64>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// `POST /reauthenticate`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReauthenticateBody {
    pub password: Secret,
    /// Required when the account has TOTP on.
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// `PUT /accounts/{id}/db-credentials`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DbCredentialsBody {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: Secret,
}

/// `POST /orgs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrgBody {
    pub name: String,
}

/// `PUT /orgs/{id}/members/{account}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberBody {
    pub role: String,
}

/// Query of `GET /accounts`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountListQuery {
    pub after: Option<String>,
    pub limit: Option<usize>,
    pub username: Option<String>,
}

/// Query of `GET /sessions` and `GET /api-tokens`: whose (an admin may name another account).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct OwnerQuery {
    pub account_id: Option<String>,
}

/// Query of `GET /audit`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditListQuery {
    pub account: Option<String>,
    pub kind: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub after_seq: Option<u64>,
    pub limit: Option<usize>,
}

// ---- answers ----------------------------------------------------------------------------

/// A token pair.
#[derive(Serialize)]
pub(crate) struct TokensOut {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub session_id: String,
}

impl From<&TokenPair> for TokensOut {
    fn from(t: &TokenPair) -> Self {
        TokensOut {
            access_token: t.access_token.expose().to_owned(),
            refresh_token: t.refresh_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: t.expires_in,
            session_id: t.session_id.clone(),
        }
    }
}

/// `POST /login`'s answer.
#[derive(Serialize)]
pub(crate) struct LoginOut {
    #[serde(flatten)]
    pub tokens: TokensOut,
    pub account: AccountOut,
}

/// An account.
#[derive(Serialize)]
pub(crate) struct AccountOut {
    pub id: String,
    pub username: String,
    pub kind: AccountKind,
    pub roles: BTreeSet<String>,
    pub elevatable_roles: BTreeSet<String>,
    pub disabled: bool,
    pub has_password: bool,
    pub totp: TotpStatus,
    pub deletion_due: Option<String>,
    pub created_at: String,
}

impl From<Account> for AccountOut {
    fn from(a: Account) -> Self {
        AccountOut {
            id: a.id,
            username: a.username,
            kind: a.kind,
            roles: a.roles,
            elevatable_roles: a.elevatable_roles,
            disabled: a.disabled,
            has_password: a.has_password,
            totp: a.totp,
            deletion_due: opt_time(a.deletion_due),
            created_at: rfc3339(a.created_at),
        }
    }
}

/// An open elevation.
#[derive(Serialize)]
pub(crate) struct ElevationOut {
    pub role: String,
    pub since: String,
    pub until: String,
}

impl From<&ActiveElevation> for ElevationOut {
    fn from(e: &ActiveElevation) -> Self {
        ElevationOut {
            role: e.role.clone(),
            since: rfc3339(e.since),
            until: rfc3339(e.until),
        }
    }
}

/// A session.
#[derive(Serialize)]
pub(crate) struct SessionOut {
    pub id: String,
    pub account_id: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub last_refreshed_at: Option<String>,
    pub auth_time: String,
    pub amr: Vec<String>,
    pub elevations: Vec<ElevationOut>,
    pub current: bool,
}

impl SessionOut {
    pub fn new(s: &Session, current_session: &str) -> Self {
        SessionOut {
            id: s.id.clone(),
            account_id: s.account_id.clone(),
            created_at: rfc3339(s.created_at),
            expires_at: rfc3339(s.expires_at),
            revoked_at: opt_time(s.revoked_at),
            last_refreshed_at: opt_time(s.last_refreshed_at),
            auth_time: rfc3339(s.auth_time),
            amr: s.amr.clone(),
            elevations: s.elevations.iter().map(ElevationOut::from).collect(),
            current: s.id == current_session,
        }
    }
}

/// An organization reference in a principal.
#[derive(Serialize)]
pub(crate) struct OrgRef {
    pub id: String,
    pub role: String,
}

/// `GET /whoami`.
#[derive(Serialize)]
pub(crate) struct PrincipalOut {
    pub account_id: String,
    pub session_id: String,
    pub token_id: String,
    pub kind: AccountKind,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub amr: Vec<String>,
    pub issued_at: String,
    pub expires_at: String,
    pub auth_time: String,
    pub org: Option<OrgRef>,
    pub elevated_roles: Vec<String>,
    pub elevated_until: Option<String>,
}

impl From<Principal> for PrincipalOut {
    fn from(p: Principal) -> Self {
        PrincipalOut {
            account_id: p.account_id,
            session_id: p.session_id,
            token_id: p.token_id,
            kind: p.kind,
            roles: p.roles,
            scopes: p.scopes,
            amr: p.amr,
            issued_at: rfc3339(p.issued_at),
            expires_at: rfc3339(p.expires_at),
            auth_time: rfc3339(p.auth_time),
            org: p.org.map(|(id, role)| OrgRef { id, role }),
            elevated_roles: p.elevated_roles,
            elevated_until: opt_time(p.elevated_until),
        }
    }
}

/// An API token's metadata.
#[derive(Serialize)]
pub(crate) struct ApiTokenOut {
    pub id: String,
    pub account_id: String,
    pub label: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

impl From<ApiTokenInfo> for ApiTokenOut {
    fn from(i: ApiTokenInfo) -> Self {
        ApiTokenOut {
            id: i.id,
            account_id: i.account_id,
            label: i.label,
            scopes: i.scopes,
            created_at: rfc3339(i.created_at),
            expires_at: rfc3339(i.expires_at),
            revoked_at: opt_time(i.revoked_at),
        }
    }
}

/// A pending elevation request.
#[derive(Serialize)]
pub(crate) struct ElevationRequestOut {
    pub id: String,
    pub account_id: String,
    pub session_id: String,
    pub role: String,
    pub duration: u64,
    pub created_at: String,
    pub expires_at: String,
}

impl From<ElevationRequest> for ElevationRequestOut {
    fn from(r: ElevationRequest) -> Self {
        ElevationRequestOut {
            id: r.id,
            account_id: r.account_id,
            session_id: r.session_id,
            role: r.role,
            duration: r.duration_ms / 1000,
            created_at: rfc3339(r.created_at),
            expires_at: rfc3339(r.expires_at),
        }
    }
}

/// An organization.
#[derive(Serialize)]
pub(crate) struct OrgOut {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

impl From<Organization> for OrgOut {
    fn from(o: Organization) -> Self {
        OrgOut {
            id: o.id,
            name: o.name,
            created_at: rfc3339(o.created_at),
        }
    }
}

/// A membership.
#[derive(Serialize)]
pub(crate) struct MembershipOut {
    pub org_id: String,
    pub account_id: String,
    pub role: String,
    pub since: String,
}

impl From<Membership> for MembershipOut {
    fn from(m: Membership) -> Self {
        MembershipOut {
            org_id: m.org_id,
            account_id: m.account_id,
            role: m.role,
            since: rfc3339(m.since),
        }
    }
}
