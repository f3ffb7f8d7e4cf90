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
    /// The `iss` claim of every token and ID token (default `"iam"`); verification requires
    /// it. With the OAuth/OpenID endpoints served, it must be their public URL (the issuer of
    /// the metadata): `iam_axum::OAuthRouter` refuses any other.
    pub issuer: String,
    /// Earlier issuers whose unexpired tokens still verify, for a change of [`Config::issuer`]
    /// (default none). New tokens always carry `issuer`.
    pub previous_issuers: Vec<String>,
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
    /// How recent a sign-in must be for sensitive self-service (deleting one's account,
    /// removing TOTP, minting an API token that carries roles): default 5 minutes.
    pub recent_authentication: Duration,
    /// Whether personal API tokens survive an admin's reset of their owner's password
    /// (default `false`: a reset revokes them, since it usually answers a compromise).
    pub api_tokens_survive_password_reset: bool,
    /// OAuth settings (clients, codes, device flow, OAuth token lifetimes).
    pub oauth: OAuthConfig,
    /// Most access tokens remembered after a full verification, so a repeated token skips its
    /// signature check (expiry, audience and revocation are checked on every use): default
    /// [`VERIFIED_TOKEN_CAPACITY`](crate::VERIFIED_TOKEN_CAPACITY); 0 remembers none.
    pub verified_token_capacity: usize,
    /// How often the audit chain's head is signed as a checkpoint: [`crate::Iam::sweep`] signs
    /// it when the latest checkpoint is at least this old and events came after it (default 1
    /// hour; `None` signs only at exports). Events after the latest checkpoint are the ones a
    /// writer to the database could still rewrite or cut off unnoticed.
    pub audit_checkpoint_interval: Option<Duration>,
    /// Roles whose holders may invite people (besides admins), granting only roles they hold
    /// themselves (default none: only admins invite).
    pub inviter_roles: Vec<String>,
    /// How long an invitation stays usable when its creator names no lifetime (default 7 days).
    pub invitation_ttl: Duration,
    /// Longest lifetime an invitation may be given (default 30 days).
    pub invitation_max_ttl: Duration,
    /// Passkeys (WebAuthn): the relying party they are bound to. `None` (the default) turns
    /// passkeys off.
    pub passkeys: Option<crate::passkey::PasskeyConfig>,
}

/// How the OAuth 2.0 authorization server behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthConfig {
    /// How long a client's old secret keeps working after rotation (default 24 hours).
    pub client_secret_grace: Duration,
    /// Authorization-code lifetime (default 60 seconds).
    pub code_ttl: Duration,
    /// Lifetime of OAuth access tokens (default 15 minutes).
    pub access_token_ttl: Duration,
    /// Lifetime of an OAuth token family: its refresh tokens stop working after this, counted
    /// from the code or device exchange (default 30 days).
    pub refresh_ttl: Duration,
    /// Device-code and user-code lifetime (default 10 minutes).
    pub device_code_ttl: Duration,
    /// Least time between device polls (default 5 seconds).
    pub device_poll_interval: Duration,
    /// The absolute URL where users enter a device's user code (default `/device`, which the
    /// HTTP layer should replace with its absolute URL).
    pub verification_uri: String,
    /// Waits between failed back-channel logout deliveries, one per retry; after the last,
    /// the delivery is given up (default 1 s, 5 s, 30 s, 2 min, 10 min).
    pub logout_retry_delays: Vec<Duration>,
    /// Lifetime of a Logout Token, counted from each delivery attempt (default 2 minutes).
    pub logout_token_ttl: Duration,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            client_secret_grace: Duration::from_secs(24 * 3600),
            code_ttl: Duration::from_secs(60),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            device_code_ttl: Duration::from_secs(10 * 60),
            device_poll_interval: Duration::from_secs(5),
            verification_uri: "/device".into(),
            logout_retry_delays: [1, 5, 30, 120, 600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            logout_token_ttl: Duration::from_secs(120),
        }
    }
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

/// How one role may be elevated to. In a configuration file: `step_up`, `approver_role` and
/// `max_duration_secs`; absent fields keep the defaults, unknown ones are refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElevationPolicy {
    /// The fresh proof required.
    pub step_up: StepUp,
    /// If set, another account holding this role must approve each activation.
    pub approver_role: Option<String>,
    /// The longest an activation may last (default 30 minutes).
    #[serde(rename = "max_duration_secs", with = "crate::clock::secs")]
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

impl ElevationPolicy {
    /// Rejects a policy that cannot work: a zero duration, or an approver role that is not a
    /// valid role name (no account could ever hold it, so no request could be approved).
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.max_duration.is_zero() {
            return Err(InvalidInput::Config(
                "an elevation's maximum duration must be positive",
            ));
        }
        match &self.approver_role {
            Some(role) => crate::account::validate_role(role),
            None => Ok(()),
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
        self.access_token_ttl
            .max(self.service_token_ttl)
            .max(self.oauth.access_token_ttl)
    }
}

