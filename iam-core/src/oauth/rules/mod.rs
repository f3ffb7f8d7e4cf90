//! The authorization server's rules as pure functions (see [`crate::plan`]): each OAuth
//! operation of [`crate::Iam`] loads records, calls one decision here, and commits its plan.
//!
//! Nothing here touches a store, the clock, randomness or a signing key: fresh ids and
//! secrets, the comparison of a presented client secret with the stored hashes, and the
//! revocation cache's cut-offs come in as inputs; access tokens leave as claims for the
//! caller to sign. A protocol refusal is an [`Answer`] inside the plan, because some
//! refusals still commit (a replayed code or refresh token revokes the grant it hits).
//!
//! - [`authorize`]: the authorization endpoint (checking the request, login, consent, codes).
//! - [`consent`]: recording and withdrawing an account's consent to a client.
//! - [`clients`]: client authentication and the client registry.
//! - [`device`]: starting, showing and settling device authorizations.
//! - [`token`]: the token endpoint's grants.
//! - [`revoke`]: token revocation (RFC 7009).
//! - [`introspect`]: token introspection (RFC 7662).

pub(crate) mod authorize;
pub(crate) mod clients;
pub(crate) mod consent;
pub(crate) mod device;
pub(crate) mod introspect;
pub(crate) mod revoke;
pub(crate) mod token;

#[cfg(test)]
pub(crate) mod fixtures;

use std::collections::BTreeSet;

use crate::account::StoredAccount;
use crate::audit::AuditDraft;
use crate::clock::Timestamp;
use crate::error::Result;
use crate::oauth::client::StoredClient;
use crate::oauth::grant::StoredFamily;
use crate::oauth::{OAuthClient, OAuthError};
use crate::plan::Plan;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::secret::SecretString;
use crate::store::{Commit, Record, RecordKind, Write};

/// A protocol answer: `Err` is the OAuth refusal the client hears.
pub(crate) type Answer<T> = std::result::Result<T, OAuthError>;

/// A fresh opaque secret drawn in the load step (a code, refresh token, device code or client
/// secret), with its keyed hash.
#[derive(Debug)]
pub(crate) struct NewSecret {
    /// The secret, handed out once.
    pub secret: SecretString,
    /// Its keyed hash: the record id, or what the client record keeps.
    pub hash: String,
}

/// A read precondition: the commit fails (and the operation runs again) if `record` changed
/// since it was read.
pub(crate) fn unchanged(record: &Record) -> Write {
    Write::Check {
        kind: record.kind,
        id: record.id.clone(),
        expected_version: record.version,
    }
}

/// Whether `account` holds `scope` now in the sense of a user's own client: a role it has,
/// or one of OpenID's standard scopes.
pub(crate) fn holds_scope(account: &StoredAccount, scope: &str) -> bool {
    account.roles.contains(scope) || crate::authz::STANDARD_SCOPES.contains(&scope)
}

/// The scopes a token of `client` for `account` carries out of `granted`: all of them,
/// except that a client registered by a non-admin gets only those naming roles the
/// account holds now (and OpenID's standard scopes).
pub(crate) fn token_scopes(
    client: &OAuthClient,
    account: &StoredAccount,
    granted: &BTreeSet<String>,
) -> BTreeSet<String> {
    granted
        .iter()
        .filter(|s| !client.owner_scoped || holds_scope(account, s))
        .cloned()
        .collect()
}

/// The stored record of a client.
pub(crate) fn client_record(client: &StoredClient) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::OAuthClient,
        id: client.info.id.clone(),
        version: 0,
        parent: client.info.owner.clone(),
        lookup: None,
        expires_at: None,
        body: crate::record_body::to_body(client)?,
    })
}

/// The stored record of a token family.
pub(crate) fn family_record(family: &StoredFamily) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::OAuthFamily,
        id: family.id.clone(),
        version: 0,
        parent: Some(family.client_id.clone()),
        lookup: None,
        expires_at: Some(family.expires_at),
        body: crate::record_body::to_body(family)?,
    })
}

