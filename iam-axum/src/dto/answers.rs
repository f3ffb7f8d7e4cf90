//! Answers of the REST API. Secrets in an answer (new tokens, a client secret, fetched
//! credentials) are meant for the caller and are shown once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use iam_core::oauth::OAuthClient;
use iam_core::session::ActiveElevation;
use iam_core::{
    Account, AccountKind, ApiTokenInfo, AuditEvent, ElevationRequest, Invitation, InvitationState,
    Membership, Organization, PasskeyChallenge, PasskeyInfo, Principal, Profile, PublicKeyInfo,
    ServiceToken, Session, TokenPair, TotpEnrolment, TotpStatus,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{opt_time, rfc3339, TokenType};

/// Declares answers that wrap one list under one key, e.g. `{"accounts": [...]}`.
macro_rules! list_answers {
    ($($(#[doc = $doc:literal])* $name:ident { $field:ident: $item:ty })*) => {$(
        $(#[doc = $doc])*
        #[derive(Serialize, Deserialize, JsonSchema)]
        pub struct $name {
            /// The items, in the server's order.
            pub $field: Vec<$item>,
        }

        impl From<Vec<$item>> for $name {
            fn from($field: Vec<$item>) -> Self {
                $name { $field }
            }
        }
    )*};
}

list_answers! {
    /// `GET /accounts`.
    AccountList { accounts: AccountOut }
    /// `GET /sessions`.
    SessionList { sessions: SessionOut }
    /// `GET /api-tokens`.
    ApiTokenList { api_tokens: ApiTokenOut }
    /// `GET /elevation/requests`.
    ElevationRequestList { requests: ElevationRequestOut }
    /// `GET /audit`.
    AuditEventList { events: AuditEventOut }
    /// `GET /orgs/{id}/members`.
    MemberList { members: MembershipOut }
    /// `GET /accounts/{id}/memberships`.
    MembershipList { memberships: MembershipOut }
    /// `GET /clients`.
    ClientList { clients: OAuthClient }
    /// `GET /invitations`.
    InvitationList { invitations: InvitationOut }
    /// `GET /passkeys`.
    PasskeyList { passkeys: PasskeyOut }
    /// `GET /keys`.
    KeyList { keys: PaserkKeyOut }
    /// `GET /keys/jwks.json` and `GET /oauth2/jwks`: an RFC 7517 JWK set (the PASETO Ed25519
    /// keys and the JWT keys: RS256, ES256, EdDSA).
    JwkSet { keys: serde_json::Value }
}

/// A token pair: `POST /refresh`, and the tokens of `POST /login`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct TokensOut {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: TokenType,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The session both tokens belong to.
    pub session_id: String,
}

impl From<&TokenPair> for TokensOut {
    fn from(t: &TokenPair) -> Self {
        TokensOut {
            access_token: t.access_token.expose().to_owned(),
            refresh_token: t.refresh_token.expose().to_owned(),
            token_type: TokenType::Bearer,
            expires_in: t.expires_in,
            session_id: t.session_id.clone(),
        }
    }
}

/// `POST /login`'s answer.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct LoginOut {
    /// The new session's tokens.
    #[serde(flatten)]
    pub tokens: TokensOut,
    /// The account that logged in.
    pub account: AccountOut,
}

/// An access token without a refresh token: `POST /reauthenticate`, `POST /orgs/{id}/token`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct AccessTokenOut {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: TokenType,
}

impl AccessTokenOut {
    /// A bearer token.
    pub fn bearer(access_token: impl Into<String>) -> Self {
        AccessTokenOut {
            access_token: access_token.into(),
            token_type: TokenType::Bearer,
        }
    }
}

/// An account.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct AccountOut {
    /// The account id.
    pub id: String,
    /// The username.
    pub username: String,
    /// Human or system.
    pub kind: AccountKind,
    /// Standing roles.
    pub roles: BTreeSet<String>,
    /// Roles the account may open by elevation.
    pub elevatable_roles: BTreeSet<String>,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// The TOTP state.
    pub totp: TotpStatus,
    /// When a scheduled deletion happens.
    #[schemars(schema_with = "super::schema::opt_date_time")]
    pub deletion_due: Option<String>,
    /// Creation time.
    #[schemars(schema_with = "super::schema::date_time")]
    pub created_at: String,
    /// Name and email.
    #[serde(default)]
    pub profile: ProfileOut,
}