impl Config {
    /// The defaults, with the given master key.
    pub fn new(master_key: MasterKey) -> Self {
        Config {
            issuer: "iam".into(),
            previous_issuers: Vec::new(),
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
            recent_authentication: Duration::from_secs(5 * 60),
            api_tokens_survive_password_reset: false,
            oauth: OAuthConfig::default(),
            verified_token_capacity: crate::token::VERIFIED_TOKEN_CAPACITY,
            audit_checkpoint_interval: Some(Duration::from_secs(3600)),
            inviter_roles: Vec::new(),
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            invitation_max_ttl: Duration::from_secs(30 * 24 * 3600),
            passkeys: None,
        }
    }

    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.issuer.is_empty() || self.audience.is_empty() {
            return Err(InvalidInput::Config(
                "issuer and audience must not be empty",
            ));
        }
        if self.access_token_ttl.is_zero()
            || self.session_ttl.is_zero()
            || self.service_token_ttl.is_zero()
            || self.api_token_max_ttl.is_zero()
            || self.elevation_request_ttl.is_zero()
        {
            return Err(InvalidInput::Config(
                "token, session and elevation-request lifetimes must be positive",
            ));
        }
        if self.audit_checkpoint_interval.is_some_and(|d| d.is_zero()) {
            return Err(InvalidInput::Config(
                "audit_checkpoint_interval must be positive (None turns periodic checkpoints off)",
            ));
        }
        if self.recent_authentication.is_zero() {
            return Err(InvalidInput::Config(
                "recent_authentication must be positive (zero would refuse all sensitive self-service)",
            ));
        }
        self.default_elevation.validate()?;
        for (role, policy) in &self.elevation {
            crate::account::validate_role(role)?;
            policy.validate()?;
        }
        if self.invitation_ttl.is_zero() || self.invitation_ttl > self.invitation_max_ttl {
            return Err(InvalidInput::Config(
                "invitation_ttl must be positive and at most invitation_max_ttl",
            ));
        }
        for role in &self.inviter_roles {
            crate::account::validate_role(role)?;
        }
        if self.totp_issuer.contains(':') || self.totp_issuer.is_empty() {
            return Err(InvalidInput::Config(
                "the TOTP issuer must be non-empty and free of ':'",
            ));
        }
        let o = &self.oauth;
        if o.code_ttl.is_zero()
            || o.access_token_ttl.is_zero()
            || o.refresh_ttl.is_zero()
            || o.device_code_ttl.is_zero()
            || o.device_poll_interval.is_zero()
        {
            return Err(InvalidInput::Config("OAuth lifetimes must be positive"));
        }
        if o.verification_uri.is_empty() {
            return Err(InvalidInput::Config(
                "the device verification URI must not be empty",
            ));
        }
        if let Some(passkeys) = &self.passkeys {
            passkeys.relying_party()?;
        }
        self.passwords.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new(MasterKey::from_bytes([7; 32]))
    }

    #[test]
    fn an_elevation_policy_reads_its_file_form_and_refuses_unknown_fields() {
        let p: ElevationPolicy = serde_json::from_str(
            r#"{"step_up": "password_and_totp", "approver_role": "dba-approver", "max_duration_secs": 3600}"#,
        )
        .expect("parses");
        assert_eq!(p.step_up, StepUp::PasswordAndTotp);
        assert_eq!(p.approver_role.as_deref(), Some("dba-approver"));
        assert_eq!(p.max_duration, Duration::from_secs(3600));
        let partial: ElevationPolicy =
            serde_json::from_str(r#"{"approver_role": "admin"}"#).expect("parses");
        assert_eq!(partial.step_up, ElevationPolicy::default().step_up);
        assert_eq!(
            partial.max_duration,
            ElevationPolicy::default().max_duration
        );
        let err = serde_json::from_str::<ElevationPolicy>(r#"{"max_duration": 60}"#)
            .expect_err("unknown field");
        assert!(err.to_string().contains("max_duration"), "{err}");
    }

    #[test]
    fn validate_refuses_elevation_and_hashing_settings_that_cannot_work() {
        assert!(config().validate().is_ok());
        let cases: [fn(&mut Config); 7] = [
            |c| c.default_elevation.max_duration = Duration::ZERO,
            |c| {
                c.elevation.insert(
                    "dba".into(),
                    ElevationPolicy {
                        approver_role: Some("Not A Role".into()),
                        ..ElevationPolicy::default()
                    },
                );
            },
            |c| {
                c.elevation
                    .insert("Bad Role".into(), ElevationPolicy::default());
            },
            |c| c.elevation_request_ttl = Duration::ZERO,
            |c| c.passwords.memory_kib = 4,
            |c| c.passwords.iterations = 0,
            |c| c.audit_checkpoint_interval = Some(Duration::ZERO),
        ];
        for (i, change) in cases.iter().enumerate() {
            let mut c = config();
            change(&mut c);
            assert!(c.validate().is_err(), "case {i} accepted");
        }
    }
}