/// The revocation that voids every access token of `family` at once.
pub(crate) fn family_revocation(family: &StoredFamily) -> RevocationChange {
    RevocationChange::Put(Revocation {
        subject: RevokedSubject::Grant,
        id: family.id.clone(),
        issued_before: Timestamp::MAX,
        until: family.expires_at,
    })
}

/// Adds to `commit` what revoking `family` (read as `record`) takes; nothing if it is
/// already revoked. Returns whether it was live.
pub(crate) fn revoke_family_into(
    commit: &mut Commit,
    record: &Record,
    mut family: StoredFamily,
    now: Timestamp,
) -> Result<bool> {
    if family.revoked_at.is_some() {
        return Ok(false);
    }
    family.revoked_at = Some(now);
    commit.revocations.push(family_revocation(&family));
    commit.writes.push(Write::Update {
        record: family_record(&family)?,
        expected_version: record.version,
    });
    Ok(true)
}

/// Revokes, into `commit`, each family in `families` that belongs to `account` (every one
/// when `None`) and is live at `now`. Returns how many it revoked.
pub(crate) fn revoke_live_families(
    commit: &mut Commit,
    families: Vec<(Record, StoredFamily)>,
    account: Option<&str>,
    now: Timestamp,
) -> Result<usize> {
    let mut revoked = 0;
    for (record, family) in families {
        if account.is_none_or(|a| family.account_id == a)
            && family.is_live(now)
            && revoke_family_into(commit, &record, family, now)?
        {
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// The plan that ends a revocation of families: `commit` with `audit`, which notes how many
/// families were revoked (`families_revoked`); the output is that count.
pub(crate) fn families_revoked(
    mut commit: Commit,
    audit: AuditDraft,
    revoked: usize,
) -> Plan<usize> {
    commit
        .audit
        .push(audit.detail("families_revoked", revoked.to_string()));
    Plan {
        commit,
        output: revoked,
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{account, family, record_of};
    use super::*;

    #[test]
    fn live_families_of_the_account_are_revoked_once() {
        let now = Timestamp::from_secs(1_000);
        // (family account, revoked, expires at, account filter, revoked?)
        let cases = [
            ("acc_a", false, 5_000, Some("acc_a"), true),
            ("acc_b", false, 5_000, Some("acc_a"), false),
            ("acc_a", true, 5_000, Some("acc_a"), false),
            ("acc_a", false, 1_000, Some("acc_a"), false),
            ("acc_b", false, 5_000, None, true),
        ];
        for (owner, revoked, expires, filter, expect) in cases {
            let mut f = family("ofm_1", "cli_1", owner);
            f.revoked_at = revoked.then(|| Timestamp::from_secs(10));
            f.expires_at = Timestamp::from_secs(expires);
            let mut commit = Commit::default();
            let n = revoke_live_families(&mut commit, vec![(record_of(&f, 4), f)], filter, now)
                .expect("plan");
            assert_eq!(n, usize::from(expect), "{owner} {revoked} {expires}");
            assert_eq!(commit.revocations.len(), usize::from(expect));
            match commit.writes.as_slice() {
                [] => assert!(!expect),
                [Write::Update {
                    record,
                    expected_version: 4,
                }] => {
                    let stored: StoredFamily =
                        crate::record_body::from_body(&record.body).expect("body");
                    assert_eq!(stored.revoked_at, Some(now));
                    assert!(expect);
                }
                other => panic!("unexpected writes {other:?}"),
            }
        }
    }

    #[test]
    fn owner_scoped_clients_get_only_scopes_the_account_holds() {
        let mut holder = account("acc_a");
        holder.roles.insert("billing".into());
        let granted: BTreeSet<String> = ["billing", "openid", "ops"]
            .into_iter()
            .map(String::from)
            .collect();
        let mut c = super::fixtures::client("cli_1").info;
        assert_eq!(token_scopes(&c, &holder, &granted), granted);
        c.owner_scoped = true;
        let kept: Vec<_> = token_scopes(&c, &holder, &granted).into_iter().collect();
        assert_eq!(kept, ["billing", "openid"]);
    }
}