/// An account's profile (what OpenID Connect's userinfo serves besides the username).
#[derive(Default, Serialize, Deserialize, JsonSchema)]
pub struct ProfileOut {
    /// The display name.
    pub name: Option<String>,
    /// The email address.
    pub email: Option<String>,
    /// Whether an admin marked the email address verified.
    pub email_verified: bool,
    /// When the profile last changed (`null` until the first change).
    #[schemars(schema_with = "super::schema::opt_date_time")]
    pub updated_at: Option<String>,
}

impl From<Profile> for ProfileOut {
    fn from(p: Profile) -> Self {
        ProfileOut {
            name: p.name,
            email: p.email,
            email_verified: p.email_verified,
            updated_at: opt_time(p.updated_at),
        }
    }
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
            profile: a.profile.into(),
        }
    }
}

/// How many were revoked: `DELETE /sessions`, `DELETE /accounts/{id}/sessions`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct RevokedOut {
    /// The number of sessions revoked.
    pub revoked: usize,
}

/// `POST /accounts/{id}/deletion`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct DeletionOut {
    /// When the account will be deleted (unless cancelled before).
    #[schemars(schema_with = "super::schema::date_time")]
    pub deletion_due: String,
}

/// `POST /totp/enrol`: the new TOTP secret, shown once.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct TotpEnrolmentOut {
    /// The shared secret in base32.
    pub secret: String,
    /// The `otpauth://` URI (for a QR code); it contains the secret.
    pub uri: String,
}

impl From<&TotpEnrolment> for TotpEnrolmentOut {
    fn from(e: &TotpEnrolment) -> Self {
        TotpEnrolmentOut {
            secret: e.secret_base32.expose().to_owned(),
            uri: e.uri.expose().to_owned(),
        }
    }
}

/// An open elevation.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ElevationOut {
    /// The role.
    pub role: String,
    /// When it was opened.
    #[schemars(schema_with = "super::schema::date_time")]
    pub since: String,
    /// When it closes.
    #[schemars(schema_with = "super::schema::date_time")]
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

/// Where an elevation stands: `POST /elevation` (active or pending) and
/// `POST /elevation/requests/{id}/approve` (approved); tagged by `status`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ElevationStatusOut {
    /// The role is open for the session now (200).
    Active {
        /// The open elevation.
        elevation: ElevationOut,
        /// An access token carrying the role.
        access_token: String,
        /// Always `Bearer`.
        token_type: TokenType,
    },
    /// The role needs approval (202).
    Pending {
        /// The request id, for the approver.
        request_id: String,
        /// When the request lapses unanswered.
        #[schemars(schema_with = "super::schema::date_time")]
        expires_at: String,
    },
    /// An approver opened the role for the requesting session.
    Approved {
        /// The open elevation.
        elevation: ElevationOut,
    },
}

/// A session.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct SessionOut {
    /// The session id.
    pub id: String,
    /// Its account.
    pub account_id: String,
    /// When it began.
    #[schemars(schema_with = "super::schema::date_time")]
    pub created_at: String,
    /// When it ends unless renewed.
    #[schemars(schema_with = "super::schema::date_time")]
    pub expires_at: String,
    /// When it was revoked.
    #[schemars(schema_with = "super::schema::opt_date_time")]
    pub revoked_at: Option<String>,
    /// When its refresh token last rotated.
    #[schemars(schema_with = "super::schema::opt_date_time")]
    pub last_refreshed_at: Option<String>,
    /// When the user last authenticated.
    #[schemars(schema_with = "super::schema::date_time")]
    pub auth_time: String,
    /// How the user authenticated (`pwd`, `otp`, ...).
    pub amr: Vec<String>,
    /// Open elevations.
    pub elevations: Vec<ElevationOut>,
    /// Whether this is the caller's session.
    pub current: bool,
}

