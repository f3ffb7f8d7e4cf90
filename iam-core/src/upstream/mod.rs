//! Upstream login: signing in through another OpenID Provider ("Sign in with …").
//!
//! Each [`UpstreamProvider`] in [`Config::upstream`](crate::Config::upstream) names an issuer,
//! iam's client id and (sealed) secret there, the scopes to ask for, how the upstream's claims
//! map onto an account ([`ClaimMapping`]), what happens on a first login ([`Provisioning`]),
//! whether the provider's verified emails may link existing accounts, and who becomes an
//! admin at their first login.
//!
//! iam-core holds the decisions; the HTTP adapter talks to the upstream (discovery, JWKS, code
//! exchange, ID-token validation with the `openidconnect` crate). A login has three steps:
//!
//! 1. [`Iam::begin_upstream_login`] records a single-use attempt (state, nonce, PKCE verifier)
//!    bound to the browser by a cookie value, and returns what the adapter puts in the
//!    authorization URL.
//! 2. On the provider's callback, [`Iam::take_upstream_attempt`] consumes the attempt named by
//!    `state`, only from the browser that began it.
//! 3. Once the adapter has validated the ID token against that attempt's nonce,
//!    [`Iam::complete_upstream_login`] decides (see `rules`): sign in a linked account,
//!    auto-link by a trusted verified email, provision a new account, link to the signed-in
//!    account, or refuse. Every outcome is audited; a refusal creates and links nothing.
//!
//! The upstream identity is always the pair (issuer, subject), never an email alone.
//! Sessions opened this way carry `amr` `["fed"]` and the upstream's `acr`.
//!
//! [`Iam::begin_upstream_login`]: crate::Iam::begin_upstream_login
//! [`Iam::take_upstream_attempt`]: crate::Iam::take_upstream_attempt
//! [`Iam::complete_upstream_login`]: crate::Iam::complete_upstream_login

pub(crate) mod rules;
mod serve;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::error::{Error, InvalidInput, Result};
use crate::random::SecureRandom;
use crate::secret::{MasterKey, SecretString};

pub use serve::{UpstreamSignIn, UpstreamStart};

/// How long a begun upstream login may take before its callback is refused.
pub const UPSTREAM_ATTEMPT_TTL: Duration = Duration::from_secs(10 * 60);

/// Longest opaque continuation (`resume`) an attempt keeps for the adapter.
pub const MAX_RESUME_LEN: usize = 8 * 1024;

/// What a first login of an upstream identity that no account is linked to does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provisioning {
    /// Creates an account (human, no password) named by the username claim.
    CreateOnFirstLogin,
    /// Signs in only accounts already linked (by the user, or by a trusted verified email).
    #[default]
    LinkOnly,
    /// Creates no account on a first login: people come in through an invitation and link
    /// afterwards.
    InvitationRequired,
}

impl Provisioning {
    /// The stable name (as in configuration files).
    pub fn as_str(self) -> &'static str {
        match self {
            Provisioning::CreateOnFirstLogin => "create_on_first_login",
            Provisioning::LinkOnly => "link_only",
            Provisioning::InvitationRequired => "invitation_required",
        }
    }
}

/// Which upstream claims fill which account attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    /// The claim holding the username of a provisioned account (default `preferred_username`).
    pub username: String,
    /// The claim holding the email address (default `email`).
    pub email: String,
    /// The claim saying the upstream verified the email (default `email_verified`).
    pub email_verified: String,
    /// The claim holding the display name (default `name`).
    pub name: String,
    /// The claim holding the groups (default none: groups are not read).
    pub groups: Option<String>,
    /// Upstream group -> the iam roles a provisioned account gets for it.
    pub group_roles: BTreeMap<String, Vec<String>>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        ClaimMapping {
            username: "preferred_username".into(),
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
            groups: None,
            group_roles: BTreeMap::new(),
        }
    }
}

/// Who becomes an admin at their first login through a provider (the sysadmin bootstrap).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapAdmins {
    /// Upstream subjects (`sub`).
    pub subjects: Vec<String>,
    /// Email addresses, matched only when the upstream asserts them verified.
    pub verified_emails: Vec<String>,
}

/// A client secret sealed under the master key (XChaCha20-Poly1305, bound to its provider id),
/// as configuration files hold it. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedClientSecret(String);

impl std::fmt::Debug for SealedClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedClientSecret([sealed])")
    }
}

impl SealedClientSecret {
    /// Wraps the sealed text a configuration file holds (as [`SealedClientSecret::seal`] wrote).
    pub fn from_sealed(sealed: impl Into<String>) -> Self {
        SealedClientSecret(sealed.into())
    }

