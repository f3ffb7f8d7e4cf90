//! Configuration, with safe defaults (see docs/security-model.md for the reasons).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;
use crate::password::PasswordPolicy;
use crate::secret::MasterKey;
use crate::throttle::ThrottlePolicy;

/// How an [`crate::Iam`] behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The `iss` claim of every token (default `"iam"`); verification requires it.
    pub issuer: String,
    /// The `aud` claim of access tokens (default `"iam"`); verification requires it.
    pub audience: String,
    /// The key all server secrets derive from (token hashing, sealing). Keep it out of the store.
    pub master_key: MasterKey,
    /// Access-token lifetime (default 15 minutes).
    pub access_token_ttl: Duration,
    /// Session lifetime from login (default 30 days); refresh tokens die with the session.
    pub session_ttl: Duration,
    /// Password rules and Argon2id cost.
    pub passwords: PasswordPolicy,
    /// Login back-off.
    pub throttle: ThrottlePolicy,
    /// The issuer name shown by authenticator apps (default `"iam"`; no `:`).
    pub totp_issuer: String,
    /// Service-account token lifetime (default 30 days).
    pub service_token_ttl: Duration,
    /// Longest lifetime a personal API token may be given (default 365 days).
    pub api_token_max_ttl: Duration,
    /// Elevation rules per role; roles not listed use `default_elevation`.
    pub elevation: BTreeMap<String, ElevationPolicy>,
    /// Elevation rules for roles without their own entry.
    pub default_elevation: ElevationPolicy,
    /// How long an elevation request waits for approval (default 15 minutes).
    pub elevation_request_ttl: Duration,
    /// Grace period before a scheduled deletion is carried out (default 7 days).
    pub deletion_grace: Duration,
}

/// The proof of identity an elevation needs at activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUp {
    /// None: activation is explicit and audited, but needs no fresh proof.
    None,
    /// The password.
    Password,
    /// A TOTP code.
    Totp,
    /// Both.
    PasswordAndTotp,
}

/// How one role may be elevated to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElevationPolicy {
    /// The fresh proof required.
    pub step_up: StepUp,
    /// If set, another account holding this role must approve each activation.
    pub approver_role: Option<String>,
    /// The longest an activation may last (default 30 minutes).
    #[serde(with = "secs")]
    pub max_duration: Duration,
}

impl Default for ElevationPolicy {
    fn default() -> Self {
        ElevationPolicy {
            step_up: StepUp::Password,
            approver_role: None,
            max_duration: Duration::from_secs(30 * 60),
        }
    }
}

impl Config {
    /// The elevation rules for `role`.
    pub fn elevation_policy(&self, role: &str) -> &ElevationPolicy {
        self.elevation.get(role).unwrap_or(&self.default_elevation)
    }

    /// How long a retired signing key must keep verifying: the longest token lifetime.
    pub(crate) fn longest_token_ttl(&self) -> Duration {
        self.access_token_ttl.max(self.service_token_ttl)
    }
}

impl Config {
    /// The defaults, with the given master key.
    pub fn new(master_key: MasterKey) -> Self {
        Config {
            issuer: "iam".into(),
            audience: "iam".into(),
            master_key,
            access_token_ttl: Duration::from_secs(15 * 60),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            passwords: PasswordPolicy::default(),
            throttle: ThrottlePolicy::default(),
            totp_issuer: "iam".into(),
            service_token_ttl: Duration::from_secs(30 * 24 * 3600),
            api_token_max_ttl: Duration::from_secs(365 * 24 * 3600),
            elevation: BTreeMap::new(),
            default_elevation: ElevationPolicy::default(),
            elevation_request_ttl: Duration::from_secs(15 * 60),
            deletion_grace: Duration::from_secs(7 * 24 * 3600),
        }
    }

    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.issuer.is_empty() || self.audience.is_empty() {
            return Err(InvalidInput::Config(
                "issuer and audience must not be empty",
            ));
        }
        if self.access_token_ttl.is_zero() || self.session_ttl.is_zero() {
            return Err(InvalidInput::Config(
                "token and session lifetimes must be positive",
            ));
        }
        if self.totp_issuer.contains(':') || self.totp_issuer.is_empty() {
            return Err(InvalidInput::Config(
                "the TOTP issuer must be non-empty and free of ':'",
            ));
        }
        if self.passwords.min_length == 0 || self.passwords.min_length > self.passwords.max_length {
            return Err(InvalidInput::Config(
                "password length bounds are inconsistent",
            ));
        }
        Ok(())
    }
}

/// Serde helpers for durations written as whole seconds.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}