impl SessionOut {
    /// The answer for `s`, marked current when it is `current_session`.
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct OrgRef {
    /// The organization id.
    pub id: String,
    /// The account's role in it.
    pub role: String,
}

/// `GET /whoami`: what the caller's token says.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct PrincipalOut {
    /// The account.
    pub account_id: String,
    /// The session or grant.
    pub session_id: String,
    /// The token id.
    pub token_id: String,
    /// Human or system.
    pub kind: AccountKind,
    /// Roles the token carries.
    pub roles: Vec<String>,
    /// Scopes the token carries.
    pub scopes: Vec<String>,
    /// How the user authenticated.
    pub amr: Vec<String>,
    /// When the token was issued.
    #[schemars(schema_with = "super::schema::date_time")]
    pub issued_at: String,
    /// When the token expires.
    #[schemars(schema_with = "super::schema::date_time")]
    pub expires_at: String,
    /// When the user last authenticated.
    #[schemars(schema_with = "super::schema::date_time")]
    pub auth_time: String,
    /// The organization of an organization token.
    pub org: Option<OrgRef>,
    /// Roles open by elevation.
    pub elevated_roles: Vec<String>,
    /// When the elevation ends.
    #[schemars(schema_with = "super::schema::opt_date_time")]
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

/// A service account's token: `POST /accounts/{id}/service-token`, `POST
/// /service-token/renew`. The token is shown once.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ServiceTokenOut {
    /// The token the service presents.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: TokenType,
    /// The grant id (the token's `sid`).
    pub grant_id: String,
    /// When it expires.
    #[schemars(schema_with = "super::schema::date_time")]
    pub expires_at: String,
}

impl From<&ServiceToken> for ServiceTokenOut {
    fn from(t: &ServiceToken) -> Self {
        ServiceTokenOut {
            token: t.token.expose().to_owned(),
            token_type: TokenType::Bearer,
            grant_id: t.grant_id.clone(),
            expires_at: rfc3339(t.expires_at),
        }
    }
}

/// An API token's metadata.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ApiTokenOut {
    /// The token id.
    pub id: String,
    /// Its owner.
    pub account_id: String,
    /// The owner's label.
    pub label: String,
    /// The scopes it carries.
    pub scopes: Vec<String>,
    /// Creation time.
    #[schemars(schema_with = "super::schema::date_time")]
    pub created_at: String,
    /// Expiry.
    #[schemars(schema_with = "super::schema::date_time")]
    pub expires_at: String,
    /// When it was revoked.
    #[schemars(schema_with = "super::schema::opt_date_time")]
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

/// `POST /api-tokens`: the new token (shown once) and its metadata.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct NewApiTokenOut {
    /// The token.
    pub token: String,
    /// Its metadata.
    pub info: ApiTokenOut,
}

/// An invitation (never its secret).
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct InvitationOut {
    /// The invitation id.
    pub id: String,
    /// Standing roles the new account gets.
    pub roles: Vec<String>,
    /// The organization the new account joins.
    pub org_id: Option<String>,
    /// Its role there.
    pub org_role: Option<String>,
    /// The inviting account (`null`: the server's application).
    pub created_by: Option<String>,
    /// Creation time.
    #[schemars(schema_with = "super::schema::date_time")]
    pub created_at: String,
    /// When it stops being usable.
    #[schemars(schema_with = "super::schema::date_time")]
    pub expires_at: String,
    /// `open`, `used` or `revoked` (an open one past `expires_at` can no longer be used).
    pub state: InvitationStateOut,
    /// The account it created, once used.
    pub account_id: Option<String>,
    /// When it was used or revoked.
    #[schemars(schema_with = "super::schema::opt_date_time")]
    pub closed_at: Option<String>,
}

/// Where an invitation stands.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStateOut {
    /// Not used yet.
    Open,
    /// Used to create an account.
    Used,
    /// Revoked.
    Revoked,
}

impl From<Invitation> for InvitationOut {
    fn from(i: Invitation) -> Self {
        let (state, account_id, closed_at) = match i.state {
            InvitationState::Open => (InvitationStateOut::Open, None, None),
            InvitationState::Used { account_id, at } => {
                (InvitationStateOut::Used, Some(account_id), Some(at))
            }
            InvitationState::Revoked { at } => (InvitationStateOut::Revoked, None, Some(at)),
        };
        InvitationOut {
            id: i.id,
            roles: i.roles.into_iter().collect(),
            org_id: i.org_id,
            org_role: i.org_role,
            created_by: i.created_by,
            created_at: rfc3339(i.created_at),
            expires_at: rfc3339(i.expires_at),
            state,
            account_id,
            closed_at: opt_time(closed_at),
        }
    }
}

