//! Request bodies and queries of the REST API. Bodies refuse unknown fields; optional fields
//! are left out when serialized empty.

use std::collections::BTreeSet;

use iam_core::jose::JwsAlg;
use iam_core::oauth::{ClientKind, TokenEndpointAuthMethod};
use iam_core::oidc::AccessTokenFormat;
use iam_core::{AccountKind, DbCredentials, ProfileUpdate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::{
    ApiTokenLifetime, ElevationDuration, InvitationLifetime, NewPassword, DISPLAY_NAME_PATTERN,
    EMAIL_PATTERN, LABEL_PATTERN, PASSKEY_LABEL_PATTERN, ROLE_PATTERN, SCOPE_TOKEN_PATTERN,
    TOTP_CODE_PATTERN, USERNAME_PATTERN,
};
use super::Secret;

/// `POST /login`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The username.
    pub username: String,
    /// The password.
    pub password: Secret,
    /// The current TOTP code, once TOTP is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
}

/// `POST /refresh`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The refresh token to rotate.
    pub refresh_token: Secret,
}

/// `POST /totp/confirm`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCodeBody {
    /// The first code of the new authenticator.
    #[schemars(regex(pattern = TOTP_CODE_PATTERN))]
    pub code: String,
}

/// `POST /accounts`. A human account needs a password; a system account has none.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = { "properties": { "kind": { "const": "system" } }, "required": ["kind"] },
    "then" = { "properties": { "password": { "type": "null" } } },
    "else" = { "properties": { "password": { "type": "string" } }, "required": ["password"] },
))]
pub struct NewAccountBody {
    /// The username.
    #[schemars(regex(pattern = USERNAME_PATTERN))]
    pub username: String,
    /// Human (the default) or system.
    #[serde(default = "human")]
    pub kind: AccountKind,
    /// The password (human accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<NewPassword>")]
    pub password: Option<Secret>,
    /// Roles to grant.
    #[serde(default)]
    #[schemars(inner(regex(pattern = ROLE_PATTERN)))]
    pub roles: Vec<String>,
}

fn human() -> AccountKind {
    AccountKind::Human
}

/// `PUT /accounts/{id}/password`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// The new password.
    #[schemars(with = "NewPassword")]
    pub password: Secret,
}

/// `PUT /password`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    /// The caller's current password.
    pub current_password: Secret,
    /// The new password.
    #[schemars(with = "NewPassword")]
    pub new_password: Secret,
}

/// `PATCH /accounts/{id}/profile` (admin): a field left out stays as it is, `null` clears it.
#[derive(Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    /// The display name (1-128 characters, trimmed).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", length(max = 128), regex(pattern = DISPLAY_NAME_PATTERN))]
    pub name: Option<Option<String>>,
    /// The email address; a different address is unverified unless `email_verified` is given.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", length(max = 254), regex(pattern = EMAIL_PATTERN))]
    pub email: Option<Option<String>>,
    /// Whether the email address is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl From<ProfileBody> for ProfileUpdate {
    fn from(b: ProfileBody) -> Self {
        ProfileUpdate {
            name: b.name,
            email: b.email,
            email_verified: b.email_verified,
        }
    }
}

/// `PATCH /profile`: the caller's own name, `null` to clear it.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnProfileBody {
    /// The display name (1-128 characters, trimmed); required, `null` clears it.
    #[serde(deserialize_with = "nullable")]
    #[schemars(
        required,
        length(max = 128),
        regex(pattern = DISPLAY_NAME_PATTERN),
        extend("type" = ["string", "null"])
    )]
    pub name: Option<String>,
}

