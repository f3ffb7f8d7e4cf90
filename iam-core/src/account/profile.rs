//! Profile attributes of an account (OpenID Connect's `name`, `email`, `email_verified`,
//! `updated_at`): their rules, the pure decision of an update, and the two operations (an
//! admin's update of any field, an account's change of its own name).
//!
//! Whether an email address is verified is stored as an admin set it, never inferred: a new
//! address starts unverified unless the same update says otherwise.

use serde::{Deserialize, Serialize};

use crate::account::manage::acting;
use crate::account::rules::{unchanged, updated, Acting};
use crate::account::{Account, StoredAccount};
use crate::audit::AuditKind;
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{InvalidInput, ProfileRule, Result};
use crate::iam::Iam;
use crate::plan::Plan;
use crate::store::{Record, Store};
use crate::token::Principal;

/// Longest display name, in characters.
pub const NAME_MAX: usize = 128;
/// Longest email address, in characters (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;

/// What an account says about its holder, as served by OpenID Connect's userinfo.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The display name (`name` claim), trimmed, 1-128 characters.
    pub name: Option<String>,
    /// The email address (`email` claim).
    pub email: Option<String>,
    /// Whether an admin marked the email address verified (`email_verified` claim).
    pub email_verified: bool,
    /// When the profile last changed (`updated_at` claim); `None` until the first change.
    pub updated_at: Option<Timestamp>,
}

/// A change to a [`Profile`]: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// The new display name.
    pub name: Option<Option<String>>,
    /// The new email address; a different address is unverified unless `email_verified` says
    /// otherwise.
    pub email: Option<Option<String>>,
    /// Whether the (new or current) email address is verified.
    pub email_verified: Option<bool>,
}

impl ProfileUpdate {
    /// Sets the display name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Some(name.into()));
        self
    }

    /// Sets the email address.
    #[must_use]
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(Some(email.into()));
        self
    }

    /// Sets whether the email address is verified.
    #[must_use]
    pub fn with_email_verified(mut self, verified: bool) -> Self {
        self.email_verified = Some(verified);
        self
    }

    /// Whether the update names no field at all.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.email_verified.is_none()
    }
}

/// Whether `c` may not appear in a name: a control character, or a bidirectional override or
/// isolate (which would let a name display as something else).
fn is_disallowed_in_name(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a display name and returns it trimmed: 1-128 characters after trimming, without
/// control characters.
pub fn validate_name(name: &str) -> Result<String, InvalidInput> {
    let rule = |r| Err(InvalidInput::Profile(r));
    let trimmed = name.trim();
    if trimmed.len() > NAME_MAX * 4 || !(1..=NAME_MAX).contains(&trimmed.chars().count()) {
        return rule(ProfileRule::NameLength { max: NAME_MAX });
    }
    if trimmed.chars().any(is_disallowed_in_name) {
        return rule(ProfileRule::NameControlCharacter);
    }
    Ok(trimmed.to_owned())
}

/// Checks an email address and returns it trimmed: at most 254 characters, no whitespace or
/// control characters inside, exactly one `@` with a non-empty local part before it and a
/// domain of at least two non-empty dot-separated labels after it. Deliverability is not
/// checked, and the address is kept as given (not lowercased).
pub fn validate_email(email: &str) -> Result<String, InvalidInput> {
    let rule = |r| Err(InvalidInput::Profile(r));
    let trimmed = email.trim();
    if trimmed.len() > EMAIL_MAX * 4 || trimmed.chars().count() > EMAIL_MAX {
        return rule(ProfileRule::EmailTooLong { max: EMAIL_MAX });
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return rule(ProfileRule::EmailCharacter);
    }
    let well_formed = match trimmed.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && domain.split('.').all(|label| !label.is_empty())
        }
        None => false,
    };
    if !well_formed {
        return rule(ProfileRule::EmailFormat);
    }
    Ok(trimmed.to_owned())
}

/// Checks every field an update sets and returns it with names and addresses trimmed.
pub(crate) fn admit_update(update: &ProfileUpdate) -> Result<ProfileUpdate, InvalidInput> {
    let check = |field: &Option<Option<String>>, validate: fn(&str) -> Result<String, _>| {
        field
            .as_ref()
            .map(|v| v.as_deref().map(validate).transpose())
            .transpose()
    };
    Ok(ProfileUpdate {
        name: check(&update.name, validate_name)?,
        email: check(&update.email, validate_email)?,
        email_verified: update.email_verified,
    })
}