/// `POST /invitations`: the secret (shown once; the link is `/invite/{secret}` on the server's
/// pages) and the invitation.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct NewInvitationOut {
    /// The secret to hand on (`iam_inv_…`).
    pub secret: String,
    /// The invitation.
    pub invitation: InvitationOut,
}

/// A pending elevation request.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ElevationRequestOut {
    /// The request id.
    pub id: String,
    /// The requesting account.
    pub account_id: String,
    /// The session the role would open for.
    pub session_id: String,
    /// The role.
    pub role: String,
    /// Requested duration in seconds.
    pub duration: u64,
    /// When it was filed.
    #[schemars(schema_with = "super::schema::date_time")]
    pub created_at: String,
    /// When it lapses unanswered.
    #[schemars(schema_with = "super::schema::date_time")]
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

/// An audit event.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct AuditEventOut {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When it happened.
    #[schemars(schema_with = "super::schema::date_time")]
    pub at: String,
    /// What happened (`login_succeeded`, ...).
    pub kind: String,
    /// Who did it.
    pub actor: Option<String>,
    /// The account it concerns.
    pub account: Option<String>,
    /// The session it concerns.
    pub session: Option<String>,
    /// Further non-secret facts.
    pub detail: BTreeMap<String, String>,
    /// The previous event's hash (hex).
    pub prev_hash: String,
    /// This event's hash (hex).
    pub hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl From<&AuditEvent> for AuditEventOut {
    fn from(e: &AuditEvent) -> Self {
        let d = &e.draft;
        AuditEventOut {
            seq: e.seq,
            at: rfc3339(d.at),
            kind: d.kind.as_str().to_owned(),
            actor: d.actor.clone(),
            account: d.account.clone(),
            session: d.session.clone(),
            detail: d.detail.clone(),
            prev_hash: hex(&e.prev_hash),
            hash: hex(&e.hash),
        }
    }
}

/// `GET /audit/verify`: `{"intact": true, "events": n}` or `{"intact": false, "break": "..."}`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct AuditVerifyOut {
    /// Whether the hash chain is unbroken.
    pub intact: bool,
    /// How many events were checked (intact chains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// Where and how the chain breaks (broken chains).
    #[serde(rename = "break", default, skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<String>,
}

/// `POST /keys/rotate`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ActiveKeyOut {
    /// The PASERK id of the new active signing key.
    pub active_kid: String,
}

/// A token-verification key as PASERK, in `GET /keys`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct PaserkKeyOut {
    /// The PASERK id (`k4.pid.…`).
    pub kid: String,
    /// The key (`k4.public.…`).
    pub paserk: String,
    /// Whether the key signs new tokens.
    pub active: bool,
}

impl From<PublicKeyInfo> for PaserkKeyOut {
    fn from(k: PublicKeyInfo) -> Self {
        PaserkKeyOut {
            kid: k.kid,
            paserk: k.paserk,
            active: k.active,
        }
    }
}

/// `GET /health`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct HealthOut {
    /// Whether this instance can check tokens.
    pub status: Health,
}

/// The state `GET /health` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Tokens are checked (200).
    Ok,
    /// The revocation list is not current; every token check fails closed (503).
    RevocationUnavailable,
}

/// An organization.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct OrgOut {
    /// The organization id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Creation time.
    #[schemars(schema_with = "super::schema::date_time")]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct MembershipOut {
    /// The organization.
    pub org_id: String,
    /// The member.
    pub account_id: String,
    /// The member's role.
    pub role: String,
    /// Since when.
    #[schemars(schema_with = "super::schema::date_time")]
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

/// `POST /clients`: the registered client and, for a confidential one, its secret (shown
/// once).
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct RegisteredClientOut {
    /// The client.
    pub client: OAuthClient,
    /// The secret of a confidential client.
    pub client_secret: Option<String>,
}