/// A field that must be present but may be `null`.
fn nullable<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// A field that is present, its value possibly `null`: `Some(None)` for `null`, so that
/// `#[serde(default)]` leaves `None` for a field that is absent.
#[allow(clippy::option_option)] // absent, null and a value are three different requests
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /api-tokens`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiTokenBody {
    /// A label for the owner.
    #[schemars(length(max = 128), regex(pattern = LABEL_PATTERN))]
    pub label: String,
    /// The scopes the token carries.
    #[serde(default)]
    #[schemars(inner(regex(pattern = ROLE_PATTERN)))]
    pub scopes: Vec<String>,
    /// Lifetime in seconds from now.
    #[schemars(with = "ApiTokenLifetime")]
    #[serde(deserialize_with = "super::whole")]
    pub expires_in: u64,
}

/// `POST /invitations`.
#[derive(Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewInvitationBody {
    /// Standing roles the new account gets (an inviter that is not an admin may name only
    /// roles it holds).
    #[serde(default)]
    #[schemars(inner(regex(pattern = ROLE_PATTERN)))]
    pub roles: Vec<String>,
    /// The organization the new account joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Its role there (default `member`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ROLE_PATTERN))]
    pub org_role: Option<String>,
    /// Lifetime in seconds from now (default the server's invitation_ttl).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<InvitationLifetime>")]
    #[serde(deserialize_with = "super::opt_whole")]
    pub expires_in: Option<u64>,
}

/// `POST /elevation`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElevateBody {
    /// The elevatable role to open.
    #[schemars(regex(pattern = ROLE_PATTERN))]
    pub role: String,
    /// Requested duration in seconds (the role's maximum when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ElevationDuration>")]
    #[serde(deserialize_with = "super::opt_whole")]
    pub duration: Option<u64>,
    /// The step-up password, when the role asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The step-up TOTP code, when the role asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = TOTP_CODE_PATTERN))]
    pub totp_code: Option<String>,
    /// The answer to a passkey step-up challenge (`POST /passkeys/step-up`), which satisfies
    /// any role's step-up on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertionBody>,
}

/// `POST /reauthenticate`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthenticateBody {
    /// The caller's password (unless a passkey answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Required with the password when the account has TOTP on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
    /// The answer to a passkey step-up challenge (`POST /passkeys/step-up`), instead of the
    /// password and code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertionBody>,
}

/// The answer to a passkey challenge, as a step-up proof.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAssertionBody {
    /// The ceremony id the challenge came with.
    #[schemars(length(min = 1))]
    pub ceremony: String,
    /// What `navigator.credentials.get()` produced, as JSON.
    pub credential: WebauthnCredential,
}

impl PasskeyAssertionBody {
    /// The step-up proof this answer is.
    pub fn into_assertion(self) -> iam_core::PasskeyAssertion {
        iam_core::PasskeyAssertion {
            ceremony: self.ceremony,
            credential: self.credential.0.to_string(),
        }
    }
}

/// The JSON a browser's `navigator.credentials.create()` or `.get()` produced (a
/// `PublicKeyCredential`, binary values in base64url). iam-core parses it; a malformed one is
/// answered `invalid_webauthn`.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(transparent)]
pub struct WebauthnCredential(pub serde_json::Value);

impl JsonSchema for WebauthnCredential {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WebauthnCredential".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "A PublicKeyCredential as JSON (WebAuthn Level 3, toJSON())",
            "required": ["id", "rawId", "type", "response"],
            "properties": {
                "id": { "type": "string" },
                "rawId": { "type": "string" },
                "type": { "type": "string" },
                "response": { "type": "object" },
            },
        })
    }
}

/// `POST /passkeys/registration` and `PATCH /passkeys/{id}`: the passkey's label.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLabelBody {
    /// 1-128 characters, trimmed, no control characters.
    #[schemars(length(min = 1, max = 128), regex(pattern = PASSKEY_LABEL_PATTERN))]
    pub label: String,
}

/// `POST /login/passkey`: empty for a passwordless sign-in, or the username and password
/// first (the passkey is then the second factor).
#[derive(Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
#[schemars(extend("dependentRequired" = { "username": ["password"], "password": ["username"] }))]
pub struct PasskeyLoginBody {
    /// The username, for the password-first path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub username: Option<String>,
    /// The password, for the password-first path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Secret")]
    pub password: Option<Secret>,
}

/// A system account's database credentials: the body of `PUT /accounts/{id}/db-credentials`
/// and the answer of `GET` on the same path.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DbCredentialsBody {
    /// Server host name.
    pub host: String,
    /// Server port.
    #[serde(deserialize_with = "super::whole")]
    pub port: u16,
    /// Database name.
    pub database: String,
    /// Role (user) name.
    pub user: String,
    /// Password.
    pub password: Secret,
}

impl From<DbCredentials> for DbCredentialsBody {
    fn from(c: DbCredentials) -> Self {
        DbCredentialsBody {
            host: c.host,
            port: c.port,
            database: c.database,
            user: c.user,
            password: Secret(c.password),
        }
    }
}

impl From<DbCredentialsBody> for DbCredentials {
    fn from(b: DbCredentialsBody) -> Self {
        DbCredentials {
            host: b.host,
            port: b.port,
            database: b.database,
            user: b.user,
            password: b.password.0,
        }
    }
}

/// `POST /orgs`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgBody {
    /// The organization's name.
    #[schemars(regex(pattern = USERNAME_PATTERN))]
    pub name: String,
}

/// `PUT /orgs/{id}/members/{account}`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    /// The member's role in the organization.
    #[schemars(regex(pattern = ROLE_PATTERN))]
    pub role: String,
}

/// `POST /clients`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    /// Display name.
    #[schemars(length(max = 128), regex(pattern = LABEL_PATTERN))]
    pub name: String,
    /// Confidential or public.
    pub kind: ClientKind,
    /// Redirect URIs, matched exactly.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// `grant_type` values (`authorization_code`, `client_credentials`, ...).
    #[schemars(with = "Vec<iam_core::oauth::GrantType>", length(min = 1))]
    pub grant_types: Vec<String>,
    /// Allowed scopes.
    #[serde(default)]
    #[schemars(
        with = "Vec<String>",
        length(max = 64),
        inner(regex(pattern = SCOPE_TOKEN_PATTERN))
    )]
    pub scopes: BTreeSet<String>,
    /// Allowed resource indicators.
    #[serde(default)]
    #[schemars(with = "Vec<String>", length(max = 64))]
    pub resources: BTreeSet<String>,
    /// Whether authorization requests must carry PKCE (the server's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pkce: Option<bool>,
    /// Whether client-credentials tokens act for the registering account.
    #[serde(default)]
    pub acts_for_owner: bool,
    /// First-party clients (admins only) may be granted `iam:manage`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_party: bool,
    /// How ID tokens are signed: `RS256` (the default), `ES256` or `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<JwsAlg>,
    /// Where RP-initiated logout may return the browser, matched exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// The `max_age` (seconds) of authorization requests that give none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "super::opt_whole")]
    pub default_max_age: Option<u64>,
    /// The format of the client's access tokens: `paseto` (the default) or `jwt` (RFC 9068,
    /// signed with `id_token_signed_response_alg`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_format: Option<AccessTokenFormat>,
    /// Where Logout Tokens are POSTed when a login session the client holds a grant from
    /// ends (OpenID Connect Back-Channel Logout): https, or http on a loopback host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required` (default true; Logout Tokens always carry `sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
    /// `token_endpoint_auth_method`: `client_secret_basic`, `client_secret_post`,
    /// `private_key_jwt` (confidential) or `none` (public).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// `jwks`: the client's public keys (an RFC 7517 JWK set), for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
}

/// Query of `GET /accounts`.
#[derive(Serialize, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountListQuery {
    /// List the accounts after this account id (paging).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Most accounts to list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Only the account with this username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// Query of `GET /sessions` and `GET /api-tokens`: whose (an admin may name another account).
#[derive(Serialize, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerQuery {
    /// The account (the caller's own when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// Query of `GET /audit`.
#[derive(Serialize, Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuditListQuery {
    /// Only events about this account id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Only events of this kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::audit_kind")]
    pub kind: Option<String>,
    /// Only events at or after this RFC 3339 time.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::date_time")]
    pub from: Option<String>,
    /// Only events before this RFC 3339 time.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::date_time")]
    pub to: Option<String>,
    /// Only events after this sequence number (paging).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<u64>,
    /// Most events to list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}