    /// Seals `secret`, iam's client secret at the provider `provider_id`, under `key`.
    pub fn seal(key: &MasterKey, provider_id: &str, secret: &SecretString) -> Result<Self> {
        let rng = SecureRandom::from_entropy();
        let sealed =
            key.sealer()
                .seal(&rng, secret.expose().as_bytes(), &secret_aad(provider_id))?;
        Ok(SealedClientSecret(sealed))
    }

    /// The sealed text, for writing a configuration file.
    pub fn as_sealed(&self) -> &str {
        &self.0
    }

    /// Opens the secret with `key`; fails when the key or provider id differ.
    pub fn open(&self, key: &MasterKey, provider_id: &str) -> Result<SecretString> {
        let plain = key.sealer().open(&self.0, &secret_aad(provider_id))?;
        let text = std::str::from_utf8(&plain)
            .map_err(|_| Error::Crypto("the sealed client secret is not text"))?;
        Ok(SecretString::new(text))
    }
}

/// The associated data binding a sealed client secret to its provider.
fn secret_aad(provider_id: &str) -> String {
    format!("iam/upstream-client-secret/{provider_id}")
}

/// One upstream OpenID Provider users may sign in through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamProvider {
    /// The id in paths (`/login/upstream/{id}`): 1-32 of `a-z 0-9 - _`.
    pub id: String,
    /// The name on the "Sign in with …" button.
    pub display_name: String,
    /// The issuer URL; its metadata is read from `/.well-known/openid-configuration`.
    pub issuer: String,
    /// iam's client id at the provider.
    pub client_id: String,
    /// iam's client secret at the provider, sealed.
    pub client_secret: SealedClientSecret,
    /// The scopes asked for (must include `openid`).
    pub scopes: Vec<String>,
    /// How claims map onto an account.
    pub claims: ClaimMapping,
    /// What a first login does.
    pub provisioning: Provisioning,
    /// Whether an email the provider asserts verified may link the local account with that
    /// (locally verified) email at first login. Off by default: see docs/security-model.md.
    pub trust_verified_email: bool,
    /// Who becomes an admin when their account is provisioned (first login only).
    pub bootstrap_admins: BootstrapAdmins,
}

impl UpstreamProvider {
    /// A provider with the default scopes (`openid email profile`), claim mapping, provisioning
    /// ([`Provisioning::LinkOnly`]), no email trust and no bootstrap admins.
    pub fn new(
        id: impl Into<String>,
        display_name: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SealedClientSecret,
    ) -> Self {
        UpstreamProvider {
            id: id.into(),
            display_name: display_name.into(),
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            claims: ClaimMapping::default(),
            provisioning: Provisioning::default(),
            trust_verified_email: false,
            bootstrap_admins: BootstrapAdmins::default(),
        }
    }

    /// Rejects a provider that cannot work.
    pub fn validate(&self) -> std::result::Result<(), InvalidInput> {
        let id_ok = (1..=32).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(InvalidInput::Config(
                "an upstream provider id is 1-32 characters of a-z, 0-9, '-', '_'",
            ));
        }
        if self.display_name.trim().is_empty() || self.display_name.chars().count() > 64 {
            return Err(InvalidInput::Config(
                "an upstream provider's display name is 1-64 characters",
            ));
        }
        let issuer_ok = (self.issuer.starts_with("https://") || self.issuer.starts_with("http://"))
            && !self.issuer.contains(['?', '#'])
            && !self.issuer.chars().any(char::is_whitespace);
        if !issuer_ok {
            return Err(InvalidInput::Config(
                "an upstream issuer is an absolute http(s) URL without query or fragment",
            ));
        }
        if self.client_id.is_empty() {
            return Err(InvalidInput::Config(
                "an upstream provider needs a client id",
            ));
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err(InvalidInput::Config(
                "an upstream provider's scopes must include openid",
            ));
        }
        for roles in self.claims.group_roles.values() {
            for role in roles {
                crate::account::validate_role(role)?;
            }
        }
        Ok(())
    }
}

/// What the upstream asserted about the person, read from a validated ID token through the
/// provider's [`ClaimMapping`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamClaims {
    /// `iss`: the upstream issuer.
    pub issuer: String,
    /// `sub`: the person at the upstream.
    pub subject: String,
    /// The username claim.
    pub username: Option<String>,
    /// The email claim.
    pub email: Option<String>,
    /// Whether the upstream asserted the email verified (`true`, or the text `"true"`).
    pub email_verified: bool,
    /// The display name.
    pub name: Option<String>,
    /// The groups claim (a list of strings, or one string).
    pub groups: Vec<String>,
    /// `acr`: how the person authenticated upstream.
    pub acr: Option<String>,
}

