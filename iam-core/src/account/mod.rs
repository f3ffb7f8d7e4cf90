//! Accounts: kinds, the public view, the stored form, profiles, and the naming rules for usernames
//! and roles.

mod lifecycle;
pub(crate) mod manage;
mod profile;
pub(crate) mod rules;
mod second_factor;

pub use lifecycle::SweepReport;
pub use profile::{validate_email, validate_name, Profile, ProfileUpdate, EMAIL_MAX, NAME_MAX};

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use std::time::Duration;

use crate::clock::Timestamp;
use crate::error::{InvalidInput, Result, UsernameRule};
use crate::secret::SecretString;
use crate::store::{Record, RecordKind};
use crate::totp::TotpState;

/// Shortest username.
pub const USERNAME_MIN: usize = 2;
/// Longest username.
pub const USERNAME_MAX: usize = 64;

/// Whether an account is a person or a machine.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A person: logs in with a password (and TOTP once enrolled).
    Human,
    /// A machine: has no password and authenticates with tokens only.
    System,
}

/// Whether TOTP protects an account.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TotpStatus {
    /// No TOTP.
    Off,
    /// Enrolled but not yet confirmed with a first code (not required at login).
    Pending,
    /// Confirmed: every password login needs a code.
    On,
}

/// An account as callers see it (no hashes, no secrets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Stable id (`acc_…`), used as the token subject.
    pub id: String,
    /// Unique login name.
    pub username: String,
    /// Human or system.
    pub kind: AccountKind,
    /// Standing roles.
    pub roles: BTreeSet<String>,
    /// Disabled accounts cannot log in and their tokens do not verify.
    pub disabled: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// TOTP state.
    pub totp: TotpStatus,
    /// Roles this account may elevate to for a session (off until activated).
    pub elevatable_roles: BTreeSet<String>,
    /// When the account is due to be deleted, if scheduled.
    pub deletion_due: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Name and email (OpenID Connect's profile and email claims).
    pub profile: Profile,
}

/// An account as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredAccount {
    pub id: String,
    pub username: String,
    pub kind: AccountKind,
    pub roles: BTreeSet<String>,
    pub disabled: bool,
    pub created_at: Timestamp,
    /// Argon2id PHC string.
    pub password_hash: Option<String>,
    pub totp: Option<TotpState>,
    #[serde(default)]
    pub elevatable_roles: BTreeSet<String>,
    #[serde(default)]
    pub deletion_due: Option<Timestamp>,
    /// The one live service-token grant (system accounts).
    #[serde(default)]
    pub service_grant: Option<String>,
    /// Name and email; records written before profiles existed have none.
    #[serde(default)]
    pub profile: Profile,
    /// Sessions created before this time are revoked, whether or not their own record says so
    /// (set by signing out everywhere, so a session that a concurrent login committed after
    /// the list of sessions was read is revoked too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_revoked_before: Option<Timestamp>,
}

impl StoredAccount {
    /// The public view.
    pub fn view(&self) -> Account {
        Account {
            id: self.id.clone(),
            username: self.username.clone(),
            kind: self.kind,
            roles: self.roles.clone(),
            disabled: self.disabled,
            has_password: self.password_hash.is_some(),
            totp: match &self.totp {
                None => TotpStatus::Off,
                Some(t) if t.confirmed => TotpStatus::On,
                Some(_) => TotpStatus::Pending,
            },
            created_at: self.created_at,
            elevatable_roles: self.elevatable_roles.clone(),
            deletion_due: self.deletion_due,
            profile: self.profile.clone(),
        }
    }

    /// Whether a sign-out everywhere has ended the sessions begun at `begun`
    /// ([`Self::sessions_revoked_before`]).
    pub fn signed_out_since(&self, begun: Timestamp) -> bool {
        self.sessions_revoked_before
            .is_some_and(|before| begun < before)
    }

    /// When a session this account opens at `now` counts as begun for
    /// [`Self::signed_out_since`]: `now`, or the sessions cut-off when that is later (a
    /// sign-out everywhere in the same millisecond, or by a clock running ahead), so a sign-in
    /// decided on the account as the sign-out left it is never ended by that sign-out.
    pub fn session_begins(&self, now: Timestamp) -> Timestamp {
        self.sessions_revoked_before
            .map_or(now, |before| now.max(before))
    }

    /// Whether login must present a TOTP code.
    pub fn totp_required(&self) -> bool {
        self.totp.as_ref().is_some_and(|t| t.confirmed)
    }
}

