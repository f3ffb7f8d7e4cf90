//! Passkeys (WebAuthn): registration, passwordless sign-in, a passkey as the second factor
//! after a password, and a passkey as the fresh proof of a step-up.
//!
//! Every ceremony has two steps. The *start* returns a [`PasskeyChallenge`]: the options the
//! browser's `navigator.credentials.create()` or `.get()` expects, and the id of the ceremony
//! whose state (the challenge) iam keeps through the [`Store`](crate::Store) for
//! [`PasskeyConfig::ceremony_ttl`]. The *finish* takes the authenticator's answer as the JSON
//! the browser produced and uses the ceremony up, whatever the outcome, so a challenge is
//! answered at most once. A failed finish stores nothing but that (and its audit event).
//!
//! Passkeys are verified by webauthn-rs: the challenge, the origin, the relying-party id, the
//! signature and user verification (required for every passkey ceremony). The signature
//! counter must advance on every use where the authenticator keeps one; a counter that does
//! not is refused ([`Denial::PasskeyCounterRegressed`](crate::Denial::PasskeyCounterRegressed))
//! and audited, since the authenticator may have been cloned. Attestation is not asked for:
//! with [`PasskeyConfig::allowed_aaguids`] set, registration requires one of the listed
//! AAGUIDs, which without attestation is the authenticator's own (unverified) claim.
//!
//! The rules are in `rules`; `register` holds registration and management, `sign_in` the
//! login and step-up ceremonies.

mod register;
pub(crate) mod rules;
mod sign_in;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

pub use webauthn_rs::prelude::Uuid;

use crate::clock::Timestamp;
use crate::error::{InvalidInput, Result};

/// The most bytes of a credential's JSON iam parses (a registration with a long
/// attestation certificate chain stays well below).
pub const MAX_CREDENTIAL_JSON: usize = 64 * 1024;

/// How long a passkey ceremony stays open by default.
pub const DEFAULT_CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);

/// The longest a passkey ceremony may stay open.
pub const MAX_CEREMONY_TTL: Duration = Duration::from_secs(60 * 60);

/// The relying party passkeys are bound to, and the rules for registering them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyConfig {
    /// The relying-party id: the site's domain (`example.com`), which every passkey is bound to.
    pub rp_id: String,
    /// The origins (`https://login.example.com`) pages may run ceremonies from; each must be
    /// the RP id or a subdomain of it. The first is the main one.
    pub rp_origins: Vec<String>,
    /// The name authenticators show for the site (default: the RP id).
    pub rp_name: String,
    /// When set, registration accepts only authenticators whose AAGUID is listed. iam asks for
    /// no attestation, so the AAGUID is what the authenticator (or the browser) says it is: a
    /// policy for honest devices, not proof against a forged one.
    pub allowed_aaguids: Option<Vec<Uuid>>,
    /// How long a ceremony stays open (default 5 minutes, at most 1 hour).
    pub ceremony_ttl: Duration,
}

impl PasskeyConfig {
    /// Passkeys for `rp_id`, used from `origin`, with the defaults.
    pub fn new(rp_id: impl Into<String>, origin: impl Into<String>) -> Self {
        let rp_id = rp_id.into();
        PasskeyConfig {
            rp_name: rp_id.clone(),
            rp_id,
            rp_origins: vec![origin.into()],
            allowed_aaguids: None,
            ceremony_ttl: DEFAULT_CEREMONY_TTL,
        }
    }

    /// The WebAuthn relying party these settings describe, or why they cannot work.
    pub(crate) fn relying_party(&self) -> Result<Webauthn, InvalidInput> {
        let bad = |why| InvalidInput::Config(why);
        if self.ceremony_ttl.is_zero() || self.ceremony_ttl > MAX_CEREMONY_TTL {
            return Err(bad(
                "passkeys.ceremony_ttl must be positive and at most 1 hour",
            ));
        }
        if self.rp_name.trim().is_empty() {
            return Err(bad("passkeys.rp_name must not be empty"));
        }
        let mut origins = self.rp_origins.iter().map(|o| Url::parse(o));
        let Some(Ok(first)) = origins.next() else {
            return Err(bad("passkeys.rp_origins needs at least one absolute URL"));
        };
        let mut builder = WebauthnBuilder::new(&self.rp_id, &first)
            .map_err(|_| bad("passkeys: each origin must be the RP id or a subdomain of it"))?
            .rp_name(&self.rp_name)
            .timeout(self.ceremony_ttl);
        for origin in origins {
            let origin = origin.map_err(|_| bad("passkeys.rp_origins must be absolute URLs"))?;
            if !origin
                .host_str()
                .is_some_and(|h| h == self.rp_id || h.ends_with(&format!(".{}", self.rp_id)))
            {
                return Err(bad(
                    "passkeys: each origin must be the RP id or a subdomain of it",
                ));
            }
            builder = builder.append_allowed_origin(&origin);
        }
        builder
            .build()
            .map_err(|_| bad("passkeys: the relying party is not usable"))
    }
}