/// `POST /clients/{id}/secret`: the new secret, shown once.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ClientSecretOut {
    /// The new secret.
    pub client_secret: String,
}

/// `POST /clients/{id}/disable`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ClientDisabledOut {
    /// How many token families of the client were revoked.
    pub revoked_token_families: usize,
}

/// Every REST error: `{"error": "<stable_code>", "message": "..."}`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ErrorOut {
    /// The stable machine-readable code.
    #[schemars(schema_with = "super::schema::error_code")]
    pub error: String,
    /// A human-readable message.
    pub message: String,
}

/// An error of the OAuth side that RFC 6749 does not name, in its shape:
/// `{"error": "...", "error_description": "..."}`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct OAuthStyleErrorOut {
    /// The error code.
    pub error: String,
    /// A human-readable description.
    pub error_description: String,
}

/// A WebFinger answer (RFC 7033 JRD).
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct JrdOut {
    /// The resource asked about (`acct:user@host`).
    pub subject: String,
    /// The links asked for.
    pub links: Vec<JrdLink>,
}

/// A link of a [`JrdOut`].
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct JrdLink {
    /// The relation.
    pub rel: String,
    /// The target.
    pub href: String,
}

impl JwkSet {
    /// The JWK set of `keys`.
    pub fn of(keys: Vec<PublicKeyInfo>) -> Self {
        keys.into_iter().map(|k| k.jwk).collect::<Vec<_>>().into()
    }

    /// The JWK set of an RFC 7517 `{"keys": [...]}` document, such as [`iam_core::Iam::jwks`] gives.
    pub fn from_document(mut document: serde_json::Value) -> Self {
        match document.get_mut("keys").map(serde_json::Value::take) {
            Some(serde_json::Value::Array(keys)) => keys.into(),
            _ => Vec::new().into(),
        }
    }
}

/// A started passkey ceremony: `POST /passkeys/registration`, `POST /passkeys/step-up` and
/// `POST /login/passkey`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct PasskeyChallengeOut {
    /// The ceremony id, to finish it with (single-use).
    pub ceremony: String,
    /// What the browser's `navigator.credentials.create()` (registration) or `.get()`
    /// (sign-in, step-up) takes: `{"publicKey": {...}}`, binary values in base64url.
    #[schemars(schema_with = "super::schema::passkey_options")]
    pub options: serde_json::Value,
    /// When the ceremony closes.
    #[schemars(schema_with = "super::schema::date_time")]
    pub expires_at: String,
}

impl From<PasskeyChallenge> for PasskeyChallengeOut {
    fn from(c: PasskeyChallenge) -> Self {
        PasskeyChallengeOut {
            ceremony: c.ceremony,
            options: c.options,
            expires_at: rfc3339(c.expires_at),
        }
    }
}

/// A registered passkey (no key material).
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct PasskeyOut {
    /// The passkey id (`pk_…`).
    pub id: String,
    /// Its label.
    pub label: String,
    /// The WebAuthn credential id (base64url).
    pub credential_id: String,
    /// The AAGUID the authenticator claimed (unverified: no attestation is asked for).
    pub aaguid: Option<String>,
    /// When it was registered.
    #[schemars(schema_with = "super::schema::date_time")]
    pub created_at: String,
    /// When it last proved its holder.
    #[schemars(schema_with = "super::schema::opt_date_time")]
    pub last_used_at: Option<String>,
    /// Whether the key may be synced or backed up (`amr` `swk`; else `hwk`).
    pub backup_eligible: bool,
    /// Whether it is backed up or synced now.
    pub backup_state: bool,
    /// The signature counter last seen (0 for authenticators without one).
    pub counter: u32,
}

impl From<PasskeyInfo> for PasskeyOut {
    fn from(p: PasskeyInfo) -> Self {
        PasskeyOut {
            id: p.id,
            label: p.label,
            credential_id: p.credential_id,
            aaguid: p.aaguid.map(|a| a.to_string()),
            created_at: rfc3339(p.created_at),
            last_used_at: opt_time(p.last_used_at),
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
            counter: p.counter,
        }
    }
}