/// Checks a username: 2–64 characters from `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn validate_username(name: &str) -> Result<(), InvalidInput> {
    let rule = |r| Err(InvalidInput::Username(r));
    if name.len() > USERNAME_MAX * 4 {
        return rule(UsernameRule::TooLong { max: USERNAME_MAX });
    }
    let count = name.chars().count();
    if count < USERNAME_MIN {
        return rule(UsernameRule::TooShort { min: USERNAME_MIN });
    }
    if count > USERNAME_MAX {
        return rule(UsernameRule::TooLong { max: USERNAME_MAX });
    }
    for (position, c) in name.chars().enumerate() {
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')) {
            return rule(UsernameRule::InvalidCharacter { found: c, position });
        }
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return rule(UsernameRule::MustStartAlphanumeric);
    }
    Ok(())
}

/// Checks a role name: 1–64 characters from `a-z 0-9 : . _ -`.
pub fn validate_role(role: &str) -> Result<(), InvalidInput> {
    let ok = (1..=64).contains(&role.len())
        && role.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b':' | b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::RoleName(role.chars().take(80).collect()))
    }
}

/// What [`Iam::create_account`](crate::Iam::create_account) needs.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The login name (see [`validate_username`]).
    pub username: String,
    /// Human or system.
    pub kind: AccountKind,
    /// The initial password (humans only; may be set later).
    pub password: Option<SecretString>,
    /// Initial standing roles.
    pub roles: Vec<String>,
}

impl NewAccount {
    /// A human account with a password and no roles.
    pub fn human(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        NewAccount {
            username: username.into(),
            kind: AccountKind::Human,
            password: Some(password.into()),
            roles: vec![],
        }
    }

    /// A system account (no password).
    pub fn system(username: impl Into<String>) -> Self {
        NewAccount {
            username: username.into(),
            kind: AccountKind::System,
            password: None,
            roles: vec![],
        }
    }

    /// Adds initial roles.
    #[must_use]
    pub fn with_roles<I: IntoIterator<Item = R>, R: Into<String>>(mut self, roles: I) -> Self {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }
}

/// Which of an account's role sets a change touches.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RoleSet {
    /// Roles always in the account's tokens.
    Standing,
    /// Roles that must be opened per session (elevation).
    Elevatable,
}

/// The stored record for `account` (its version is set by the store).
pub(crate) fn account_record(account: &StoredAccount) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::Account,
        id: account.id.clone(),
        version: 0,
        parent: None,
        lookup: Some(account.username.clone()),
        expires_at: None,
        body: crate::record_body::to_body(account)?,
    })
}

/// How long a throttle counter must sit idle before the sweep forgets it. Longer than the
/// back-off cap, so forgetting it never shortens a running back-off.
pub const THROTTLE_IDLE: Duration = Duration::from_secs(24 * 3600);

/// A scheduled deletion, as stored (record id: the account id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeletionSchedule {
    pub account_id: String,
    pub due: Timestamp,
    pub requested_by: String,
}

/// The sealing context of an account's TOTP secret.
pub(crate) fn totp_aad(account_id: &str) -> String {
    format!("totp:{account_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules_name_the_failure() {
        assert_eq!(validate_username("alice"), Ok(()));
        assert_eq!(validate_username("a.b_c-9"), Ok(()));
        assert_eq!(
            validate_username("a"),
            Err(InvalidInput::Username(UsernameRule::TooShort { min: 2 }))
        );
        assert_eq!(
            validate_username(""),
            Err(InvalidInput::Username(UsernameRule::TooShort { min: 2 }))
        );
        assert_eq!(
            validate_username(&"a".repeat(65)),
            Err(InvalidInput::Username(UsernameRule::TooLong { max: 64 }))
        );
        assert_eq!(
            validate_username(&"a".repeat(1 << 20)),
            Err(InvalidInput::Username(UsernameRule::TooLong { max: 64 }))
        );
        assert_eq!(
            validate_username("Alice"),
            Err(InvalidInput::Username(UsernameRule::InvalidCharacter {
                found: 'A',
                position: 0
            }))
        );
        assert_eq!(
            validate_username("al ice"),
            Err(InvalidInput::Username(UsernameRule::InvalidCharacter {
                found: ' ',
                position: 2
            }))
        );
        assert_eq!(
            validate_username("bob\u{0}"),
            Err(InvalidInput::Username(UsernameRule::InvalidCharacter {
                found: '\0',
                position: 3
            }))
        );
        assert_eq!(
            validate_username("_bob"),
            Err(InvalidInput::Username(UsernameRule::MustStartAlphanumeric))
        );
        let msg = InvalidInput::Username(UsernameRule::InvalidCharacter {
            found: 'é',
            position: 1,
        })
        .to_string();
        assert!(msg.contains("'é'") && msg.contains("position 1"), "{msg}");
    }

    #[test]
    fn role_rules() {
        assert!(validate_role("admin").is_ok());
        assert!(validate_role("db:reader").is_ok());
        assert!(validate_role("").is_err());
        assert!(validate_role("Admin").is_err());
        assert!(validate_role(&"a".repeat(65)).is_err());
    }
}