impl ClaimMapping {
    /// Reads the claims of a validated ID token (`iss` and `sub` from the token, the rest from
    /// `raw`, its JSON payload) through this mapping. Values of the wrong type count as absent.
    pub fn read(
        &self,
        issuer: &str,
        subject: &str,
        raw: &serde_json::Map<String, serde_json::Value>,
    ) -> UpstreamClaims {
        use serde_json::Value;
        let text = |name: &str| {
            raw.get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let email_verified = match raw.get(&self.email_verified) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        let groups = match self.groups.as_ref().and_then(|g| raw.get(g)) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => vec![],
        };
        UpstreamClaims {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            username: text(&self.username),
            email: text(&self.email),
            email_verified,
            name: text(&self.name),
            groups,
            acr: text("acr"),
        }
    }
}

/// An upstream identity linked to an account, as stored and listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamLink {
    /// The link id: [`upstream_link_id`] of issuer and subject.
    pub id: String,
    /// The provider it was made through.
    pub provider: String,
    /// The upstream issuer.
    pub issuer: String,
    /// The person at the upstream.
    pub subject: String,
    /// The local account.
    pub account_id: String,
    /// When it was linked.
    pub linked_at: Timestamp,
    /// How: `provisioned`, `user` (a signed-in user linked it) or `verified_email`.
    pub via: String,
}

/// The record id of the link of (`issuer`, `subject`): lowercase hex SHA-256 of both, length
/// prefixed, so no two pairs share an id.
pub fn upstream_link_id(issuer: &str, subject: &str) -> String {
    let mut h = Sha256::new();
    h.update((issuer.len() as u64).to_be_bytes());
    h.update(issuer.as_bytes());
    h.update(subject.as_bytes());
    h.finalize()
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            use std::fmt::Write as _;
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Why an upstream login or link was refused. Shown to the person (as [`UpstreamRefusal::message`])
/// and audited (as [`UpstreamRefusal::as_str`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamRefusal {
    /// No provider is configured under that id.
    UnknownProvider,
    /// The `state` is unknown, expired, already used, or belongs to another provider.
    StateInvalid,
    /// The `state` was begun in another browser.
    StateFromOtherBrowser,
    /// The callback's `iss` (RFC 9207) names another issuer.
    IssuerMismatch,
    /// The upstream answered with an error (its `error` code).
    UpstreamError(String),
    /// The provider's metadata, keys or token endpoint could not be used.
    UpstreamUnavailable,
    /// The ID token did not validate (what failed).
    IdTokenInvalid(IdTokenFault),
    /// The account is disabled.
    AccountDisabled,
    /// No account is linked and the provider creates none.
    NoLinkedAccount,
    /// No account is linked and the provider requires an invitation.
    InvitationRequired,
    /// An account with this email exists, but the email may not link it (the upstream did not
    /// assert it verified, or the provider is not trusted for it): sign in locally and link.
    SignInLocallyToLink,
    /// Several local accounts hold this verified email.
    EmailAmbiguous,
    /// The username claim is missing or not a valid username.
    UsernameUnusable,
    /// The username is taken by another account: sign in locally and link.
    UsernameTaken,
    /// The upstream identity is linked to another account.
    LinkedToOtherAccount,
    /// Linking needs the signed-in session that began it.
    NotSignedIn,
}

/// What about an ID token failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdTokenFault {
    /// The signature (or its algorithm or key).
    Signature,
    /// `iss`.
    Issuer,
    /// `aud` or `azp`.
    Audience,
    /// `exp` (or `iat`).
    Expired,
    /// `nonce`.
    Nonce,
    /// Missing or malformed.
    Malformed,
}

impl IdTokenFault {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdTokenFault::Signature => "signature",
            IdTokenFault::Issuer => "issuer",
            IdTokenFault::Audience => "audience",
            IdTokenFault::Expired => "expired",
            IdTokenFault::Nonce => "nonce",
            IdTokenFault::Malformed => "malformed",
        }
    }
}