/// The names of the fields that differ between `before` and `after`, in a fixed order.
fn changed_fields(before: &Profile, after: &Profile) -> Vec<&'static str> {
    [
        ("name", before.name != after.name),
        ("email", before.email != after.email),
        (
            "email_verified",
            before.email_verified != after.email_verified,
        ),
    ]
    .into_iter()
    .filter_map(|(field, changed)| changed.then_some(field))
    .collect()
}

/// An admitted update (see [`admit_update`]) of the account's profile. A different email
/// address is unverified unless the update sets `email_verified`; a verified flag without an
/// address is refused. When nothing changes, nothing is committed and `updated_at` stays;
/// otherwise `updated_at` becomes now and one audit event names the changed fields (not their
/// values).
pub(crate) fn update_profile(
    read: &Record,
    mut account: StoredAccount,
    update: &ProfileUpdate,
    acting: Acting<'_>,
) -> Result<Plan<Account>> {
    let before = account.profile.clone();
    let profile = &mut account.profile;
    if let Some(name) = &update.name {
        profile.name.clone_from(name);
    }
    if let Some(email) = &update.email {
        if *email != profile.email {
            profile.email.clone_from(email);
            profile.email_verified = false;
        }
    }
    if let Some(verified) = update.email_verified {
        profile.email_verified = verified;
    }
    if profile.email_verified && profile.email.is_none() {
        return Err(InvalidInput::Profile(ProfileRule::VerifiedWithoutEmail).into());
    }
    let fields = changed_fields(&before, profile);
    if fields.is_empty() {
        return Ok(unchanged(&account));
    }
    profile.updated_at = Some(acting.now);
    let audit = acting
        .audit(AuditKind::AccountProfileUpdated, &account.id)
        .detail("fields", fields.join(","));
    updated(read, &account, vec![], audit)
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Updates an account's profile (admins): name, email address and whether it is verified.
    /// Fails with [`InvalidInput::Profile`] when a field breaks its rule. An update that
    /// changes nothing writes nothing and keeps `updated_at`.
    pub async fn update_profile(
        &self,
        caller: Caller<'_>,
        id: &str,
        update: &ProfileUpdate,
    ) -> Result<Account> {
        let now = self.now();
        self.check(caller, Action::UpdateProfile { account: id }, now)?;
        let update = admit_update(update)?;
        self.decide_on_account(id, |read, account| {
            update_profile(read, account, &update, acting(self, caller.audit_id(), now))
        })
        .await
    }

    /// Sets (or, with `None`, clears) the caller's own display name. Needs a login session
    /// (not an API or OAuth token).
    pub async fn set_own_name(&self, principal: &Principal, name: Option<&str>) -> Result<Account> {
        let now = self.now();
        self.check(Caller::Principal(principal), Action::ChangeOwnName, now)?;
        let update = admit_update(&ProfileUpdate {
            name: Some(name.map(str::to_owned)),
            ..ProfileUpdate::default()
        })?;
        let actor = Some(principal.account_id.as_str());
        self.decide_on_account(&principal.account_id, |read, account| {
            update_profile(read, account, &update, acting(self, actor, now))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{account_record, AccountKind};
    use crate::config::Config;
    use crate::secret::MasterKey;
    use crate::store::{RecordKind, Write};

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);
    const EARLIER: Timestamp = Timestamp::from_millis(7);

    fn config() -> Config {
        Config::new(MasterKey::from_bytes([7; 32]))
    }

    fn acting(config: &Config) -> Acting<'_> {
        Acting {
            actor: Some("acc_admin"),
            now: NOW,
            cutoff: NOW,
            config,
        }
    }

    fn account(profile: Profile) -> StoredAccount {
        StoredAccount {
            profile,
            ..crate::fixtures::stored_account("acc_1", AccountKind::Human, &[])
        }
    }

    fn read(account: &StoredAccount) -> Record {
        Record {
            version: 4,
            ..account_record(account).expect("record")
        }
    }

    fn profile(name: Option<&str>, email: Option<&str>, verified: bool) -> Profile {
        Profile {
            name: name.map(str::to_owned),
            email: email.map(str::to_owned),
            email_verified: verified,
            updated_at: Some(EARLIER),
        }
    }

    fn invalid(rule: ProfileRule) -> Result<String, InvalidInput> {
        Err(InvalidInput::Profile(rule))
    }

    #[test]
    fn names_are_trimmed_and_bounded_without_control_characters() {
        let length = invalid(ProfileRule::NameLength { max: 128 });
        let control = invalid(ProfileRule::NameControlCharacter);
        let long = "é".repeat(128);
        let cases = [
            ("Alice Example", Ok("Alice Example".to_owned())),
            ("  Zoë  \t", Ok("Zoë".to_owned())),
            ("x", Ok("x".to_owned())),
            (long.as_str(), Ok(long.clone())),
            (&format!("{long}é"), length.clone()),
            (&"a".repeat(1 << 16), length.clone()),
            ("", length.clone()),
            ("   ", length.clone()),
            ("a\u{0}b", control.clone()),
            ("line\nbreak", control.clone()),
            ("a\u{7f}", control.clone()),
            ("evil\u{202E}gnp.exe", control.clone()),
            ("\u{2066}x", control),
        ];
        for (input, want) in cases {
            assert_eq!(validate_name(input), want, "{input:?}");
        }
    }

    #[test]
    fn emails_need_one_at_a_local_part_and_a_dotted_domain() {
        let format = invalid(ProfileRule::EmailFormat);
        let character = invalid(ProfileRule::EmailCharacter);
        let too_long = invalid(ProfileRule::EmailTooLong { max: 254 });
        let longest = format!("{}@example.org", "a".repeat(254 - 12));
        let cases = [
            ("alice@example.org", Ok("alice@example.org".to_owned())),
            (
                " Alice.B+tag@Mail.Example.ORG ",
                Ok("Alice.B+tag@Mail.Example.ORG".to_owned()),
            ),
            (longest.as_str(), Ok(longest.clone())),
            (&format!("a{longest}"), too_long.clone()),
            (&"a".repeat(1 << 16), too_long),
            ("alice", format.clone()),
            ("", format.clone()),
            ("@example.org", format.clone()),
            ("alice@", format.clone()),
            ("alice@localhost", format.clone()),
            ("alice@@example.org", format.clone()),
            ("a@b@example.org", format.clone()),
            ("alice@.example.org", format.clone()),
            ("alice@example.org.", format.clone()),
            ("alice@example..org", format),
            ("ali ce@example.org", character.clone()),
            ("alice@exa\tmple.org", character.clone()),
            ("alice@example.org\u{0}", character.clone()),
            ("alice\u{a0}@example.org", character),
        ];
        for (input, want) in cases {
            assert_eq!(validate_email(input), want, "{input:?}");
        }
    }

    #[test]
    fn admission_checks_and_trims_only_the_fields_set() {
        let update = ProfileUpdate {
            name: Some(Some(" Bob ".into())),
            email: Some(None),
            email_verified: Some(false),
        };
        assert_eq!(
            admit_update(&update),
            Ok(ProfileUpdate {
                name: Some(Some("Bob".into())),
                ..update
            })
        );
        assert_eq!(
            admit_update(&ProfileUpdate::default()),
            Ok(ProfileUpdate::default())
        );
        assert_eq!(
            admit_update(&ProfileUpdate::default().with_email("nope")),
            Err(InvalidInput::Profile(ProfileRule::EmailFormat))
        );
        assert_eq!(
            admit_update(&ProfileUpdate::default().with_name("")),
            Err(InvalidInput::Profile(ProfileRule::NameLength { max: 128 }))
        );
        assert!(ProfileUpdate::default().is_empty());
        assert!(!ProfileUpdate::default()
            .with_email_verified(false)
            .is_empty());
    }

    #[test]
    fn updates_change_fields_reset_verification_and_stamp_the_time() {
        let config = config();
        let a = "a@example.org";
        let b = "b@example.org";
        // (stored profile, update, profile after, changed fields)
        let cases = [
            (
                Profile::default(),
                ProfileUpdate::default().with_name("Ann"),
                profile(Some("Ann"), None, false),
                "name",
            ),
            (
                profile(Some("Ann"), Some(a), true),
                ProfileUpdate {
                    name: Some(None),
                    ..ProfileUpdate::default()
                },
                profile(None, Some(a), true),
                "name",
            ),
            // A new address is unverified...
            (
                profile(None, Some(a), true),
                ProfileUpdate::default().with_email(b),
                profile(None, Some(b), false),
                "email,email_verified",
            ),
            // ...unless the same update says it is.
            (
                profile(None, Some(a), false),
                ProfileUpdate::default()
                    .with_email(b)
                    .with_email_verified(true),
                profile(None, Some(b), true),
                "email,email_verified",
            ),
            (
                profile(None, Some(a), true),
                ProfileUpdate::default()
                    .with_email(b)
                    .with_email_verified(true),
                profile(None, Some(b), true),
                "email",
            ),
            (
                profile(None, None, false),
                ProfileUpdate::default().with_email(a),
                profile(None, Some(a), false),
                "email",
            ),
            // Verifying the current address.
            (
                profile(None, Some(a), false),
                ProfileUpdate::default().with_email_verified(true),
                profile(None, Some(a), true),
                "email_verified",
            ),
            (
                profile(Some("Ann"), Some(a), true),
                ProfileUpdate {
                    email: Some(None),
                    ..ProfileUpdate::default()
                },
                profile(Some("Ann"), None, false),
                "email,email_verified",
            ),
            (
                profile(Some("Ann"), Some(a), true),
                ProfileUpdate::default()
                    .with_name("Bea")
                    .with_email(b)
                    .with_email_verified(false),
                profile(Some("Bea"), Some(b), false),
                "name,email,email_verified",
            ),
        ];
        for (before, update, after, fields) in cases {
            let stored = account(before.clone());
            let plan =
                update_profile(&read(&stored), stored, &update, acting(&config)).expect("plan");
            let [Write::Update {
                record,
                expected_version: 4,
            }] = plan.commit.writes.as_slice()
            else {
                panic!("one account update: {:?}", plan.commit.writes);
            };
            assert_eq!(record.kind, RecordKind::Account);
            let written: StoredAccount =
                crate::record_body::from_body(&record.body).expect("account");
            let want = Profile {
                updated_at: Some(NOW),
                ..after
            };
            assert_eq!(written.profile, want, "{before:?} {update:?}");
            assert_eq!(
                StoredAccount {
                    profile: before.clone(),
                    ..written.clone()
                },
                account(before),
                "only the profile changes"
            );
            assert_eq!(plan.output, written.view());
            assert_eq!(plan.output.profile, want);
            assert!(plan.commit.revocations.is_empty());
            let [event] = plan.commit.audit.as_slice() else {
                panic!("one audit event");
            };
            assert_eq!(event.kind, AuditKind::AccountProfileUpdated);
            assert_eq!(
                (event.actor.as_deref(), event.account.as_deref(), event.at),
                (Some("acc_admin"), Some("acc_1"), NOW)
            );
            assert_eq!(event.detail.len(), 1, "no values, only field names");
            assert_eq!(event.detail["fields"], fields);
        }
    }

    #[test]
    fn an_update_that_changes_nothing_commits_nothing_and_keeps_the_time() {
        let config = config();
        let a = "a@example.org";
        let cases = [
            (Profile::default(), ProfileUpdate::default()),
            (
                Profile::default(),
                ProfileUpdate {
                    name: Some(None),
                    email: Some(None),
                    email_verified: Some(false),
                },
            ),
            (
                profile(Some("Ann"), Some(a), true),
                ProfileUpdate::default().with_name("Ann").with_email(a),
            ),
            (
                profile(Some("Ann"), Some(a), true),
                ProfileUpdate::default().with_email_verified(true),
            ),
        ];
        for (before, update) in cases {
            let stored = account(before.clone());
            let plan =
                update_profile(&read(&stored), stored, &update, acting(&config)).expect("plan");
            assert_eq!(plan.commit, crate::store::Commit::default(), "{update:?}");
            assert_eq!(plan.output.profile, before);
        }
    }

    #[test]
    fn a_verified_flag_needs_an_address() {
        let config = config();
        let refused = [
            (
                Profile::default(),
                ProfileUpdate::default().with_email_verified(true),
            ),
            (
                profile(None, Some("a@example.org"), true),
                ProfileUpdate {
                    email: Some(None),
                    email_verified: Some(true),
                    ..ProfileUpdate::default()
                },
            ),
        ];
        for (before, update) in refused {
            let stored = account(before);
            let got = update_profile(&read(&stored), stored, &update, acting(&config));
            assert!(
                matches!(
                    got,
                    Err(crate::Error::Invalid(InvalidInput::Profile(
                        ProfileRule::VerifiedWithoutEmail
                    )))
                ),
                "{got:?}"
            );
        }
    }

    #[test]
    fn records_written_before_profiles_existed_still_load() {
        let old = serde_json::json!({
            "id": "acc_1",
            "username": "alice",
            "kind": "human",
            "roles": ["staff"],
            "disabled": false,
            "created_at": Timestamp::from_millis(5),
            "password_hash": "$argon2id$old",
            "totp": null,
        });
        let loaded: StoredAccount =
            crate::record_body::from_body(&old.to_string()).expect("an old account loads");
        assert_eq!(loaded.profile, Profile::default());
        assert_eq!(loaded.view().profile, Profile::default());
        assert_eq!(loaded.username, "alice");
        // A profile round-trips through the stored form.
        let with = account(profile(Some("Ann"), Some("a@example.org"), true));
        let body = crate::record_body::to_body(&with).expect("body");
        let back: StoredAccount = crate::record_body::from_body(&body).expect("account");
        assert_eq!(back, with);
    }
}