/// A started ceremony: what the browser needs, and the id to finish it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyChallenge {
    /// The ceremony id (`pkc_…`), single-use.
    pub ceremony: String,
    /// The options as the browser's `navigator.credentials.create()` (registration) or
    /// `navigator.credentials.get()` (authentication) takes them: `{"publicKey": {...}}`, binary
    /// values in base64url.
    pub options: serde_json::Value,
    /// When the ceremony closes.
    pub expires_at: Timestamp,
}

/// A registered passkey as listed (no key material).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    /// The id (`pk_…`).
    pub id: String,
    /// The owner's label for it.
    pub label: String,
    /// The WebAuthn credential id (base64url).
    pub credential_id: String,
    /// The authenticator model's AAGUID as it claimed it (nil for authenticators that hide it).
    pub aaguid: Option<Uuid>,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last proved its holder.
    pub last_used_at: Option<Timestamp>,
    /// Whether the key may be synced or backed up (then its `amr` is `swk`, else `hwk`).
    pub backup_eligible: bool,
    /// Whether the key is currently backed up or synced.
    pub backup_state: bool,
    /// The signature counter last seen (0 for authenticators without one).
    pub counter: u32,
}

/// The answer to a step-up passkey challenge ([`crate::Iam::start_passkey_step_up`]), as a
/// fresh proof in a [`StepUpProof`](crate::StepUpProof).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PasskeyAssertion {
    /// The ceremony id the challenge came with.
    pub ceremony: String,
    /// The credential JSON `navigator.credentials.get()` produced.
    pub credential: String,
}

/// A passkey as stored: its view, the owner, and webauthn-rs's credential (public key,
/// counter, flags).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredPasskey {
    /// The owning account.
    pub account_id: String,
    /// What the owner sees.
    #[serde(flatten)]
    pub info: PasskeyInfo,
    /// The credential webauthn-rs verifies against.
    pub passkey: Passkey,
}

/// A ceremony in progress, as stored until it is used or expires.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Ceremony {
    /// The id (`pkc_…`).
    pub id: String,
    /// When it started.
    pub created_at: Timestamp,
    /// When it closes.
    pub expires_at: Timestamp,
    /// What it is for, with webauthn-rs's state.
    pub purpose: Purpose,
}

/// What a ceremony is for.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Purpose {
    /// Registering a passkey for a session's account.
    Registration {
        /// The account.
        account_id: String,
        /// The session that started it.
        session_id: String,
        /// The label the passkey gets.
        label: String,
        /// webauthn-rs's state.
        state: PasskeyRegistration,
    },
    /// Signing in with any discoverable passkey (no username).
    Login {
        /// webauthn-rs's state.
        state: DiscoverableAuthentication,
    },
    /// Signing in with a passkey of one account after its password was checked.
    SecondFactor {
        /// The account whose password matched.
        account_id: String,
        /// The login throttle key of its username.
        throttle_key: Option<String>,
        /// webauthn-rs's state.
        state: DiscoverableAuthentication,
    },
    /// Proving a session's holder again with one of its account's passkeys.
    StepUp {
        /// The account.
        account_id: String,
        /// The session.
        session_id: String,
        /// webauthn-rs's state.
        state: DiscoverableAuthentication,
    },
}

impl Purpose {
    /// The name written in audit events.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Purpose::Registration { .. } => "registration",
            Purpose::Login { .. } => "login",
            Purpose::SecondFactor { .. } => "second_factor",
            Purpose::StepUp { .. } => "step_up",
        }
    }

    /// The account the ceremony is bound to, if any.
    pub(crate) fn account(&self) -> Option<&str> {
        match self {
            Purpose::Registration { account_id, .. }
            | Purpose::SecondFactor { account_id, .. }
            | Purpose::StepUp { account_id, .. } => Some(account_id),
            Purpose::Login { .. } => None,
        }
    }
}

/// Parses the JSON `navigator.credentials.create()` produced, as every adapter receives it;
/// refuses more than [`MAX_CREDENTIAL_JSON`] bytes.
pub fn parse_registration_credential(json: &str) -> Result<RegisterPublicKeyCredential> {
    parse_credential(json)
}

/// Parses the JSON `navigator.credentials.get()` produced, as every adapter receives it;
/// refuses more than [`MAX_CREDENTIAL_JSON`] bytes.
pub fn parse_authentication_credential(json: &str) -> Result<PublicKeyCredential> {
    parse_credential(json)
}

fn parse_credential<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    if json.len() > MAX_CREDENTIAL_JSON {
        return Err(InvalidInput::Webauthn("the credential JSON is too large").into());
    }
    serde_json::from_str(json)
        .map_err(|_| InvalidInput::Webauthn("the credential JSON is malformed").into())
}