impl UpstreamRefusal {
    /// The stable reason, as audited.
    pub fn as_str(&self) -> &'static str {
        match self {
            UpstreamRefusal::UnknownProvider => "unknown_provider",
            UpstreamRefusal::StateInvalid => "state_invalid",
            UpstreamRefusal::StateFromOtherBrowser => "state_from_other_browser",
            UpstreamRefusal::IssuerMismatch => "issuer_mismatch",
            UpstreamRefusal::UpstreamError(_) => "upstream_error",
            UpstreamRefusal::UpstreamUnavailable => "upstream_unavailable",
            UpstreamRefusal::IdTokenInvalid(_) => "id_token_invalid",
            UpstreamRefusal::AccountDisabled => "account_disabled",
            UpstreamRefusal::NoLinkedAccount => "no_linked_account",
            UpstreamRefusal::InvitationRequired => "invitation_required",
            UpstreamRefusal::SignInLocallyToLink => "sign_in_locally_to_link",
            UpstreamRefusal::EmailAmbiguous => "email_ambiguous",
            UpstreamRefusal::UsernameUnusable => "username_unusable",
            UpstreamRefusal::UsernameTaken => "username_taken",
            UpstreamRefusal::LinkedToOtherAccount => "linked_to_other_account",
            UpstreamRefusal::NotSignedIn => "not_signed_in",
        }
    }

    /// What the person is told.
    pub fn message(&self) -> &'static str {
        match self {
            UpstreamRefusal::UnknownProvider => "This sign-in provider is not configured here.",
            UpstreamRefusal::StateInvalid => {
                "This sign-in has expired or was already used. Start again from the sign-in page."
            }
            UpstreamRefusal::StateFromOtherBrowser => {
                "This sign-in was started in another browser. Start again from the sign-in page."
            }
            UpstreamRefusal::IssuerMismatch => {
                "The answer came from a different provider than the one asked. Start again."
            }
            UpstreamRefusal::UpstreamError(_) => {
                "The sign-in provider did not sign you in (it answered with an error)."
            }
            UpstreamRefusal::UpstreamUnavailable => {
                "The sign-in provider cannot be reached right now. Try again later."
            }
            UpstreamRefusal::IdTokenInvalid(_) => {
                "The sign-in provider's answer could not be verified. Start again."
            }
            UpstreamRefusal::AccountDisabled => "This account cannot sign in here.",
            UpstreamRefusal::NoLinkedAccount => {
                "No account here is linked to this identity. Sign in with your password and \
link it from your account page."
            }
            UpstreamRefusal::InvitationRequired => {
                "An invitation is needed to create an account here."
            }
            UpstreamRefusal::SignInLocallyToLink => {
                "An account with this email address exists here. Sign in with your password \
first, then link this identity from your account page."
            }
            UpstreamRefusal::EmailAmbiguous => {
                "Several accounts here use this email address. Sign in with your password \
and link this identity from your account page."
            }
            UpstreamRefusal::UsernameUnusable => {
                "The sign-in provider gave no usable username for a new account."
            }
            UpstreamRefusal::UsernameTaken => {
                "An account with this username exists here. Sign in with your password first, \
then link this identity from your account page."
            }
            UpstreamRefusal::LinkedToOtherAccount => {
                "This identity is already linked to another account."
            }
            UpstreamRefusal::NotSignedIn => "Sign in first to link an identity to your account.",
        }
    }

    /// A further detail worth auditing (the ID-token fault, the upstream's error code).
    fn detail(&self) -> Option<String> {
        match self {
            UpstreamRefusal::IdTokenInvalid(f) => Some(f.as_str().to_owned()),
            UpstreamRefusal::UpstreamError(code) => Some(
                code.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(64)
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// What an upstream login is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "for", rename_all = "snake_case")]
pub enum UpstreamPurpose {
    /// Signing in; `resume` is the adapter's opaque continuation (e.g. a pending
    /// authorization request), at most [`MAX_RESUME_LEN`] bytes.
    SignIn {
        /// What to continue with after the sign-in.
        resume: Option<String>,
    },
    /// Linking the upstream identity to the signed-in account of session `session_id`.
    Link {
        /// The account.
        account_id: String,
        /// The session that began it.
        session_id: String,
    },
}

/// A begun upstream login, as stored (record id: keyed hash of its `state`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredAttempt {
    pub provider: String,
    /// Keyed hash of the browser-binding cookie value.
    pub binding_hash: String,
    /// The nonce, sealed.
    pub nonce: String,
    /// The PKCE verifier, sealed.
    pub verifier: String,
    pub purpose: UpstreamPurpose,
    pub expires_at: Timestamp,
}

/// A consumed upstream attempt: what the adapter validates the callback against.
#[derive(Clone, Debug)]
pub struct PendingUpstream {
    /// The provider id.
    pub provider: String,
    /// The nonce the ID token must carry.
    pub nonce: SecretString,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: SecretString,
    /// What the login is for.
    pub purpose: UpstreamPurpose,
}

/// What [`Iam::complete_upstream_login`](crate::Iam::complete_upstream_login) concluded.
#[derive(Debug)]
pub enum UpstreamOutcome {
    /// Signed in: a new session.
    SignedIn(Box<UpstreamSignIn>),
    /// The identity is now (or already was) linked to the signed-in account.
    Linked(UpstreamLink),
    /// Refused (audited); nothing was created or linked.
    Refused(UpstreamRefusal),
}
